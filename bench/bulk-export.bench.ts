/**
 * Bulk export benchmark (run on demand: `node bench/bulk-export.bench.ts`): NDJSON throughput of
 * the export engine (fhir/bulk-export.ts: repository searches page by page with the caller's
 * access, one file per type) against a raw driver cursor writing the stored JSON text of the same
 * resources, on the same data in the same run. Uses the embedded FerretDB unless MONGODB_URL is
 * set. BENCH_EXPORT_SIZES (comma-separated, default "1000,4000") sets the Observation counts.
 */
import { mkdtemp, open, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Resource } from '@medplum/fhirtypes';
import { startEmbeddedDb } from '../store/embedded-db.ts';
import { connectDatabase } from '../store/db.ts';
import { Repository } from '../store/repository.ts';
import { systemContext, type RequestContext } from '../store/request-context.ts';
import { parseScopes } from '../store/access.ts';
import { loadFhirDefinitions } from '../schema/fhir-definitions.ts';
import { EXPORT_LEVEL, parseExportRequest, planExport, runExport } from '../fhir/bulk-export.ts';
import { ExportFiles } from '../fhir/export-files.ts';

const SIZES = (process.env.BENCH_EXPORT_SIZES ?? '1000,4000').split(',').map(Number).filter((n) => n > 0);
const PATIENTS = 50;
const ROUNDS = 5;

loadFhirDefinitions();
const dataDir = await mkdtemp(path.join(tmpdir(), 'idr-bench-export-'));
const embedded = process.env.MONGODB_URL ? undefined : await startEmbeddedDb({ dataDir: path.join(dataDir, 'db'), ...(process.env.IDR_CACHE_DIR ? { cacheDir: process.env.IDR_CACHE_DIR } : {}) });
const database = await connectDatabase(process.env.MONGODB_URL ?? (embedded?.url as string), `idr_bench_export_${randomBytes(4).toString('hex')}`);
const caller = (role: string, scope: string, restrictedNeedsBreakGlass: boolean): RequestContext => ({
  actor: `bench-${role}`,
  purpose: 'research',
  requestId: `bench-${role}`,
  access: { principal: { subject: `bench-${role}`, issuer: '', role }, unrestricted: false, scopes: parseScopes(scope), restrictedNeedsBreakGlass },
});
const callers = [
  { label: 'export, system client (system/*.rs)', ctx: caller('admin', 'system/*.rs', false) },
  { label: 'export, clinician (user/*.rs, restricted check)', ctx: caller('clinician', 'user/*.rs', true) },
];

/** The raw baseline: one driver cursor over the type, the stored JSON text written line by line. */
async function rawExport(file: string): Promise<{ count: number; bytes: number }> {
  const fh = await open(file, 'wx', 0o600);
  let count = 0;
  let bytes = 0;
  let buffer: string[] = [];
  const flush = async (): Promise<void> => {
    const text = buffer.join('');
    bytes += Buffer.byteLength(text);
    await fh.write(text);
    buffer = [];
  };
  try {
    for await (const doc of database.c.resources.find({ rt: 'Observation', deleted: false }, { projection: { json: 1 } }).batchSize(1000)) {
      buffer.push(`${doc.json}\n`);
      count++;
      if (buffer.length >= 1000) await flush();
    }
    await flush();
  } finally {
    await fh.close();
  }
  return { count, bytes };
}

const row = (label: string, n: number, ms: number, extra = ''): string => `| ${label.padEnd(50)} | ${String(n).padStart(6)} | ${ms.toFixed(0).padStart(6)} ms | ${((n / ms) * 1000).toFixed(0).padStart(7)} /s | ${extra.padEnd(44)} |`;

