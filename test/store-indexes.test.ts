import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Long, type Document } from 'mongodb';
import type { Observation, Patient, Resource } from '@medplum/fhirtypes';
import { startTestServer, type TestServer } from './support/server.ts';
import { COLLECTION_NAMES, type ResourceDoc } from '../schema/collections.ts';
import { computeSearchKeys } from '../schema/search-index.ts';
import { parseFhirSearch, searchToMongo } from '../store/search-to-mongo.ts';
import { timelineMongoFilter } from '../timeline/query.ts';
import { countMatching } from '../store/count.ts';

/**
 * The hot queries are answered from an index, not by reading the collection: the query plan
 * the server reports (`explain`) names an index. On the embedded store that is PostgreSQL's plan
 * for the SQL FerretDB sends (an index scan on one of IDR's GIN indexes); on MongoDB an IXSCAN.
 */

const PATIENTS = 60;
const PER_PATIENT = 50;
let server: TestServer;

function doc(resource: Resource): ResourceDoc {
  const k = computeSearchKeys(resource);
  return { _id: `${resource.resourceType}/${resource.id}`, rt: resource.resourceType, id: resource.id as string, vid: 1, lu: new Date(), deleted: false, patients: k.patients, keys: k.keys, sp: k.sp, so: k.so, json: JSON.stringify(resource) };
}

beforeAll(async () => {
  server = await startTestServer();
  const docs: ResourceDoc[] = [];
  for (let p = 0; p < PATIENTS; p++) {
    const patient: Patient = { resourceType: 'Patient', id: `p${p}`, identifier: [{ system: 'https://hospital.example/mrn', value: `MRN${p}` }] };
    docs.push(doc(patient));
    for (let i = 0; i < PER_PATIENT; i++) {
      const obs: Observation = {
        resourceType: 'Observation',
        id: `p${p}-o${i}`,
        status: 'final',
        // The last result of each patient has a code of its own: a cohort of 2 % of the store, which
        // PostgreSQL answers from an index once it has statistics (for a fifth of the table it may
        // rightly read the table).
        code: { coding: [{ system: 'http://loinc.org', code: i === PER_PATIENT - 1 ? '2000-0' : `${1000 + (i % 5)}-0` }] },
        subject: { reference: `Patient/p${p}` },
        effectiveDateTime: new Date(Date.UTC(2025, 0, 1 + i)).toISOString(),
        valueQuantity: { value: i, unit: 'mmol/L', system: 'http://unitsofmeasure.org', code: 'mmol/L' },
      };
      docs.push(doc(obs));
    }
  }
  await server.services.database.c.resources.insertMany(docs);
});

afterAll(async () => {
  await server?.close();
});

/** Every plan node, depth first (PostgreSQL's JSON plan or MongoDB's winning plan). */
function planNodes(plan: Document | undefined): Document[] {
  if (!plan || typeof plan !== 'object') return [];
  const children = [...((plan.Plans as Document[] | undefined) ?? []), plan.inputStage, ...((plan.inputStages as Document[] | undefined) ?? []), plan.queryPlan].filter(Boolean) as Document[];
  return [plan, ...children.flatMap(planNodes)];
}

/** The server's plan for a find (PostgreSQL's plan on the embedded store, MongoDB's winning plan). */
async function planOf(collection: string, filter: Document): Promise<Document | undefined> {
  const explained = await server.services.database.db.command({ explain: { find: collection, filter }, verbosity: 'queryPlanner' });
  const planner = explained.queryPlanner as Document;
  return (planner.Plan as Document | undefined) ?? (planner.winningPlan as Document | undefined);
}

/** The index names a plan uses ([] = it reads the whole collection). */
function indexesIn(plan: Document | undefined): string[] {
  return planNodes(plan)
    .map((n) => (n['Index Name'] as string | undefined) ?? (n.stage === 'IXSCAN' ? (n.indexName as string) : undefined))
    .filter((n): n is string => !!n);
}

async function indexesUsed(collection: string, filter: Document): Promise<string[]> {
  return indexesIn(await planOf(collection, filter));
}

