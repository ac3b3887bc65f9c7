import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Bundle, BundleEntry, BundleEntryRequest, Resource } from '@medplum/fhirtypes';
import { fhirFetch, startTestServer, type TestServer } from './support/server.ts';
import { BSN, create, labObservation, oncologyRecord, patient } from './support/factory.ts';

/**
 * Anything that works as a REST call works the same as a batch entry: each interaction is sent
 * both ways and the status and body (entry.resource, or entry.response.outcome when there is no
 * resource) must be equal. Writes go to twin resources; ids and timestamps are then normalised.
 */

let server: TestServer;
let pid: string;
let deletedId: string;

beforeAll(async () => {
  server = await startTestServer();
  pid = (await create(server.fhir, patient('999955501'))).id;
  for (const r of oncologyRecord(pid)) await create(server.fhir, r);
  const p = await create(server.fhir, patient('999955512', { gender: 'male' }));
  await fhirFetch(`${server.fhir}/Patient/${p.id}`, { method: 'PUT', json: { ...p, active: false } });
  deletedId = (await create(server.fhir, labObservation(pid, 'to-delete'))).id;
  await fhirFetch(`${server.fhir}/Observation/${deletedId}`, { method: 'DELETE' });
});
afterAll(async () => {
  await server?.close();
});

interface Answer {
  status: number;
  body: unknown;
}

/** The REST answer to an entry's request. */
async function rest(request: BundleEntryRequest, resource?: Resource): Promise<Answer> {
  const headers: Record<string, string> = {};
  if (request.ifMatch) headers['if-match'] = request.ifMatch;
  if (request.ifNoneExist) headers['if-none-exist'] = request.ifNoneExist;
  const r = await fhirFetch(`${server.fhir}/${request.url}`, { method: request.method, headers, ...(resource ? { json: resource } : {}) });
  return { status: r.status, body: r.body };
}

/** The batch answers to a list of entries, in order. */
async function batch(entries: BundleEntry[]): Promise<Answer[]> {
  const r = await fhirFetch(server.fhir, { method: 'POST', json: { resourceType: 'Bundle', type: 'batch', entry: entries } satisfies Bundle });
  expect(r.status).toBe(200);
  expect(r.body.type).toBe('batch-response');
  return (r.body.entry as BundleEntry[]).map((e) => ({ status: Number(e.response?.status.split(' ')[0]), body: e.resource ?? e.response?.outcome }));
}

/** Replaces the given ids and every lastUpdated instant, so twin writes compare equal. */
function normalised(answer: Answer, ids: Record<string, string>): Answer {
  let text = JSON.stringify(answer.body).replace(/"lastUpdated":"[^"]+"/g, '"lastUpdated":"<instant>"');
  for (const [id, name] of Object.entries(ids)) text = text.replaceAll(id, name);
  return { status: answer.status, body: JSON.parse(text) };
}

const reads = (): BundleEntryRequest[] => [
  { method: 'GET', url: `Patient/${pid}` },
  { method: 'GET', url: `Patient/${pid}?_elements=name,birthDate` },
  { method: 'GET', url: `Patient/${pid}/_history/1` },
  { method: 'GET', url: `Patient?identifier=${BSN}|999955501&_revinclude=Observation:subject&_revinclude=Condition:subject` },
  { method: 'GET', url: `DiagnosticReport?subject=Patient/${pid}&_include=DiagnosticReport:result&_include=DiagnosticReport:subject` },
  { method: 'GET', url: 'Observation?_summary=count' },
  { method: 'GET', url: `Observation?subject=${pid}&_sort=-date&_count=2&_elements=code` },
  { method: 'GET', url: `Patient/${pid}/$everything` },
  { method: 'GET', url: `Patient/${pid}/$everything?_count=3&_offset=3` },
  { method: 'GET', url: `Patient/${pid}/$timeline?_count=5` },
  { method: 'GET', url: `Patient/${pid}/_history` },
  { method: 'GET', url: 'Patient/_history?_count=5' },
  // errors
  { method: 'GET', url: 'Patient/does-not-exist' },
  { method: 'GET', url: `Observation/${deletedId}` },
  { method: 'GET', url: `Patient/${pid}/_history/99` },
  { method: 'GET', url: 'NotAType/1' },
  { method: 'GET', url: 'Patient?no-such-param=1' },
  { method: 'GET', url: 'Observation?date=not-a-date' },
  { method: 'GET', url: `Patient/${pid}/$no-such-operation` },
  { method: 'GET', url: `Patient/${pid}/_history/1/extra/segments` },
];

