/**
 * Ingestion under load with backpressure (run on demand: `make bench` or
 * `node bench/ingest-load.bench.ts [seconds=30] [readers=2]`). Four HTTP senders post HL7 v2 messages back
 * to back (each waits for its answer; on 503 it waits Retry-After and resends the same message,
 * as a sender should), while two readers search Observations and DiagnosticReports of known
 * patients (one search every 200 ms each, after the previous answer). Run twice, on a fresh
 * embedded database each: with the default queue limits, and with a tight ingestion queue
 * (1 running, 1 waiting) that makes the senders meet 503s. Prints messages/s (overall, and the
 * slowest and fastest 5-s window: a steady rate keeps them close), 503s, client timeouts (30 s)
 * and search latency p50/p95/max.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadConfig } from '../api/config.ts';
import { startServer } from '../api/server.ts';
import { seedHl7Messages } from '../seed/hl7v2/index.ts';
import { BENCH_AUTH_ENV, benchFetch } from './bench-auth.ts';

const SECONDS = Number(process.argv[2] ?? 30);
const SENDERS = 4;
const READERS = Number(process.argv[3] ?? 2);
const CLIENT_TIMEOUT_MS = 30_000;
/** A reader's pause between searches (a person paging through results, not a loop flat out). */
const READER_PAUSE_MS = 200;

interface PhaseResult {
  label: string;
  processed: number;
  busy: number;
  timeouts: number;
  otherStatus: Record<string, number>;
  ingestMs: number[];
  /** When each message was processed (ms since the run started). */
  processedAt: number[];
  searches: number;
  searchFailures: number;
  searchMs: number[];
  seconds: number;
}

const quantile = (xs: number[], q: number): number => {
  if (xs.length === 0) return Number.NaN;
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number;
};
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function phase(label: string, env: Record<string, string>, messages: string[]): Promise<PhaseResult> {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'idr-bench-load-'));
  const server = await startServer(loadConfig({ ...BENCH_AUTH_ENV, PORT: '0', IDR_MLLP_PORT: 'off', LOG_LEVEL: 'silent', IDR_DATA_DIR: dataDir, IDR_DB_NAME: `bench_load_${Date.now()}`, ...(process.env.MONGODB_URL ? { MONGODB_URL: process.env.MONGODB_URL } : {}), ...env }));
  const api = await benchFetch(server.url);
  const result: PhaseResult = { label, processed: 0, busy: 0, timeouts: 0, otherStatus: {}, ingestMs: [], processedAt: [], searches: 0, searchFailures: 0, searchMs: [], seconds: SECONDS };
  try {
    const post = (text: string): Promise<Response> =>
      api(`${server.url}/ingest/hl7v2`, { method: 'POST', headers: { 'content-type': 'x-application/hl7-v2+er7' }, body: text, signal: AbortSignal.timeout(CLIENT_TIMEOUT_MS) });
    // Warm-up: a few messages so that the readers have patients to search.
    const queue = [...messages];
    for (const m of queue.splice(0, 8)) await (await post(m)).text();
    const patients = (await (await api(`${server.url}/fhir/Patient?_count=20&_elements=id`)).json()) as { entry?: { resource: { id: string } }[] };
    const ids = (patients.entry ?? []).map((e) => e.resource.id);
    if (ids.length === 0) throw new Error('warm-up stored no patients');

    const end = Date.now() + SECONDS * 1000;
    const started = performance.now();
    const sender = async (): Promise<void> => {
      let text = queue.shift();
      while (text && Date.now() < end) {
        const t = performance.now();
        try {
          const res = await post(text);
          await res.text();
          if (res.status === 503) {
            result.busy++;
            await sleep(Number(res.headers.get('retry-after') ?? 1) * 1000);
            continue; // resend the same message
          }
          result.ingestMs.push(performance.now() - t);
          if (res.status === 201 || res.status === 200) {
            result.processed++;
            result.processedAt.push(performance.now() - started);
          }
          else result.otherStatus[res.status] = (result.otherStatus[res.status] ?? 0) + 1;
        } catch (err) {
          if ((err as Error).name === 'TimeoutError') result.timeouts++;
          else throw err;
        }
        text = queue.shift();
      }
    };
    const reader = async (n: number): Promise<void> => {
      for (let i = n; Date.now() < end; i++) {
        const id = ids[i % ids.length] as string;
        const q = i % 2 === 0 ? `Observation?subject=Patient/${id}&_sort=-date&_count=50` : `DiagnosticReport?subject=Patient/${id}&_count=50`;
        const t = performance.now();
        try {
          const res = await api(`${server.url}/fhir/${q}`, { signal: AbortSignal.timeout(CLIENT_TIMEOUT_MS) });
          await res.text();
          if (res.status === 200) {
            result.searches++;
            result.searchMs.push(performance.now() - t);
          } else {
            result.searchFailures++;
          }
        } catch {
          result.searchFailures++;
        }
        await sleep(READER_PAUSE_MS);
      }
    };
    await Promise.all([...Array.from({ length: SENDERS }, () => sender()), ...Array.from({ length: READERS }, (_, i) => reader(i))]);
    result.seconds = (performance.now() - started) / 1000;
    return result;
  } finally {
    await server.close();
    await rm(dataDir, { recursive: true, force: true });
  }
}

const messages = seedHl7Messages({ count: 60 }).map((m) => m.text);
const phases = [
  await phase('default limits (ingestion 2 running + 32 waiting)', {}, messages),
  await phase('tight ingestion queue (1 running + 1 waiting)', { IDR_INGEST_CONCURRENCY: '1', IDR_INGEST_QUEUE: '1' }, messages),
];
/** Messages/s of the slowest and fastest full 5-s window. */
const windows = (p: PhaseResult): string => {
  const counts = Array.from({ length: Math.floor(p.seconds / 5) }, (_, i) => p.processedAt.filter((t) => t >= i * 5000 && t < (i + 1) * 5000).length / 5);
  return counts.length ? `${Math.min(...counts).toFixed(1)}–${Math.max(...counts).toFixed(1)}` : '-';
};
const ms = (x: number): string => (Number.isNaN(x) ? '-' : x.toFixed(0));
const lines = [
  `Ingestion under load — ${SENDERS} HTTP senders (resend after Retry-After on 503) and ${READERS} readers (${READER_PAUSE_MS} ms between searches) for ${SECONDS} s per run, Node ${process.version}, ${process.env.MONGODB_URL ? 'MongoDB' : 'embedded FerretDB 1.24 on PostgreSQL'}`,
  '',
  '| run | messages/s | 5-s windows | processed | 503 answers | timeouts | other | ingest p95 ms | searches | search p50 ms | search p95 ms | search max ms | failed searches |',
  '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ...phases.map((p) =>
    `| ${p.label} | ${(p.processed / p.seconds).toFixed(1)} | ${windows(p)} | ${p.processed} | ${p.busy} | ${p.timeouts} | ${JSON.stringify(p.otherStatus)} | ${ms(quantile(p.ingestMs, 0.95))} | ${p.searches} | ${ms(quantile(p.searchMs, 0.5))} | ${ms(quantile(p.searchMs, 0.95))} | ${ms(Math.max(...p.searchMs))} | ${p.searchFailures} |`,
  ),
];
process.stdout.write(`${lines.join('\n')}\n`);
