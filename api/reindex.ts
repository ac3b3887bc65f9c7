import { loadConfig } from './config.ts';
import { createLogger } from './logger.ts';
import { startServices } from './services.ts';
import { reindexResources } from '../store/reindex.ts';

/**
 * `node api/reindex.ts` (make reindex): re-derives the search values of every stored resource and
 * rebuilds every patient's timeline, after a change to the mappings or search parameters or an
 * upgrade that changed the stored shape. Progress goes to stdout; safe to run twice. Stop the
 * service first when it uses the embedded database (one process owns its files).
 */
async function main(): Promise<void> {
  const config = loadConfig();
  const services = await startServices(config, createLogger('warn'));
  try {
    const out = (line: string): boolean => process.stdout.write(`${line}\n`);
    let t = performance.now();
    const r = await reindexResources(services.database, (p) => out(`  search values: ${p.done}/${p.total} resources (${p.changed} re-derived)`));
    out(`Search values: ${r.changed} of ${r.total} resources re-derived in ${((performance.now() - t) / 1000).toFixed(1)} s.`);
    t = performance.now();
    const patients = await services.database.c.resources.find({ rt: 'Patient', deleted: false }, { projection: { id: 1 } }).toArray();
    let events = 0;
    for (const [i, p] of patients.entries()) {
      events += await services.timeline.rebuildPatient(p.id);
      if ((i + 1) % 50 === 0 || i + 1 === patients.length) out(`  timeline: ${i + 1}/${patients.length} patients`);
    }
    out(`Timeline: ${events} events for ${patients.length} patients rebuilt in ${((performance.now() - t) / 1000).toFixed(1)} s.`);
    out(`Case summary reads kept: ${await services.timeline.summaryReads.clear()} forgotten (read from the store again).`);
  } finally {
    await services.close();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`reindex failed: ${(err as Error).message}\n`);
  process.exit(1);
});