describe('a batch entry answers as the REST call does', () => {
  it('read, vread, search with _include/_revinclude, $everything, $timeline, _history and their errors', async () => {
    const requests = reads();
    const viaBatch = await batch(requests.map((request) => ({ request })));
    for (const [i, request] of requests.entries()) {
      expect(viaBatch[i], `${request.method} ${request.url}`).toEqual(await rest(request));
    }
    const statuses = viaBatch.map((a) => a.status);
    expect(statuses.slice(0, 12).every((s) => s === 200)).toBe(true);
    expect(statuses.slice(12)).toEqual([404, 410, 404, 404, 400, 400, 404, 404]);
    // The cases that used to differ: _include entries, $everything and _history are real Bundles.
    const included = (i: number): string[] => ((viaBatch[i]?.body as Bundle).entry ?? []).filter((e) => e.search?.mode === 'include').map((e) => e.resource?.resourceType ?? '');
    expect(included(3).sort()).toEqual(['Condition', 'Observation', 'Observation']);
    expect(included(4)).toEqual(['Patient']);
    expect((viaBatch[7]?.body as Bundle).type).toBe('searchset');
    expect((viaBatch[7]?.body as Bundle).entry?.length).toBeGreaterThan(5);
    expect((viaBatch[10]?.body as Bundle).type).toBe('history');
  });

  it('create, conditional create, update, create-on-update, conditional update, delete and write errors', async () => {
    const twinA = await create(server.fhir, patient('999955523'));
    const twinB = await create(server.fhir, patient('999955534'));
    const cases: { rest: [BundleEntryRequest, Resource?]; batch: [BundleEntryRequest, Resource?]; ids: Record<string, string> }[] = [];
    const same = (request: BundleEntryRequest, resource?: Resource): (typeof cases)[number] => ({ rest: [request, resource], batch: [request, resource], ids: {} });
    const twins = (make: (id: string, bsn: string) => [BundleEntryRequest, Resource?]): (typeof cases)[number] => ({
      rest: make(twinA.id, '999955523'),
      batch: make(twinB.id, '999955534'),
      ids: { [twinA.id]: '<twin>', [twinB.id]: '<twin>', '999955523': '<bsn>', '999955534': '<bsn>', 'MRN-55523': '<mrn>', 'MRN-55534': '<mrn>' },
    });
    cases.push(
      // create: a new resource each time (compared without its id)
      { rest: [{ method: 'POST', url: 'Observation' }, labObservation(pid, 'twin-create')], batch: [{ method: 'POST', url: 'Observation' }, labObservation(pid, 'twin-create')], ids: {} },
      // conditional create matching an existing resource: 200 and that resource
      same({ method: 'POST', url: 'Patient', ifNoneExist: `identifier=${BSN}|999955501` }, patient('999955501')),
      // update, with and without a matching If-Match
      twins((id, bsn) => [{ method: 'PUT', url: `Patient/${id}`, ifMatch: 'W/"1"' }, { ...patient(bsn), id, gender: 'other' }]),
      twins((id, bsn) => [{ method: 'PUT', url: `Patient/${id}` }, { ...patient(bsn), id, active: false }]),
      // conditional update of one match
      twins((_id, bsn) => [{ method: 'PUT', url: `Patient?identifier=${BSN}|${bsn}` }, patient(bsn, { birthDate: '1970-01-01' })]),
      // create-on-update with a client-chosen id
      { rest: [{ method: 'PUT', url: 'Patient/eq-rest-new' }, { ...patient('999955578'), id: 'eq-rest-new' }], batch: [{ method: 'PUT', url: 'Patient/eq-batch-new' }, { ...patient('999955580'), id: 'eq-batch-new' }], ids: { 'eq-rest-new': '<client-id>', 'eq-batch-new': '<client-id>', '999955578': '<bsn>', '999955580': '<bsn>', 'MRN-55578': '<mrn>', 'MRN-55580': '<mrn>' } },
      // delete, delete again, conditional delete without a match
      twins((id) => [{ method: 'DELETE', url: `Patient/${id}` }]),
      twins((id) => [{ method: 'DELETE', url: `Patient/${id}` }]),
      same({ method: 'DELETE', url: `Patient?identifier=${BSN}|000000000` }),
      // errors: invalid resource, id mismatch, stale If-Match, unknown type, resource of the wrong type
      same({ method: 'POST', url: 'Patient' }, { ...patient('999955545'), gender: 'unknown-gender' } as unknown as Resource),
      same({ method: 'PUT', url: `Patient/${pid}` }, { ...patient('999955501'), id: 'another-id' }),
      same({ method: 'PUT', url: `Patient/${pid}`, ifMatch: 'W/"99"' }, { ...patient('999955501'), id: pid }),
      same({ method: 'POST', url: 'NotAType' }, { resourceType: 'NotAType' } as unknown as Resource),
      same({ method: 'POST', url: 'Observation' }, patient('999955556')),
      same({ method: 'POST', url: 'Patient', ifNoneExist: 'family=Jansen' }, patient('999955567')),
    );
    const statuses: number[] = [];
    for (const c of cases) {
      const viaRest = await rest(...c.rest);
      const [viaBatch] = await batch([{ request: c.batch[0], ...(c.batch[1] ? { resource: c.batch[1] } : {}) }]);
      const createdIds = [viaRest, viaBatch].flatMap((a) => (a?.status === 201 && (a.body as Resource).id ? [(a.body as Resource).id as string] : []));
      const ids = { ...c.ids, ...Object.fromEntries(createdIds.map((id) => [id, '<new>'])) };
      expect(normalised(viaBatch as Answer, ids), `${c.batch[0].method} ${c.batch[0].url}`).toEqual(normalised(viaRest, ids));
      statuses.push(viaRest.status);
    }
    expect(statuses).toEqual([201, 200, 200, 200, 200, 201, 200, 200, 200, 400, 400, 412, 404, 400, 412]);
  });

  it('a transaction entry answers as the batch entry does', async () => {
    const requests = reads().slice(0, 12);
    const viaBatch = await batch(requests.map((request) => ({ request })));
    const r = await fhirFetch(server.fhir, { method: 'POST', json: { resourceType: 'Bundle', type: 'transaction', entry: requests.map((request) => ({ request })) } satisfies Bundle });
    expect(r.status).toBe(200);
    expect(r.body.type).toBe('transaction-response');
    const viaTransaction = (r.body.entry as BundleEntry[]).map((e) => ({ status: Number(e.response?.status.split(' ')[0]), body: e.resource ?? e.response?.outcome }));
    expect(viaTransaction).toEqual(viaBatch);
  });
});
