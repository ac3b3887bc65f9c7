import { loadConfig } from './config.ts';
import { startServer } from './server.ts';

/**
 * Starts IDR: `node api/main.ts` serves the configured database; `--demo` also loads the
 * synthetic patients from seed/ through the ingestion pipeline (idempotent: a second start adds nothing).
 */
async function main(): Promise<void> {
  const demo = process.argv.includes('--demo');
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    process.exit(2);
  }
  const server = await startServer(config);
  const { logger } = server.services;
  if (demo) {
    const { loadDemoData } = await import('../seed/load-demo.ts');
    const summary = await loadDemoData(server.services);
    logger.info(summary, 'demo data loaded');
  }
  const lines = [
    `IDR is running (${server.services.embedded ? 'embedded FerretDB' : 'MongoDB'}; data in ${server.services.embedded ? config.IDR_DATA_DIR : 'MONGODB_URL'})`,
    `  FHIR R4 API        ${server.url}/fhir`,
    `  CapabilityStatement ${server.url}/fhir/metadata`,
    `  Patients           ${server.url}/fhir/Patient`,
    `  HL7 v2 over HTTP   POST ${server.url}/ingest/hl7v2   (inbox: ${server.url}/ingest/messages)`,
    ...(server.mllpPort !== undefined ? [`  HL7 v2 over MLLP   ${config.HOST}:${server.mllpPort}`] : []),
    `  Health             ${server.url}/healthz  ${server.url}/readyz`,
    'Press Ctrl+C to stop.',
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  const stop = async (signal: string): Promise<void> => {
    logger.info({ signal }, 'stopping');
    await server.close();
    process.exit(0);
  };
  process.once('SIGINT', () => void stop('SIGINT'));
  process.once('SIGTERM', () => void stop('SIGTERM'));
}

main().catch((err: unknown) => {
  process.stderr.write(`IDR failed to start: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
