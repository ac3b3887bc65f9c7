/**
 * HL7 v2 ingestion benchmark (run on demand: `make bench` or `node bench/hl7v2.bench.ts`).
 * In one run, on the same synthetic seed messages:
 *  1. bare parse with @medplum/core Hl7Message.parse vs. IDR's full adapter (messages/s)
 *  2. end-to-end ingest through the pipeline into the store vs. a raw driver insertMany of the
 *     same resulting documents (messages/s and resources/s)
 *  3. sustained ingestion over HTTP of a feed of many patients' messages in the order they were
 *     sent: one message per request (as an MLLP sender waits for each ACK), batches of 50 per
 *     request from one sender, and from two (the default IDR_INGEST_CONCURRENCY), each on an
 *     empty store of its own
 * Uses the embedded FerretDB unless MONGODB_URL is set.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { Hl7Message } from '@medplum/core';
import { seedHl7Messages } from '../seed/hl7v2/index.ts';
import { hl7v2ToBundle } from '../ingestion/adapters/hl7v2/index.ts';
import { identifierSystemResolver } from '../ingestion/identifier-systems.ts';
import { loadConfig } from '../api/config.ts';
import { startServer } from '../api/server.ts';
import { benchEnv, benchFetch, BENCH_AUTH_ENV } from './bench-auth.ts';

const messages = seedHl7Messages({ count: 4 }).map((m) => m.text);
const ctx = { now: () => new Date(), newId: randomUUID, identifierSystem: identifierSystemResolver() };

function rate(label: string, n: number, ms: number, unit = 'messages'): string {
  return `| ${label.padEnd(48)} | ${String(n).padStart(6)} ${unit.padEnd(9)} | ${ms.toFixed(0).padStart(7)} ms | ${((n / ms) * 1000).toFixed(0).padStart(8)} ${unit}/s |`;
}

function repeat(fn: () => void, rounds: number): number {
  const t = performance.now();
  for (let r = 0; r < rounds; r++) fn();
  return performance.now() - t;
}

const rounds = 20;
for (let w = 0; w < 2; w++) repeat(() => messages.forEach((m) => hl7v2ToBundle(m, ctx)), 1); // warm-up
const parseMs = repeat(() => messages.forEach((m) => Hl7Message.parse(m)), rounds);
const adapterMs = repeat(() => messages.forEach((m) => hl7v2ToBundle(m, ctx)), rounds);

const dataDir = await mkdtemp(path.join(tmpdir(), 'idr-bench-'));
const server = await startServer(loadConfig({ PORT: '0', IDR_MLLP_PORT: 'off', LOG_LEVEL: 'silent', IDR_DATA_DIR: dataDir, IDR_DB_NAME: `bench_${Date.now()}`, ...(process.env.MONGODB_URL ? { MONGODB_URL: process.env.MONGODB_URL } : {}) }));
try {
  const { pipeline, database } = server.services;
  let t = performance.now();
  for (const m of messages) {
    const r = await pipeline.ingest({ bytes: Buffer.from(m), kind: 'hl7v2', source: 'bench' });
    if (r.status !== 'processed') throw new Error(`bench message failed: ${r.error?.message}`);
  }
  const ingestMs = performance.now() - t;
  const docs = await database.c.resources.find({}).toArray();
  const copy = database.db.collection<{ _id: string }>('bench_raw_copy');
  t = performance.now();
  for (let i = 0; i < docs.length; i += 100) await copy.insertMany(docs.slice(i, i + 100).map((d) => ({ ...d, _id: `${d._id}#copy` })));
  const rawMs = performance.now() - t;
  await copy.drop();

  const lines = [
    `HL7 v2 benchmark — ${messages.length} synthetic ORU^R01 messages (${rounds} rounds for CPU-only rows), Node ${process.version}, ${server.services.embedded ? 'embedded FerretDB 1.24 on PostgreSQL' : 'MongoDB'}`,
    '| what | volume | time | throughput |',
    '| --- | --- | --- | --- |',
    rate('parse only (@medplum/core Hl7Message.parse)', messages.length * rounds, parseMs),
    rate('IDR adapter (parse + map to FHIR Bundle)', messages.length * rounds, adapterMs),
    rate('end-to-end ingest (inbox, adapter, write, Provenance)', messages.length, ingestMs),
    rate('  same, counted in resources written', docs.length, ingestMs, 'resources'),
    rate('raw driver insertMany of the same documents', docs.length, rawMs, 'resources'),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
} finally {
  await server.close();
  await rm(dataDir, { recursive: true, force: true });
}

/** Posts the feed in requests of `perRequest` messages from `senders` concurrent senders to an empty store; messages/s, resources/s and the median request time. */
async function sustained(feed: string[], perRequest: number, senders: number): Promise<{ ms: number; resources: number; medianMs: number }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'idr-bench-'));
  const srv = await startServer(loadConfig(benchEnv('hl7feed', dir, BENCH_AUTH_ENV)));
  try {
    const api = await benchFetch(srv.url);
    const requests: string[] = [];
    for (let i = 0; i < feed.length; i += perRequest) requests.push(feed.slice(i, i + perRequest).join('\r\n'));
    const times: number[] = [];
    let next = 0;
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: senders }, async () => {
        while (next < requests.length) {
          const body = requests[next++] as string;
          const t = performance.now();
          const res = await api(`${srv.url}/ingest/hl7v2`, { method: 'POST', headers: { 'content-type': 'x-application/hl7-v2+er7' }, body });
          const json = (await res.json()) as { results?: { status: string; error?: { message: string } }[] };
          const bad = json.results?.find((r) => r.status !== 'processed');
          if (res.status !== 201 || bad) throw new Error(`feed request: ${res.status} ${bad?.error?.message ?? ''}`);
          times.push(performance.now() - t);
        }
      }),
    );
    const ms = performance.now() - t0;
    const resources = await srv.services.database.c.resources.countDocuments({ rt: { $ne: 'AuditEvent' } });
    times.sort((a, b) => a - b);
    return { ms, resources, medianMs: times[Math.floor(times.length / 2)] ?? 0 };
  } finally {
    await srv.close();
    await rm(dir, { recursive: true, force: true });
  }
}

const FEED_PATIENTS = 60;
const feed = seedHl7Messages({ seed: 7, count: FEED_PATIENTS })
  .slice(0, 500)
  .map((m) => m.text);
const modes = [
  { label: 'one message per request, one sender', perRequest: 1, senders: 1 },
  { label: '50 messages per request, one sender', perRequest: 50, senders: 1 },
  { label: '50 messages per request, two senders', perRequest: 50, senders: 2 },
];
const feedLines = [
  '',
  `Sustained over HTTP — the first ${feed.length} messages (by time sent) of ${FEED_PATIENTS} synthetic patients, each mode on an empty store:`,
  '| mode | time | messages/s | resources/s | median request |',
  '| --- | --- | --- | --- | --- |',
];
for (const mode of modes) {
  const r = await sustained(feed, mode.perRequest, mode.senders);
  feedLines.push(`| ${mode.label} | ${(r.ms / 1000).toFixed(1)} s | ${((feed.length * 1000) / r.ms).toFixed(1)} | ${((r.resources * 1000) / r.ms).toFixed(0)} | ${r.medianMs.toFixed(0)} ms |`);
}
process.stdout.write(`${feedLines.join('\n')}\n`);
