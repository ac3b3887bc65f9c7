/**
 * Store growth benchmark: the same reads and writes at 1×, 10× and 100× the demo store, in one
 * run, on the embedded database (or MONGODB_URL). The demo is loaded through the real pipeline;
 * larger stores add clones of its patients (every resource id renamed, so each clone is a
 * separate patient with the same data shape). Per request: wall time, and CPU time of the
 * database processes (the launcher with FerretDB and every PostgreSQL process under it) read
 * from /proc. Reads are for one original demo patient, so a flat cost means an index answered.
 * Usage: node bench/store-scale.bench.ts [scales=1,10,100] [runs=10]
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { BSON } from 'mongodb';
import type { Bundle, BundleEntry, Observation } from '@medplum/fhirtypes';
import { loadConfig } from '../api/config.ts';
import { startServer } from '../api/server.ts';
import { loadDemoData } from '../seed/load-demo.ts';
import { seedHl7Messages } from '../seed/hl7v2/index.ts';
import { COLLECTION_NAMES, resourceOf } from '../schema/collections.ts';
import { BENCH_AUTH_ENV, benchFetch } from './bench-auth.ts';

/** A selection of every part of the case summary. */
const DIAGNOSIS = 'query ($id: ID!) { patient(id: $id) { caseSummary { primaryDiagnosis { display } latestPathology { histology er pr her2 } } } }';
const EVERY_PART = `primaryDiagnosis { display } latestPathology { histology er pr her2 } pathologyFindings { item value }
  imaging { modality conclusion } labTrends { name points { value } } biomarkers { item } histology { item } topography { item }
  tumourSize { item } tnm { prefix t n m stageGroup } keyLabs { name latest { value } } procedures { display } recentLetters { title } newSince { id }`;
const SCALES = (process.argv[2] ?? '1,10,100').split(',').map(Number);
const RUNS = Number(process.argv[3] ?? 10);

/** CPU seconds used so far by a process and all its descendants, living or exited (Linux /proc). */
async function treeCpuSeconds(root: number): Promise<number> {
  const parents = new Map<number, number>();
  const cpu = new Map<number, number>();
  for (const name of await readdir('/proc')) {
    const pid = Number(name);
    if (!Number.isInteger(pid)) continue;
    try {
      const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      parents.set(pid, Number(f[1]));
      // utime + stime, and cutime + cstime: the CPU of children that have exited and been
      // reaped (PostgreSQL backends and autovacuum workers come and go), in clock ticks.
      cpu.set(pid, Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]));
    } catch {
      // exited meanwhile
    }
  }
  const inTree = (pid: number): boolean => {
    for (let p: number | undefined = pid, depth = 0; p && depth < 10; p = parents.get(p), depth++) if (p === root) return true;
    return false;
  };
  let ticks = 0;
  for (const [pid, t] of cpu) if (inTree(pid)) ticks += t;
  return ticks / 100;
}

/** Whether an autovacuum worker (statistics, cleanup) of PostgreSQL under `root` is running now. */
async function autovacuumRunning(root: number): Promise<boolean> {
  for (const name of await readdir('/proc')) {
    const pid = Number(name);
    if (!Number.isInteger(pid) || pid === root) continue;
    const cmd = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    if (cmd.includes('autovacuum worker')) return true;
  }
  return false;
}

/**
 * After a bulk load, waits until PostgreSQL has gathered statistics, as a store in service has
 * them: until autovacuum workers have come and gone, or 120 s (its check runs every minute).
 * Its work would otherwise be counted against the reads measured meanwhile, and without
 * statistics the planner may pick the wrong index (see tools/ferretdb/README.md).
 */
async function settled(root: number | undefined): Promise<void> {
  if (root === undefined) return;
  const until = Date.now() + 120_000;
  let seen = false;
  let quiet = 0;
  while (Date.now() < until) {
    const running = await autovacuumRunning(root);
    seen ||= running;
    quiet = running ? 0 : quiet + 1;
    // Workers take the tables one after the other: done once none has run for 10 s.
    if (seen && quiet >= 10) return;
    await new Promise((r) => setTimeout(r, 1000));
  }
}

