/**
 * Access audit benchmark (run on demand: `node bench/audit-trail.bench.ts`): how fast requests can
 * record their access (record(): durable buffer, group commit) and how fast the background chainer
 * turns buffered records into hash-chained AuditEvents. Uses the embedded FerretDB unless
 * MONGODB_URL is set.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { startEmbeddedDb } from '../store/embedded-db.ts';
import { connectDatabase } from '../store/db.ts';
import { Repository } from '../store/repository.ts';
import { systemContext } from '../store/request-context.ts';
import { AuditTrail, type AccessRecord } from '../store/audit-trail.ts';

const RECORDS = 2000;
const CONCURRENCY = 100;
const silent = { info: () => undefined, warn: () => undefined, error: () => undefined };

const dataDir = process.env.MONGODB_URL ? undefined : await mkdtemp(path.join(tmpdir(), 'idr-bench-audit-'));
const embedded = dataDir ? await startEmbeddedDb({ dataDir, ...(process.env.IDR_CACHE_DIR ? { cacheDir: process.env.IDR_CACHE_DIR } : {}) }) : undefined;
const database = await connectDatabase(process.env.MONGODB_URL ?? (embedded?.url as string), `idr_bench_audit_${randomBytes(4).toString('hex')}`);
try {
  const repo = new Repository(database);
  const ctx = systemContext('bench');
  for (let p = 0; p < 20; p++) await repo.create(ctx, { resourceType: 'Patient', name: [{ family: `Bench${p}` }] }, { id: `bp${p}` });
  const record = (i: number): AccessRecord => ({
    time: new Date(),
    requestId: `bench-${i}`,
    agent: { subject: `user-${i % 25}`, issuer: 'https://login.example/realms/idr', role: 'clinician', client: 'viewer', address: '10.0.0.7' },
    purpose: 'treatment',
    interaction: i % 3 ? 'read' : 'search',
    action: 'R',
    outcome: 'success',
    status: 200,
    patients: [`bp${i % 20}`],
    resources: [`Patient/bp${i % 20}`],
    types: ['Patient'],
    ...(i % 3 ? {} : { query: `/fhir/Patient?name=bench${i % 20}` }),
  });
  const trail = new AuditTrail({ database, logger: silent });
  let t = performance.now();
  for (let i = 0; i < RECORDS; i += CONCURRENCY) await Promise.all(Array.from({ length: CONCURRENCY }, (_, j) => trail.record(record(i + j))));
  const recordMs = performance.now() - t;
  t = performance.now();
  await trail.flush();
  const chainMs = performance.now() - t;
  t = performance.now();
  const verified = await trail.verify();
  const verifyMs = performance.now() - t;
  const row = (label: string, n: number, ms: number): string => `| ${label.padEnd(52)} | ${String(n).padStart(6)} | ${ms.toFixed(0).padStart(7)} ms | ${((n / ms) * 1000).toFixed(0).padStart(7)} /s |`;
  process.stdout.write(`${row(`record() (${CONCURRENCY} concurrent, ${trail.insertCalls} inserts)`, RECORDS, recordMs)}\n`);
  process.stdout.write(`${row('chaining into AuditEvents', RECORDS, chainMs)}\n`);
  process.stdout.write(`${row(`verify() (${verified.ok ? 'intact' : 'BROKEN'})`, verified.checked, verifyMs)}\n`);
} finally {
  await database.db.dropDatabase().catch(() => undefined);
  await database.close();
  await embedded?.stop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
}
