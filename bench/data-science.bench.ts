/**
 * Data-science benchmark (run on demand: `node bench/data-science.bench.ts [patients]`, default
 * 1000). In one run, on the same data: N patients (half female), each with one Condition (ICD-10
 * C50.9 for a third, C18.7 for a third, I10 for the rest) and one haemoglobin Observation (LOINC
 * 718-7), written through the service's repository (the real write path, timeline included) —
 * the load time is reported on its own. Then, median of 3 rounds, the rounds interleaving the paths:
 *  - a cohort Group by criteria (women with C50.* and a haemoglobin result) evaluated with
 *    `evaluateCohort` (fhir/cohort.ts: a repository search per criterion, page by page, then the
 *    members written as a new Group version with a Provenance), against the same set computed
 *    with raw driver queries on `resources` (the `keys` the store matches) and a JS intersection;
 *  - the ready-made `lab-results` ViewDefinition over all Observations to CSV (`viewResultRows` +
 *    `encodeRows`), against a raw driver cursor → JSON.parse → the same columns → CSV lines, and
 *    the view's own work without the database (the stored texts parsed, viewRows, CSV).
 * Uses the embedded FerretDB unless MONGODB_URL is set.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Condition, Group, Observation, Patient, Resource } from '@medplum/fhirtypes';
import { loadConfig } from '../api/config.ts';
import { startServer } from '../api/server.ts';
import { COHORT_CRITERION, evaluateCohort } from '../fhir/cohort.ts';
import { readyMadeView, viewResultRows } from '../fhir/view-run.ts';
import { compileView, viewRows, type Row } from '../fhir/view-definition.ts';
import { encodeRows } from '../fhir/view-output.ts';
import { systemContext } from '../store/request-context.ts';
import { escapeRegex } from '../store/search-to-mongo.ts';
import { benchEnv } from './bench-auth.ts';

const PATIENTS = Number(process.argv[2] ?? 1000);
const ROUNDS = 3;
const CONCURRENCY = 10;
const ICD10 = 'http://hl7.org/fhir/sid/icd-10';
const LOINC = 'http://loinc.org';
const LAB = 'http://terminology.hl7.org/CodeSystem/observation-category';

const dataDir = await mkdtemp(path.join(tmpdir(), 'idr-bench-data-science-'));
const server = await startServer(loadConfig(benchEnv('data_science', dataDir)));

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
const fmt = (n: number, digits = 0): string => n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });

/** A CSV field as RFC 4180 wants it (empty for absent values). */
function csv(value: unknown): string {
  if (value === undefined || value === null) return '';
  const text = String(value);
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

try {
  const { services } = server;
  const { repo, database } = services;
  const ctx = systemContext('bench');

  // The data, written through the service's repository, CONCURRENCY patients at a time.
  const conditionCode = (i: number): string => (['C50.9', 'C18.7', 'I10'] as const)[i % 3] as string;
  let t = performance.now();
  for (let start = 0; start < PATIENTS; start += CONCURRENCY) {
    await Promise.all(
      Array.from({ length: Math.min(CONCURRENCY, PATIENTS - start) }, async (_, j) => {
        const i = start + j;
        const patient: Patient = { resourceType: 'Patient', name: [{ family: `Cohort${i}`, given: ['Bench'] }], gender: i % 2 ? 'male' : 'female', birthDate: `19${40 + (i % 50)}-0${1 + (i % 9)}-15` };
        const pid = (await repo.create(ctx, patient)).resource.id as string;
        const condition: Condition = {
          resourceType: 'Condition',
          clinicalStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-clinical', code: 'active' }] },
          verificationStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-ver-status', code: 'confirmed' }] },
          code: { coding: [{ system: ICD10, code: conditionCode(i) }] },
          subject: { reference: `Patient/${pid}` },
        };
        const observation: Observation = {
          resourceType: 'Observation',
          status: 'final',
          category: [{ coding: [{ system: LAB, code: 'laboratory' }] }],
          code: { coding: [{ system: LOINC, code: '718-7', display: 'Hemoglobin' }], text: 'Hemoglobin' },
          subject: { reference: `Patient/${pid}` },
          effectiveDateTime: new Date(Date.UTC(2024, 0, 1) + i * 3_600_000).toISOString(),
          valueQuantity: { value: 6 + (i % 40) / 10, unit: 'mmol/L', system: 'http://unitsofmeasure.org', code: 'mmol/L' },
          referenceRange: [{ low: { value: 7.5, unit: 'mmol/L' }, high: { value: 10, unit: 'mmol/L' } }],
        };
        await Promise.all([repo.create(ctx, condition), repo.create(ctx, observation)]);
      }),
    );
  }
  const loadMs = performance.now() - t;

  // The cohort: women with breast cancer (C50.*) and a haemoglobin result.
  const criterion = (query: string, exclude: boolean): NonNullable<Group['characteristic']>[number] => ({ code: { coding: [{ ...COHORT_CRITERION }], text: 'FHIR search' }, valueCodeableConcept: { text: query }, exclude });
  const group: Group = {
    resourceType: 'Group',
    type: 'person',
    actual: true,
    name: 'Breast cancer, women, with a haemoglobin result',
    characteristic: [criterion(`Condition?code:below=${ICD10}|C50`, false), criterion(`Observation?code=${LOINC}|718-7`, false), criterion('Patient?gender=male', true)],
  };
  const groupId = (await repo.create(ctx, group)).resource.id as string;

  /** The raw baseline: one driver query per criterion on the keys the store matches, projected to patient ids, intersected in JS. */
  const criterionMs: Record<'condition' | 'observation' | 'patient', number[]> = { condition: [], observation: [], patient: [] };
  const rawCohort = async (): Promise<string[]> => {
    const patientsOf = async (which: keyof typeof criterionMs, filter: Record<string, unknown>): Promise<Set<string>> => {
      const start = performance.now();
      const out = new Set<string>();
      for await (const doc of database.c.resources.find({ deleted: false, ...filter }, { projection: { patients: 1 } })) for (const p of doc.patients ?? []) out.add(p);
      criterionMs[which].push(performance.now() - start);
      return out;
    };
    const breast = await patientsOf('condition', { rt: 'Condition', keys: { $regex: `^${escapeRegex(`code=${ICD10}|C50`)}` } });
    const haemoglobin = await patientsOf('observation', { rt: 'Observation', keys: `code=${LOINC}|718-7` });
    const men = await patientsOf('patient', { rt: 'Patient', keys: 'gender=male' });
    return [...breast].filter((p) => haemoglobin.has(p) && !men.has(p)).sort();
  };

  const view = compileView(readyMadeView('lab-results'));
  /** The view run as $run does it, to CSV; returns the rows and bytes. */
  const viewRun = async (): Promise<{ rows: number; bytes: number }> => {
    let bytes = 0;
    let rows = -1; // the header line
    for await (const chunk of encodeRows('csv', view.columns, viewResultRows(repo, ctx, { view }))) {
      bytes += typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.byteLength;
      rows++;
    }
    return { rows, bytes };
  };
  /** The raw baseline: a driver cursor over the Observations, the same columns picked by hand, CSV lines. */
  const rawView = async (): Promise<{ rows: number; bytes: number }> => {
    let bytes = Buffer.byteLength(`${view.columns.map((c) => c.name).join(',')}\r\n`);
    let rows = 0;
    for await (const doc of database.c.resources.find({ rt: 'Observation', deleted: false }, { projection: { json: 1 } }).batchSize(1000)) {
      const o = JSON.parse(doc.json as string) as Observation;
      if (o.status === 'entered-in-error' || !o.category?.some((c) => c.coding?.some((x) => x.system === LAB && x.code === 'laboratory'))) continue;
      const loinc = o.code.coding?.find((x) => x.system === LOINC);
      if (!loinc) continue;
      const q = o.valueQuantity;
      const line = [o.id, o.subject?.reference?.replace(/^Patient\//, ''), loinc.code, o.code.text ?? loinc.display, o.effectiveDateTime ?? o.effectivePeriod?.start ?? o.issued, q?.value, q?.code ?? q?.unit, q?.comparator, o.valueString ?? o.valueCodeableConcept?.text, o.interpretation?.[0]?.coding?.[0]?.code, o.referenceRange?.[0]?.low?.value, o.referenceRange?.[0]?.high?.value, o.status]
        .map(csv)
        .join(',');
      bytes += Buffer.byteLength(`${line}\r\n`);
      rows++;
    }
    return { rows, bytes };
  };

  /** The view's own work, no database: the stored texts (read once, untimed) parsed, run through the view, CSV. */
  const stored: string[] = [];
  for await (const doc of database.c.resources.find({ rt: 'Observation', deleted: false }, { projection: { json: 1 } })) stored.push(doc.json as string);
  const inMemoryView = async (): Promise<number> => {
    async function* rows(): AsyncGenerator<Row> {
      for (const text of stored) yield* viewRows(view, JSON.parse(text) as Resource);
    }
    let lines = -1;
    for await (const _ of encodeRows('csv', view.columns, rows())) lines++;
    return lines;
  };

  const times = { cohort: [] as number[], rawCohort: [] as number[], view: [] as number[], rawView: [] as number[], memoryView: [] as number[] };
  let members = 0;
  let viewOut = { rows: 0, bytes: 0 };
  let rawOut = { rows: 0, bytes: 0 };
  for (let r = 0; r < ROUNDS; r++) {
    t = performance.now();
    const evaluated = await evaluateCohort(repo, ctx, groupId);
    times.cohort.push(performance.now() - t);
    t = performance.now();
    const raw = await rawCohort();
    times.rawCohort.push(performance.now() - t);
    const ids = (evaluated.group.member ?? []).map((m) => m.entity.reference?.replace(/^Patient\//, '')).sort();
    if (ids.join() !== raw.join()) throw new Error(`cohort: evaluateCohort found ${ids.length} patients, the raw queries ${raw.length}`);
    members = raw.length;
    t = performance.now();
    viewOut = await viewRun();
    times.view.push(performance.now() - t);
    t = performance.now();
    rawOut = await rawView();
    times.rawView.push(performance.now() - t);
    if (viewOut.rows !== rawOut.rows) throw new Error(`view: ${viewOut.rows} rows, raw ${rawOut.rows}`);
    t = performance.now();
    const memoryRows = await inMemoryView();
    times.memoryView.push(performance.now() - t);
    if (memoryRows !== rawOut.rows) throw new Error(`view in memory: ${memoryRows} rows, raw ${rawOut.rows}`);
  }

  const [cohortMs, rawCohortMs, viewMs, rawViewMs] = [median(times.cohort), median(times.rawCohort), median(times.view), median(times.rawView)];
  const resources = PATIENTS * 3;
  process.stdout.write(`Data-science benchmark — ${fmt(PATIENTS)} patients, median of ${ROUNDS}, Node ${process.version}, ${process.env.MONGODB_URL ? 'MongoDB' : 'embedded FerretDB 1.24 on PostgreSQL'}\n\n`);
  process.stdout.write(`Load: ${fmt(resources)} resources (Patient, Condition, Observation per patient) through the repository in ${fmt(loadMs)} ms (${fmt((resources / loadMs) * 1000)} resources/s, ${CONCURRENCY} patients at a time)\n\n`);
  process.stdout.write('| what | result | time | rate | vs raw |\n| --- | --- | --- | --- | --- |\n');
  process.stdout.write(`| cohort: evaluateCohort (3 criteria, members written) | ${fmt(members)} of ${fmt(PATIENTS)} patients | ${fmt(cohortMs)} ms | — | ${fmt(cohortMs / rawCohortMs, 1)}× raw |\n`);
  process.stdout.write(`| cohort: raw driver queries on \`keys\` + JS intersection | ${fmt(members)} patients | ${fmt(rawCohortMs)} ms | — | — |\n`);
  process.stdout.write(`| view: lab-results → CSV (viewResultRows + encodeRows) | ${fmt(viewOut.rows)} rows, ${fmt(viewOut.bytes / 1e3)} kB | ${fmt(viewMs)} ms | ${fmt((viewOut.rows / viewMs) * 1000)} rows/s | ${fmt(viewMs / rawViewMs, 1)}× raw |\n`);
  process.stdout.write(`| view: raw driver cursor → JSON.parse → CSV | ${fmt(rawOut.rows)} rows, ${fmt(rawOut.bytes / 1e3)} kB | ${fmt(rawViewMs)} ms | ${fmt((rawOut.rows / rawViewMs) * 1000)} rows/s | — |\n`);
  const memoryMs = median(times.memoryView);
  process.stdout.write(`| view alone, no database: JSON.parse → viewRows → CSV | ${fmt(rawOut.rows)} rows | ${fmt(memoryMs)} ms | ${fmt((rawOut.rows / memoryMs) * 1000)} rows/s | — |\n`);
  process.stdout.write(`\nRounds (ms): cohort ${times.cohort.map((x) => x.toFixed(0)).join(' / ')}, raw ${times.rawCohort.map((x) => x.toFixed(0)).join(' / ')}; view ${times.view.map((x) => x.toFixed(0)).join(' / ')}, raw ${times.rawView.map((x) => x.toFixed(0)).join(' / ')}\n`);
  process.stdout.write(`Raw cohort per criterion (median ms): Condition code:below ${median(criterionMs.condition).toFixed(0)}, Observation code ${median(criterionMs.observation).toFixed(0)}, Patient gender ${median(criterionMs.patient).toFixed(0)}\n`);
} finally {
  await server.services.database.db.dropDatabase().catch(() => undefined);
  await server.close();
  await rm(dataDir, { recursive: true, force: true });
}
