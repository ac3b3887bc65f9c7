/**
 * One very large HL7 v2 result message (run on demand: `node bench/large-message.bench.ts [obx]`,
 * default 5,000 OBX segments): a demo lab ORU^R01 whose results are repeated until it holds that
 * many OBX, ingested end to end through the pipeline, against a raw driver insertMany of the same
 * resulting documents in the same run (the floor for writing those bytes to this store).
 * Uses the embedded store unless MONGODB_URL is set.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { seedHl7Messages } from '../seed/hl7v2/index.ts';
import { loadConfig } from '../api/config.ts';
import { startServer } from '../api/server.ts';

const obxCount = Number(process.argv[2] ?? 5000);
const template = seedHl7Messages({ count: 1 }).find((m) => m.name.includes('-lab-'))?.text;
if (!template) throw new Error('the seed has no lab message');
const segments = template.split('\r').filter(Boolean);
const results = segments.filter((s) => s.startsWith('OBX|'));
// The header, patient and order segments; the results (and their notes) are replaced.
const head = segments.filter((s) => !s.startsWith('OBX|') && !s.startsWith('NTE|'));
const obx = Array.from({ length: obxCount }, (_, i) => {
  const fields = (results[i % results.length] as string).split('|');
  fields[1] = String(i + 1); // OBX-1 set ID
  fields[4] = String(i + 1); // OBX-4 sub-ID: each repetition of a test is its own result
  return fields.join('|');
});
const message = [...head, ...obx].join('\r');

const dataDir = await mkdtemp(path.join(tmpdir(), 'idr-bench-'));
const server = await startServer(loadConfig({ PORT: '0', IDR_MLLP_PORT: 'off', LOG_LEVEL: 'silent', IDR_DATA_DIR: dataDir, IDR_DB_NAME: `bench_${Date.now()}`, ...(process.env.MONGODB_URL ? { MONGODB_URL: process.env.MONGODB_URL } : {}) }));
try {
  const { pipeline, database } = server.services;
  let t = performance.now();
  const r = await pipeline.ingest({ bytes: Buffer.from(message), kind: 'hl7v2', source: 'bench' });
  const ingestMs = performance.now() - t;
  if (r.status !== 'processed') throw new Error(`the message was not processed: ${r.status} ${r.error?.message ?? ''}`);
  const docs = await database.c.resources.find({}).toArray();
  const observations = docs.filter((d) => d.rt === 'Observation').length;
  const copy = database.db.collection<{ _id: string }>('bench_raw_copy');
  t = performance.now();
  for (let i = 0; i < docs.length; i += 500) await copy.insertMany(docs.slice(i, i + 500).map((d) => ({ ...d, _id: `${d._id}#copy` })));
  const rawMs = performance.now() - t;
  await copy.drop();
  const lines = [
    `One ORU^R01 with ${obxCount} OBX (${(message.length / 1024).toFixed(0)} KiB), Node ${process.version}, ${server.services.embedded ? 'embedded FerretDB 1.24 on PostgreSQL' : 'MongoDB'}`,
    '| what | resources | time | resources/s |',
    '| --- | --- | --- | --- |',
    `| end-to-end ingest (inbox, adapter, transaction, Provenance, timeline) | ${docs.length} (${observations} Observations) | ${(ingestMs / 1000).toFixed(1)} s | ${((docs.length / ingestMs) * 1000).toFixed(0)} |`,
    `| raw driver insertMany of the same documents | ${docs.length} | ${(rawMs / 1000).toFixed(1)} s | ${((docs.length / rawMs) * 1000).toFixed(0)} |`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
} finally {
  await server.close();
  await rm(dataDir, { recursive: true, force: true });
}