const dataDir = await mkdtemp(path.join(tmpdir(), 'idr-bench-scale-'));
const server = await startServer(
  loadConfig({ ...BENCH_AUTH_ENV, PORT: '0', IDR_MLLP_PORT: 'off', LOG_LEVEL: 'silent', NODE_ENV: 'production', IDR_DATA_DIR: dataDir, IDR_DB_NAME: `bench_scale_${Date.now()}`, ...(process.env.MONGODB_URL ? { MONGODB_URL: process.env.MONGODB_URL } : {}) }),
);
const { database, embedded } = server.services;
const api = await benchFetch(server.url);
const dbCpu = (): Promise<number> => (embedded ? treeCpuSeconds(embedded.pid) : Promise.resolve(Number.NaN));

async function get(pathAndQuery: string): Promise<unknown> {
  const res = await api(`${server.url}${pathAndQuery}`, { headers: { accept: 'application/fhir+json' } });
  if (!res.ok) throw new Error(`${pathAndQuery}: ${res.status} ${await res.text()}`);
  return res.json();
}

async function graphql(query: string, variables: Record<string, unknown>): Promise<unknown> {
  const res = await api(`${server.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query, variables }) });
  const body = (await res.json()) as { errors?: unknown };
  if (body.errors) throw new Error(JSON.stringify(body.errors));
  return body;
}

/** 250 Observations and a Patient, as one transaction Bundle (the shape of the issue's write test). */
function transactionBundle(n: number): Bundle {
  const patientUrl = `urn:uuid:${crypto.randomUUID()}`;
  const entries: BundleEntry[] = [
    { fullUrl: patientUrl, resource: { resourceType: 'Patient', identifier: [{ system: 'https://bench.example/mrn', value: `B${n}-${Date.now()}` }], name: [{ family: `Bench${n}` }] }, request: { method: 'POST', url: 'Patient' } },
  ];
  for (let i = 0; i < 250; i++) {
    const obs: Observation = {
      resourceType: 'Observation',
      status: 'final',
      category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'laboratory' }] }],
      code: { coding: [{ system: 'http://loinc.org', code: i % 2 ? '718-7' : '2857-1', display: i % 2 ? 'Hemoglobin' : 'PSA' }] },
      subject: { reference: patientUrl },
      effectiveDateTime: new Date(Date.UTC(2025, 0, 1) + i * 86_400_000).toISOString(),
      valueQuantity: { value: 5 + (i % 10), unit: 'mmol/L', system: 'http://unitsofmeasure.org', code: 'mmol/L' },
    };
    entries.push({ fullUrl: `urn:uuid:${crypto.randomUUID()}`, resource: obs, request: { method: 'POST', url: 'Observation' } });
  }
  return { resourceType: 'Bundle', type: 'transaction', entry: entries };
}

/** Adds clones of the demo's patients until the store holds `scale` copies of the demo. */
async function cloneTo(scale: number, have: number, originals: { resources: string[]; timeline: string[]; ids: RegExp }): Promise<void> {
  for (let k = have; k < scale; k++) {
    const rename = (json: string): string => json.replace(originals.ids, (id) => `${id}c${k}`.slice(0, 64));
    const resources = originals.resources.map((d) => BSON.EJSON.parse(rename(d)) as never);
    const events = originals.timeline.map((d) => BSON.EJSON.parse(rename(d)) as never);
    for (let i = 0; i < resources.length; i += 1000) await database.c.resources.insertMany(resources.slice(i, i + 1000), { ordered: false });
    for (let i = 0; i < events.length; i += 1000) await server.services.timeline.events.insertMany(events.slice(i, i + 1000), { ordered: false });
  }
}

interface Row {
  label: string;
  ms: number[];
  cpu: number[];
}

try {
  let t = performance.now();
  const summary = await loadDemoData(server.services);
  const loadMs = performance.now() - t;
  const demoResources = await database.c.resources.countDocuments({});
  process.stderr.write(`demo loaded: ${summary.processed} inputs, ${demoResources} resources in ${(loadMs / 1000).toFixed(1)} s\n`);

  const resourceDocs = await database.c.resources.find({}).toArray();
  const timelineDocs = await server.services.timeline.events.find({}).toArray();
  const ids = [...new Set(resourceDocs.map((d) => d.id))].sort((a, b) => b.length - a.length);
  const originals = {
    resources: resourceDocs.map((d) => BSON.EJSON.stringify(d, { relaxed: false })),
    timeline: timelineDocs.map((d) => BSON.EJSON.stringify(d, { relaxed: false })),
    ids: new RegExp(`(?<![A-Za-z0-9.-])(${ids.map((i) => i.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|')})(?![A-Za-z0-9.-])`, 'g'),
  };
  const patient = resourceDocs.find((d) => d.rt === 'Patient')?.id as string;
  const obs = resourceDocs.find((d) => d.rt === 'Observation' && d.patients.includes(patient) && resourceOf<Observation>(d)?.valueQuantity);
  const code = resourceOf<Observation>(obs)?.code?.coding?.find((c) => c.system === 'http://loinc.org')?.code ?? '718-7';

  const months = database.db.collection<{ _id: string; stamp?: string }>(COLLECTION_NAMES.timelineMonths);
  const changed = async (p: string): Promise<string> => {
    await months.updateOne({ _id: p }, { $set: { stamp: randomUUID() } });
    return p;
  };
  const reads: [string, () => Promise<unknown>][] = [
    ['Patient?_count=100', () => get('/fhir/Patient?_count=100')],
    // The demo has 4 patients: the page above holds 4 at 1× and 100 at 100×; this one holds 4 at every size.
    ['Patient?_count=4 (the same page at every size)', () => get('/fhir/Patient?_count=4')],
    ['Observation?subject&code&_sort=-date', () => get(`/fhir/Observation?subject=Patient/${patient}&code=http://loinc.org|${code}&_sort=-date`)],
    ['DiagnosticReport?subject&_include=result', () => get(`/fhir/DiagnosticReport?subject=Patient/${patient}&_include=DiagnosticReport:result`)],
    ['Patient/{id}/$everything (page of 50)', () => get(`/fhir/Patient/${patient}/$everything?_count=50`)],
    ['GraphQL timeline page (50)', () => graphql('query ($id: ID!) { patient(id: $id) { timeline(first: 50) { edges { node { time lane title } } } } }', { id: patient })],
    // A summary read again reads what the first read kept while the record has not changed
    // (timeline/summary-cache.ts); "after a change" gives the patient a new stamp before each
    // request (one update by id, counted), as any write about the patient does, so every part
    // reads the store and keeps it anew.
    ['GraphQL caseSummary (diagnosis, latest pathology), read again', () => graphql(DIAGNOSIS, { id: patient })],
    ['GraphQL caseSummary (diagnosis, latest pathology), after a change', async () => graphql(DIAGNOSIS, { id: await changed(patient) })],
    // Every part: what a board screen showing everything, new events included, costs.
    ['GraphQL caseSummary (every part), read again', () => graphql(`query ($id: ID!) { patient(id: $id) { caseSummary { ${EVERY_PART} } } }`, { id: patient })],
    ['GraphQL caseSummary (every part), after a change', async () => graphql(`query ($id: ID!) { patient(id: $id) { caseSummary { ${EVERY_PART} } } }`, { id: await changed(patient) })],
    ['cohort: Observation?code&value-quantity=gt', () => get(`/fhir/Observation?code=http://loinc.org|${code}&value-quantity=gt0&_count=50`)],
  ];
  const rows = new Map<string, Row>();
  const record = (label: string, ms: number, cpu: number): void => {
    const row = rows.get(label) ?? { label, ms: [], cpu: [] };
    row.ms.push(ms);
    row.cpu.push(cpu);
    rows.set(label, row);
  };

  let have = 1;
  const sizes: number[] = [];
  for (const scale of SCALES) {
    await cloneTo(scale, have, originals);
    have = Math.max(have, scale);
    sizes.push(await database.c.resources.countDocuments({}));
    await settled(embedded?.pid);
    for (const [label, run] of reads) {
      for (let w = 0; w < 2; w++) await run();
      const c0 = await dbCpu();
      t = performance.now();
      for (let i = 0; i < RUNS; i++) await run();
      record(label, (performance.now() - t) / RUNS, ((await dbCpu()) - c0) / RUNS);
    }
    const c0 = await dbCpu();
    t = performance.now();
    const bundles = 3;
    for (let b = 0; b < bundles; b++) {
      const res = await api(`${server.url}/fhir`, { method: 'POST', headers: { 'content-type': 'application/fhir+json' }, body: JSON.stringify(transactionBundle(b)) });
      if (!res.ok) throw new Error(`transaction: ${res.status} ${await res.text()}`);
    }
    const ms = performance.now() - t;
    record('write: 251-entry transaction (resources/s)', (251 * bundles * 1000) / ms, ((await dbCpu()) - c0) / bundles);
  }

  // HL7 v2 end to end on the largest store: fresh messages (new patients) through the pipeline.
  const fresh = seedHl7Messages({ seed: 4242, count: 4 });
  t = performance.now();
  for (const m of fresh) {
    const r = await server.services.pipeline.ingest({ bytes: Buffer.from(m.text), kind: 'hl7v2', source: 'bench' });
    if (r.status !== 'processed') throw new Error(`HL7 v2 message failed: ${r.error?.message}`);
  }
  const hl7Rate = (fresh.length * 1000) / (performance.now() - t);
  // The same, as a batch: other new patients' messages in requests' worth of 50 (Pipeline.processMany).
  const batched = seedHl7Messages({ seed: 4343, count: 4 });
  t = performance.now();
  for (let i = 0; i < batched.length; i += 50) {
    const results = await server.services.pipeline.ingestMany(batched.slice(i, i + 50).map((m) => ({ bytes: Buffer.from(m.text), kind: 'hl7v2', source: 'bench' })));
    const bad = results.find((r) => r.status !== 'processed');
    if (bad) throw new Error(`HL7 v2 message failed: ${bad.error?.message}`);
  }
  const hl7BatchRate = (batched.length * 1000) / (performance.now() - t);

  const fmt = (n: number, digits = 0): string => (Number.isFinite(n) ? n.toFixed(digits) : '–');
  const lines = [
    `Store growth — ${embedded ? 'embedded FerretDB 1.24 on PostgreSQL' : 'MongoDB'}, Node ${process.version}; demo loaded through the pipeline in ${fmt(loadMs / 1000, 1)} s; ${RUNS} runs per read`,
    `Store sizes (resources): ${SCALES.map((s, i) => `${s}× = ${sizes[i]}`).join(', ')}`,
    '',
    `| request | ${SCALES.map((s) => `${s}× ms`).join(' | ')} | ${SCALES.map((s) => `${s}× DB CPU ms`).join(' | ')} | ${SCALES.at(-1)}×/${SCALES[0]}× DB CPU |`,
    `| --- | ${SCALES.map(() => '---').join(' | ')} | ${SCALES.map(() => '---').join(' | ')} | --- |`,
    ...[...rows.values()].map((r) => {
      const isWrite = r.label.startsWith('write');
      const first = r.cpu[0] ?? Number.NaN;
      const last = r.cpu.at(-1) ?? Number.NaN;
      return `| ${r.label} | ${r.ms.map((v) => fmt(v, isWrite ? 0 : 1)).join(' | ')} | ${r.cpu.map((v) => fmt(v * 1000, 0)).join(' | ')} | ${first > 0 ? fmt(last / first, 2) : '–'} |`;
    }),
    '',
    `HL7 v2 end to end at ${SCALES.at(-1)}×: ${fresh.length} new messages at ${fmt(hl7Rate, 1)} messages/s one at a time; ${batched.length} others in batches of 50 at ${fmt(hl7BatchRate, 1)} messages/s`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
} finally {
  await server.close();
  await rm(dataDir, { recursive: true, force: true });
}