/**
 * Indexes appear shortly after a collection is created on the embedded store: wait for them (up
 * to 20 s, for a loaded machine). Without one, the error shows the plan.
 */
async function eventuallyIndexed(collection: string, filter: Document): Promise<string[]> {
  let plan: Document | undefined;
  for (let i = 0; i < 80; i++) {
    plan = await planOf(collection, filter);
    const used = indexesIn(plan);
    if (used.length) return used;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`no index answers ${JSON.stringify(filter)}; the plan: ${JSON.stringify(plan)}`);
}

function searchFilter(type: string, query: string): Document {
  return searchToMongo(parseFhirSearch(type, query)).filter as Document;
}

describe('hot queries use an index', () => {
  it('Observation?subject=…&code=… (one patient, one code)', async () => {
    const used = await eventuallyIndexed(COLLECTION_NAMES.resources, searchFilter('Observation', 'subject=Patient/p7&code=http://loinc.org|1003-0'));
    expect(used.length).toBeGreaterThan(0);
  });

  it('one patient\'s resources of one type, by the key that selects exactly them, all clauses still applied', async () => {
    const filter = searchFilter('Observation', 'subject=Patient/p7&code=http://loinc.org|1003-0');
    // The type-in-compartment key, not the code (which grows with the store), is the top-level key.
    expect(filter).toMatchObject({ rt: 'Observation', patients: 'p7', keys: '_compartment=Observation|p7' });
    expect(await eventuallyIndexed(COLLECTION_NAMES.resources, filter)).not.toEqual([]);
    const found = await server.services.database.c.resources.find(filter as never, { projection: { _id: 1 } }).toArray();
    const expected = Array.from({ length: PER_PATIENT }, (_, i) => i).filter((i) => i % 5 === 3 && i !== PER_PATIENT - 1).map((i) => `Observation/p7-o${i}`);
    expect(found.map((d) => d._id).sort()).toEqual(expected.sort());
    // `patient` (Observation.subject.where(resolve() is Patient)) names the compartment too.
    const byPatient = searchFilter('Observation', 'patient=Patient/p7&code=http://loinc.org|1003-0');
    expect(byPatient).toMatchObject({ patients: 'p7', keys: '_compartment=Observation|p7' });
    expect((await server.services.database.c.resources.find(byPatient as never, { projection: { _id: 1 } }).toArray()).map((d) => d._id).sort()).toEqual(expected.sort());
  });

  it('a cross-patient search by code (cohort style)', async () => {
    expect(await eventuallyIndexed(COLLECTION_NAMES.resources, searchFilter('Observation', 'code=http://loinc.org|2000-0&value-quantity=gt2'))).not.toEqual([]);
  });

  it('a search by identifier', async () => {
    expect(await eventuallyIndexed(COLLECTION_NAMES.resources, searchFilter('Patient', 'identifier=https://hospital.example/mrn|MRN12'))).not.toEqual([]);
  });

  it('a patient compartment ($everything, timeline rebuild)', async () => {
    expect(await eventuallyIndexed(COLLECTION_NAMES.resources, { patients: 'p9', deleted: false })).not.toEqual([]);
  });

  it('a read by id, through the unique index on _id', async () => {
    // FerretDB names it "<table>__id__<hash>_idx", MongoDB "_id_".
    const used = await eventuallyIndexed(COLLECTION_NAMES.resources, { _id: 'Observation/p3-o4' });
    expect(used.some((name) => name === '_id_' || name.includes('__id__'))).toBe(true);
  });

  it('a timeline page', async () => {
    await server.services.timeline.rebuildPatient('p5');
    expect(await eventuallyIndexed(COLLECTION_NAMES.timeline, timelineMongoFilter('p5', { lanes: ['lab'] }) as Document)).not.toEqual([]);
  });

  it('a month of a long timeline (the embedded store pages a long record month by month)', async () => {
    await server.services.timeline.rebuildPatient('p6');
    expect(await eventuallyIndexed(COLLECTION_NAMES.timeline, { ...timelineMongoFilter('p6', { lanes: ['lab'] }), pm: 'p6|2025-01' } as Document)).not.toEqual([]);
  });

  it('a list of ids or keys ($in: _include, readMany, the timeline projection)', async () => {
    const ids = ['Observation/p3-o4', 'Observation/p8-o1', 'Patient/p2'];
    expect(await eventuallyIndexed(COLLECTION_NAMES.resources, { _id: { $in: ids }, deleted: false })).not.toEqual([]);
    const keys = ['subject=Patient/p4', 'subject=Patient/p5'];
    expect(await eventuallyIndexed(COLLECTION_NAMES.resources, { rt: 'Observation', deleted: false, keys: { $in: keys } })).not.toEqual([]);
    const found = await server.services.database.c.resources.find({ _id: { $in: ids }, deleted: false }).toArray();
    expect(found.map((d) => d._id).sort()).toEqual([...ids].sort());
    expect(await server.services.database.c.resources.countDocuments({ rt: 'Observation', keys: { $in: keys } })).toBe(2 * PER_PATIENT);
  });

  it('reads no more rows than a page needs when the filter is all equalities and nothing sorts', async () => {
    const filter = { rt: 'Observation', deleted: false };
    // (FerretDB's explain takes skip and limit only as 64-bit integers.)
    const explained = await server.services.database.db.command({ explain: { find: COLLECTION_NAMES.resources, filter, skip: Long.fromNumber(20), limit: Long.fromNumber(10) }, verbosity: 'queryPlanner' });
    if (server.services.database.equalityIndexOnly) {
      // The embedded store reports whether the limit reached PostgreSQL, and its plan has a Limit node.
      expect(explained.limitPushdown).toBe(true);
      expect(planNodes((explained.queryPlanner as Document).Plan as Document).some((n) => n['Node Type'] === 'Limit')).toBe(true);
    }
    const all = await server.services.database.c.resources.find(filter, { projection: { _id: 1 } }).toArray();
    const page = await server.services.database.c.resources.find(filter, { projection: { _id: 1 } }).skip(20).limit(10).toArray();
    expect(page).toEqual(all.slice(20, 30));
    // A range is applied after the rows are read: there the limit must not reach the database.
    const ranged = await server.services.database.c.resources.find(searchFilter('Observation', 'value-quantity=gt45') as never, { projection: { _id: 1 } }).limit(5).toArray();
    expect(ranged).toHaveLength(5);
  });

  it('answers a projected query exactly as the whole documents would (the embedded store reads only the fields it needs)', async () => {
    const c = server.services.database.c.resources;
    for (const filter of [
      searchFilter('Observation', 'subject=Patient/p7&value-quantity=gt20'),
      { $or: [{ _id: 'Patient/p3' }, { 'sp.value-quantity': { $exists: true }, patients: 'p4' }] },
    ] as Document[]) {
      const whole = await c.find(filter as never).sort({ _id: -1 }).toArray();
      const projected = await c.find(filter as never, { projection: { json: 1, patients: 1 } }).sort({ _id: -1 }).toArray();
      expect(whole.length).toBeGreaterThan(0);
      expect(projected).toEqual(whole.map((d) => ({ _id: d._id, json: d.json, patients: d.patients })));
    }
    // Sorting on a field the projection leaves out still sorts by it.
    const byValue = await c.find({ patients: 'p2', rt: 'Observation' }, { projection: { _id: 1 } }).sort({ 'sp.value-quantity': -1, _id: 1 }).limit(3).toArray();
    const wholeByValue = await c.find({ patients: 'p2', rt: 'Observation' }).sort({ 'sp.value-quantity': -1, _id: 1 }).limit(3).toArray();
    expect(byValue.map((d) => d._id)).toEqual(wholeByValue.map((d) => d._id));
  });

  it('narrows by a range in the database, and a limited query with a filter it cannot apply exactly stops once its page is full', async () => {
    const filter = searchFilter('Observation', 'code=http://loinc.org|1003-0&value-quantity=gt45');
    const explained = await server.services.database.db.command({ explain: { find: COLLECTION_NAMES.resources, filter, limit: Long.fromNumber(5) }, verbosity: 'queryPlanner' });
    if (server.services.database.equalityIndexOnly) {
      // The range reaches PostgreSQL as a jsonpath condition, and the rows are read a chunk at a time.
      const conditions = planNodes((explained.queryPlanner as Document).Plan as Document).map((n) => `${n.Filter ?? ''} ${n['Recheck Cond'] ?? ''}`);
      expect(conditions.join(' ')).toContain('"value-quantity"');
      expect(explained.chunkedFetch).toBe(true);
      expect(explained.limitPushdown).toBe(false);
    }
    const c = server.services.database.c.resources;
    // Matches only past many chunks (the last patient's Observations, by a condition FerretDB applies itself).
    const late = { rt: 'Observation', id: { $regex: '^p59-o4' }, 'sp.value-quantity.all': { $gte: 0 } };
    const every = await c.find({ $or: [late] } as never, { projection: { _id: 1 } }).toArray();
    expect(every).toHaveLength(11);
    const page = await c.find(late as never, { projection: { _id: 1 } }).skip(3).limit(5).toArray();
    expect(page).toHaveLength(5);
    expect(every.map((d) => d._id)).toEqual(expect.arrayContaining(page.map((d) => d._id)));
  });

  it('applies the equalities inside an $and in the database too (a search on two token parameters)', async () => {
    const c = server.services.database.c.resources;
    const filter = searchFilter('Observation', 'subject=Patient/p7&code=http://loinc.org|1003-0,http://loinc.org|1001-0');
    expect(filter.$and).toBeDefined(); // the second parameter's values are a $in inside an $and
    const explained = await server.services.database.db.command({ explain: { find: COLLECTION_NAMES.resources, filter, limit: Long.fromNumber(3) }, verbosity: 'queryPlanner' });
    if (server.services.database.equalityIndexOnly) {
      const conditions = planNodes((explained.queryPlanner as Document).Plan as Document).map((n) => `${n.Filter ?? ''} ${n['Recheck Cond'] ?? ''} ${n['Index Cond'] ?? ''}`);
      expect(conditions.join(' ')).toContain('1001-0');
      // Every condition is then applied exactly in SQL, so the limit goes there as well.
      expect(explained.limitPushdown).toBe(true);
    }
    const found = (await c.find(filter as never, { projection: { _id: 1 } }).toArray()).map((d) => d._id).sort();
    const reference = (await c.find({ $or: [filter] } as never, { projection: { _id: 1 } }).toArray()).map((d) => d._id).sort();
    expect(found).toHaveLength(20);
    expect(found).toEqual(reference);
    expect(await c.find(filter as never).limit(3).toArray()).toHaveLength(3);
  });

  it('counts as countDocuments does (the embedded store reads only _id when its SQL applies the filter exactly)', async () => {
    const { database } = server.services;
    for (const filter of [
      { rt: 'Observation', deleted: false },
      searchFilter('Observation', 'subject=Patient/p7&code=http://loinc.org|1003-0,http://loinc.org|1001-0'),
      searchFilter('Observation', 'code=http://loinc.org|1003-0&value-quantity=gt20'),
      { $or: [{ _id: 'Patient/p3' }, { patients: 'p4', rt: 'Observation' }] },
      { rt: 'Nothing' },
    ] as Document[]) {
      const expected = await database.c.resources.countDocuments(filter as never);
      expect(await countMatching(database.db, database.c.resources, filter as never), JSON.stringify(filter)).toBe(expected);
    }
    expect(await countMatching(database.db, database.c.resources, { rt: 'Observation', deleted: false })).toBe(PATIENTS * PER_PATIENT);
  });

  it('answers a range in the database as MongoDB does: arrays along the path, several elements, dates, other types', async () => {
    const probe = server.services.database.db.collection<{ _id: string } & Document>('range_probe');
    await probe.insertMany([
      { _id: 'a', v: { all: [1, 50] }, d: new Date('2025-03-01T00:00:00Z') },
      { _id: 'b', v: { all: [3] }, d: new Date('2024-01-01T00:00:00Z') },
      { _id: 'c', v: [{ all: 7 }, { all: -2.5 }], d: '2025-06-01' },
      { _id: 'd', v: { all: 'seven' }, d: 20250601 },
      { _id: 'f', v: { all: 4 }, d: new Date('2025-01-01T00:00:00Z') },
    ]);
    const filters: Document[] = [
      { 'v.all': { $gt: 2 } },
      { 'v.all': { $gt: 2, $lt: 4 } },
      { 'v.all': { $gt: 10, $lt: 4 } }, // [1, 50]: one element above 10, another below 4
      { 'v.all': { $gte: 7 } },
      { 'v.all': { $lt: 0 } },
      { 'v.all': { $lte: 4.0 } },
      { d: { $gte: new Date('2025-01-01T00:00:00Z') } },
      { d: { $lt: new Date('2025-01-01T00:00:00Z') } },
      { d: { $gt: 20000000 } },
    ];
    for (const filter of filters) {
      // A top-level $or is never pushed down: FerretDB's own filter gives the reference answer.
      const reference = (await probe.find({ $or: [filter] }).toArray()).map((d) => d._id).sort();
      const found = (await probe.find(filter).toArray()).map((d) => d._id).sort();
      expect(found, JSON.stringify(filter)).toEqual(reference);
      // IDR's searches put their ranges in an $and.
      expect((await probe.find({ $and: [filter] }).toArray()).map((d) => d._id).sort(), JSON.stringify(filter)).toEqual(reference);
      expect((await probe.find(filter).limit(1).toArray()).length, JSON.stringify(filter)).toBe(Math.min(reference.length, 1));
    }
    expect((await probe.find({ 'v.all': { $gt: 10, $lt: 4 } }).toArray()).map((d) => d._id)).toEqual(['a']);
  });

  it('answers $nin of strings in the database as MongoDB does: missing keys, arrays, other types', async () => {
    const probe = server.services.database.db.collection<{ _id: string } & Document>('nin_probe');
    await probe.insertMany([
      { _id: 'a', t: 'Patient' },
      { _id: 'b', t: 'Observation' },
      { _id: 'c', t: ['Observation', 'AuditEvent'] },
      { _id: 'd' },
      { _id: 'e', t: 5 },
      { _id: 'f', t: ['x', 7] },
      { _id: 'g', t: 'AuditEvent' },
    ]);
    for (const filter of [{ t: { $nin: ['Patient', 'AuditEvent'] } }, { t: { $nin: ['x'] } }, { $and: [{ t: { $nin: ['Observation'] } }] }] as Document[]) {
      const reference = (await probe.find({ $or: [filter] }).toArray()).map((d) => d._id).sort();
      expect((await probe.find(filter).toArray()).map((d) => d._id).sort(), JSON.stringify(filter)).toEqual(reference);
      expect((await probe.find(filter).limit(2).toArray()).length, JSON.stringify(filter)).toBe(Math.min(reference.length, 2));
    }
    expect((await probe.find({ t: { $nin: ['Patient', 'AuditEvent'] } }).toArray()).map((d) => d._id).sort()).toEqual(['b', 'd', 'e', 'f']);
    if (server.services.database.equalityIndexOnly) {
      const explained = await server.services.database.db.command({ explain: { find: 'nin_probe', filter: { t: { $nin: ['Patient'] } } }, verbosity: 'queryPlanner' });
      expect(JSON.stringify((explained.queryPlanner as Document).Plan)).toContain('NOT COALESCE');
    }
  });

  it('reports a read of the whole collection as such (the check above can fail)', async () => {
    await eventuallyIndexed(COLLECTION_NAMES.resources, { _id: 'Patient/p1' });
    expect(await indexesUsed(COLLECTION_NAMES.resources, { vid: 1 })).toEqual([]);
  });

  it('answers the searches right (the index narrows, the rest of the filter still applies)', async () => {
    const found = await server.services.database.c.resources.find(searchFilter('Observation', 'subject=Patient/p7&code=http://loinc.org|1003-0&value-quantity=gt20') as never).toArray();
    expect(found.map((d) => d.id).sort()).toEqual(['p7-o23', 'p7-o28', 'p7-o33', 'p7-o38', 'p7-o43', 'p7-o48']);
  });
});