try {
  const repo = new Repository(database);
  const system = systemContext('bench');
  for (let p = 0; p < PATIENTS; p++) await repo.create(system, { resourceType: 'Patient', name: [{ family: `Export${p}` }] } as Resource, { id: `bx${p}` });
  let written = 0;
  process.stdout.write(`Bulk export benchmark — Observations over ${PATIENTS} patients, best of ${ROUNDS}, Node ${process.version}, ${embedded ? 'embedded FerretDB 1.24 on PostgreSQL' : 'MongoDB'}\n\n`);
  process.stdout.write(`| ${'path'.padEnd(50)} | ${'res.'.padStart(6)} | ${'time'.padStart(9)} | ${'rate'.padStart(9)} | ${'vs raw / heap'.padEnd(44)} |\n|${'-'.repeat(52)}|${'-'.repeat(8)}|${'-'.repeat(11)}|${'-'.repeat(11)}|${'-'.repeat(46)}|\n`);
  for (const size of SIZES) {
    for (; written < size; written += 20) {
      await Promise.all(Array.from({ length: Math.min(20, size - written) }, (_, j) => {
        const i = written + j;
        return repo.create(system, {
          resourceType: 'Observation',
          status: 'final',
          category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'laboratory' }] }],
          code: { coding: [{ system: 'http://loinc.org', code: '2345-7', display: 'Glucose [Mass/volume] in Serum or Plasma' }] },
          subject: { reference: `Patient/bx${i % PATIENTS}` },
          effectiveDateTime: new Date(Date.UTC(2024, 0, 1) + i * 60_000).toISOString(),
          valueQuantity: { value: 4 + (i % 40) / 10, unit: 'mmol/L', system: 'http://unitsofmeasure.org', code: 'mmol/L' },
          referenceRange: [{ low: { value: 3.9, unit: 'mmol/L' }, high: { value: 5.6, unit: 'mmol/L' } }],
        } as Resource);
      }));
    }
    const files = new ExportFiles(path.join(dataDir, `exports-${size}`), 1);
    // Rounds interleave the paths, so a busy machine slows them alike; the best round counts.
    const best = new Map<string, number>();
    const heap = new Map<string, { peak: number; retained: number }>();
    let raw = { count: 0, bytes: 0 };
    for (let r = 0; r < ROUNDS; r++) {
      let t = performance.now();
      raw = await rawExport(path.join(dataDir, `raw-${size}-${r}.ndjson`));
      best.set('raw', Math.min(best.get('raw') ?? Infinity, performance.now() - t));
      for (const { label, ctx } of callers) {
        const jobId = `${ctx.actor}-${size}-${r}`;
        const plan = await planExport(repo, ctx, parseExportRequest(EXPORT_LEVEL.system, new URLSearchParams({ _type: 'Observation' })));
        await files.create(jobId);
        global.gc?.();
        const before = process.memoryUsage().heapUsed;
        let peak = before;
        const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().heapUsed)), 10);
        t = performance.now();
        const result = await runExport({ repo, files, jobId, fileUrl: (n) => n, signal: new AbortController().signal, progress: () => undefined, transactionTime: new Date() }, ctx, plan);
        best.set(label, Math.min(best.get(label) ?? Infinity, performance.now() - t));
        clearInterval(sampler);
        global.gc?.();
        const h = heap.get(label) ?? { peak: 0, retained: 0 };
        heap.set(label, { peak: Math.max(h.peak, peak - before), retained: Math.max(h.retained, process.memoryUsage().heapUsed - before) });
        const lines = (await readFile(files.filePath(jobId, 'Observation.ndjson') as string, 'utf8')).split('\n').filter(Boolean).length;
        if (lines !== raw.count || result.output[0]?.count !== raw.count) throw new Error(`${label}: exported ${lines} lines (manifest ${result.output[0]?.count}), raw ${raw.count}`);
      }
    }
    const rawMs = best.get('raw') as number;
    process.stdout.write(`${row('raw driver cursor → NDJSON', raw.count, rawMs, `${(raw.bytes / 1e6).toFixed(1)} MB`)}\n`);
    for (const { label } of callers) {
      const ms = best.get(label) as number;
      const h = heap.get(label) ?? { peak: 0, retained: 0 };
      process.stdout.write(`${row(label, raw.count, ms, `${(rawMs / ms).toFixed(2)} of raw; heap +${(h.peak / 1e6).toFixed(0)} MB peak, +${(h.retained / 1e6).toFixed(1)} MB kept`)}\n`);
    }
  }
} finally {
  await database.db.dropDatabase().catch(() => undefined);
  await database.close();
  await embedded?.stop();
  await rm(dataDir, { recursive: true, force: true });
}
