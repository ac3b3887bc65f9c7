/**
 * Timeline benchmark: a patient with 10,000 events. First page and a deep page (after event
 * 9,000) through GraphQL over HTTP, the raw driver query on the timeline collection for the same
 * events, and compute-on-read; materialisation cost; caseSummary latency.
 * Usage: node bench/timeline.bench.ts [events=10000]   (MONGODB_URL to use a real MongoDB)
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadConfig } from '../api/config.ts';
import { startServer } from '../api/server.ts';
import { startEmbeddedDb } from '../store/embedded-db.ts';
import { timelineDocId } from '../schema/timeline-event.ts';
import { encodeCursor } from '../timeline/query.ts';
import { computeTimelinePage } from '../timeline/compute.ts';
import { writeBenchPatient } from './timeline-data.ts';
import { BENCH_AUTH_ENV, benchFetch } from './bench-auth.ts';

const EVENTS = Number(process.argv[2] ?? 10_000);
const RUNS = 5;
const PAGE = 20;
const PATIENT = 'bench-patient';

async function time(fn: () => Promise<unknown>, runs = RUNS): Promise<number> {
  const ms: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    await fn();
    ms.push(performance.now() - t);
  }
  return ms.sort((a, b) => a - b)[Math.floor(ms.length / 2)] as number;
}

const dataDir = process.env.MONGODB_URL ? undefined : await mkdtemp(path.join(tmpdir(), 'idr-bench-timeline-'));
const embedded = dataDir ? await startEmbeddedDb({ dataDir }) : undefined;
const server = await startServer(loadConfig({ ...BENCH_AUTH_ENV, PORT: '0', MONGODB_URL: process.env.MONGODB_URL ?? embedded?.url, IDR_DB_NAME: `idr_bench_timeline_${Date.now()}`, IDR_MLLP_PORT: 'off', LOG_LEVEL: 'silent', NODE_ENV: 'production' }));
const { database, timeline } = server.services;
const api = await benchFetch(server.url);
try {
  let t = performance.now();
  const docs = await writeBenchPatient(database, PATIENT, EVENTS);
  const writeMs = performance.now() - t;
  t = performance.now();
  const projected = await timeline.rebuildPatient(PATIENT);
  const projectMs = performance.now() - t;

  const all = await timeline.events.find({ patient: PATIENT }, { projection: { time: 1, anchor: 1 } }).sort({ time: -1, _id: -1 }).toArray();
  const deep = all[Math.min(9_000, all.length - 2 * PAGE)];
  if (!deep) throw new Error('not enough events');
  const cursor = encodeCursor(deep);
  const gql = async (after?: string): Promise<void> => {
    const res = await api(`${server.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: 'query ($id: ID!, $after: String) { patient(id: $id) { timeline(first: 20, after: $after) { edges { cursor node { id time lane title summary abnormal status references } } pageInfo { hasNextPage } } } }', variables: { id: PATIENT, after } }),
    });
    const body = (await res.json()) as { errors?: unknown; data?: { patient: { timeline: { edges: unknown[] } } } };
    if (body.errors || body.data?.patient.timeline.edges.length !== PAGE) throw new Error(JSON.stringify(body.errors ?? 'short page'));
  };
  const raw = async (after?: { time: Date; anchor: string }): Promise<void> => {
    const q = after ? { patient: PATIENT, $or: [{ time: { $lt: after.time } }, { time: after.time, _id: { $lt: timelineDocId(PATIENT, after.anchor) } }] } : { patient: PATIENT };
    const found = await timeline.events.find(q).sort({ time: -1, _id: -1 }).limit(PAGE + 1).toArray();
    if (found.length < PAGE) throw new Error('short raw page');
  };
  const computed = async (after?: string): Promise<void> => {
    const r = await computeTimelinePage(database, PATIENT, { first: PAGE, ...(after ? { after } : {}) });
    if (r.events.length !== PAGE) throw new Error('short computed page');
  };
  const summary = async (): Promise<void> => {
    const res = await api(`${server.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: 'query ($id: ID!) { patient(id: $id) { caseSummary(since: "2015-01-01") { labTrends { name points { value } } imaging { modality } recentLetters { title } newSince { id } } } }', variables: { id: PATIENT } }) });
    const body = (await res.json()) as { errors?: unknown };
    if (body.errors) throw new Error(JSON.stringify(body.errors));
  };
  await gql(); // warm-up
  const rows: [string, number][] = [
    ['GraphQL first page (HTTP)', await time(() => gql())],
    ['GraphQL deep page, after event 9,000 (HTTP)', await time(() => gql(cursor))],
    ['raw driver, timeline collection, first page', await time(() => raw())],
    ['raw driver, timeline collection, deep page', await time(() => raw(deep))],
    ['compute-on-read, first page', await time(() => computed(), 3)],
    ['compute-on-read, deep page', await time(() => computed(cursor), 3)],
    ['caseSummary (GraphQL, HTTP)', await time(summary, 3)],
  ];
  const server_ = process.env.MONGODB_URL ? 'MongoDB' : 'embedded FerretDB 1.24 on PostgreSQL';
  console.log(`\ntimeline benchmark: ${all.length} events (${docs} resource documents) on ${server_}; median of ${RUNS} runs (3 for compute-on-read and caseSummary)\n`);
  console.log(`| measurement | ms |\n| --- | ---: |`);
  for (const [name, ms] of rows) console.log(`| ${name} | ${ms.toFixed(1)} |`);
  console.log(`| write ${docs} resource documents (raw insertMany) | ${writeMs.toFixed(0)} |`);
  console.log(`| materialise ${projected} events (rebuildPatient) | ${projectMs.toFixed(0)} (${(projectMs / Math.max(projected, 1)).toFixed(2)} per event) |`);
} finally {
  await database.db.dropDatabase().catch(() => undefined);
  await server.close();
  await embedded?.stop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
}
