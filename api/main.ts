import { loadConfig } from './config.ts';
import { startServer } from './server.ts';
import type { Config } from './config.ts';
import { DEMO_APP_CLIENT_ID, DEMO_PASSWORD, DEMO_USERS } from './auth/provider.ts';

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
  const lines = [
    `IDR is running (${server.services.embedded ? `embedded database, FerretDB on PostgreSQL; data in ${config.IDR_DATA_DIR}` : 'MongoDB at MONGODB_URL'})`,
    `  Start page           ${server.url}/`,
    `  Web page             ${server.url}/app/ (clinicians and tumour boards; sign in)`,
    `  FHIR R4 API          ${server.url}/fhir`,
    `  CapabilityStatement  ${server.url}/fhir/metadata`,
    `  Patients             ${server.url}/fhir/Patient`,
    `  GraphQL              ${server.url}/graphql${config.NODE_ENV === 'development' ? ' (GraphiQL in the browser)' : ''}`,
    `  HL7 v2 over HTTP     POST ${server.url}/ingest/hl7v2`,
    ...(server.mllpPort !== undefined ? [`  HL7 v2 over MLLP     ${config.IDR_MLLP_HOST}:${server.mllpPort}`] : []),
    `  DICOM / DICOMweb     POST ${server.url}/ingest/dicom   POST ${server.url}/ingest/dicomweb`,
    `  Documents            POST ${server.url}/ingest/documents`,
    `  Inbox                ${server.url}/ingest/messages`,
    `  Health               ${server.url}/healthz  ${server.url}/readyz`,
    `  Imaging viewer       ${config.IDR_VIEWER_URL_TEMPLATE ?? 'none configured (IDR_VIEWER_URL_TEMPLATE): studies have no viewer links; their WADO-RS URL is given when they came from a PACS'}`,
    ...signInLines(config, server.url, server.security.verifier.issuer),
    'Press Ctrl+C to stop.',
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  // SIGTERM / SIGINT: stop accepting, let in-flight work finish (bounded), close the database.
  // A second signal while stopping exits at once (what is left is recovered at the next start).
  let stopping = false;
  const stop = async (signal: string): Promise<void> => {
    if (stopping) {
      logger.warn({ signal }, 'second signal while stopping: exiting now');
      process.exit(1);
    }
    stopping = true;
    logger.info({ signal }, 'stopping: finishing in-flight work');
    try {
      await server.close();
    } catch (err) {
      logger.error({ err }, 'error while stopping');
      process.exit(1);
    }
    logger.info('stopped');
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
  if (demo) {
    // A demo store an older IDR wrote is small: bring it to the current shape before loading (a
    // hospital's store is reindexed by hand, `make reindex`, with the service stopped).
    const { reindexResources, STORE_SHAPE_VERSION, storedShapeVersion } = await import('../store/reindex.ts');
    if ((await storedShapeVersion(server.services.database)) < STORE_SHAPE_VERSION) {
      process.stdout.write('The demo store was written by an older IDR: re-deriving its search values...\n');
      const r = await reindexResources(server.services.database);
      process.stdout.write(`  ${r.changed} of ${r.total} resources re-derived\n`);
      // What case summaries kept was found through the old search values.
      await server.services.timeline.summaryReads.clear();
    }
    // The server answers while the demo data loads; progress goes to stdout.
    const { loadDemoData } = await import('../seed/load-demo.ts');
    process.stdout.write('Loading demo data through the ingestion pipeline (a second start finds it all as duplicates)...\n');
    let lastTenth = -1;
    const summary = await loadDemoData(server.services, {
      onProgress: (done, total) => {
        const tenth = Math.floor((done / total) * 10);
        if (tenth !== lastTenth) process.stdout.write(`  demo data: ${done}/${total}\n`);
        lastTenth = tenth;
      },
    }).catch((err: unknown) => {
      // Stopping during the load is fine: what is left is loaded at the next start.
      if (stopping) return undefined;
      throw err;
    });
    if (!summary) return;
    process.stdout.write(`Demo data loaded: ${summary.processed} written, ${summary.duplicate} already present, ${summary.failed} failed.\n`);
    for (const f of summary.failures) process.stdout.write(`  FAILED ${f}\n`);
    process.stdout.write(`Tumour board: Group/tumour-board-breast, next meeting Appointment/demo-breast-mdt with its cases (GET ${server.url}/fhir/Task?based-on=Appointment/demo-breast-mdt; prepare one with POST /fhir/Task/{id}/$prepare)\n`);
    logger.info({ processed: summary.processed, duplicate: summary.duplicate, failed: summary.failed }, 'demo data loaded');
  }
}

/** How to get a token: the demo accounts (make demo) or the configured issuer. */
function signInLines(config: Config, url: string, issuer: string): string[] {
  const lines = [`Every API call needs a bearer token (OAuth 2.0); SMART discovery: ${url}/fhir/.well-known/smart-configuration`, `  Token issuer         ${issuer}`];
  if (!config.IDR_DEMO_AUTH) return config.IDR_OIDC_ISSUER ? lines : [...lines, '  No clients: register systems in IDR_AUTH_CLIENTS_FILE or set IDR_OIDC_ISSUER (docs/security.md)'];
  return [
    ...lines,
    `  Demo users (password "${DEMO_PASSWORD}"; sign in on the web page ${url}/app/, or through the demo app ${DEMO_APP_CLIENT_ID}, code flow + PKCE):`,
    ...DEMO_USERS.map((u) => `    ${u.username.padEnd(10)} ${u.role.padEnd(15)} ${u.name}`),
    '  A token for scripts (the demo client, every system scope):',
    `    curl -s -u '${config.IDR_DEMO_CLIENT_ID}:${config.IDR_DEMO_CLIENT_SECRET}' -d grant_type=client_credentials -d 'scope=system/*.cruds idr/ingest idr/audit' ${issuer}/token`,
  ];
}

main().catch((err: unknown) => {
  process.stderr.write(`IDR failed to start: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
