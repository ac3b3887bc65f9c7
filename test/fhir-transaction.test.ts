import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Bundle, BundleEntry, Resource } from '@medplum/fhirtypes';
import { fhirFetch, startTestServer, type TestServer } from './support/server.ts';
import { BSN, create, labObservation, patient, search } from './support/factory.ts';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server?.close();
});

const post = (bundle: Bundle) => fhirFetch(server.fhir, { method: 'POST', json: bundle });
const tx = (entry: BundleEntry[]): Bundle => ({ resourceType: 'Bundle', type: 'transaction', entry });
const urn = (n: number): string => `urn:uuid:00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;
const obsEntry = (patientRef: string, label: string, extra: Record<string, unknown> = {}): BundleEntry => ({ fullUrl: urn(900 + label.length), resource: { ...labObservation('x', label), subject: { reference: patientRef }, ...extra } as Resource, request: { method: 'POST', url: 'Observation' } });

/** Totals that any leftover of a failed transaction would change. */
async function snapshot(): Promise<Record<string, number | undefined>> {
  const out: Record<string, number | undefined> = {};
  for (const t of ['Patient', 'Observation', 'DiagnosticReport']) {
    out[t] = (await search(server.fhir, `${t}?_summary=count`)).total;
    out[`${t}/_history`] = ((await fhirFetch(`${server.fhir}/${t}/_history?_count=0`)).body as Bundle).total;
  }
  return out;
}

describe('batch', () => {
  it('runs entries independently: one failing does not affect the others', async () => {
    const existing = await create(server.fhir, patient('999900101'));
    const r = await post({
      resourceType: 'Bundle',
      type: 'batch',
      entry: [
        { resource: patient('999900112'), request: { method: 'POST', url: 'Patient' } },
        { resource: { ...patient('999900123'), gender: 'x' } as unknown as Resource, request: { method: 'POST', url: 'Patient' } },
        { request: { method: 'GET', url: `Patient/${existing.id}` } },
        { request: { method: 'GET', url: 'Patient/does-not-exist' } },
        { request: { method: 'GET', url: `Patient?identifier=${BSN}|999900101` } },
        { resource: { ...existing, gender: 'other' }, request: { method: 'PUT', url: `Patient/${existing.id}` } },
        { request: { method: 'POST' } as BundleEntry['request'] },
      ],
    });
    expect(r.status).toBe(200);
    expect(r.body.type).toBe('batch-response');
    const statuses = (r.body.entry as BundleEntry[]).map((e) => e.response?.status.split(' ')[0]);
    expect(statuses).toEqual(['201', '400', '200', '404', '200', '200', '400']);
    expect(r.body.entry[1].response.outcome.resourceType).toBe('OperationOutcome');
    expect(r.body.entry[4].resource.total).toBe(1);
    expect((await search(server.fhir, `Patient?identifier=${BSN}|999900112`)).total).toBe(1);
    expect((await search(server.fhir, `Patient?identifier=${BSN}|999900123`)).total).toBe(0);
    expect((await fhirFetch(`${server.fhir}/Patient/${existing.id}`)).body.gender).toBe('other');
  });
});

describe('transaction', () => {
  it('resolves urn:uuid references between entries to the new ids', async () => {
    const r = await post(tx([
      { fullUrl: urn(1), resource: patient('999900134'), request: { method: 'POST', url: 'Patient' } },
      obsEntry(urn(1), 'hb'),
      { fullUrl: urn(3), resource: { resourceType: 'DiagnosticReport', status: 'final', code: { text: 'Panel' }, subject: { reference: urn(1) }, result: [{ reference: urn(900 + 2) }] } as Resource, request: { method: 'POST', url: 'DiagnosticReport' } },
    ]));
    expect(r.status).toBe(200);
    expect(r.body.type).toBe('transaction-response');
    const [pe, oe, de] = r.body.entry as BundleEntry[];
    expect(pe?.response?.status).toBe('201 Created');
    const pid = pe?.resource?.id as string;
    const obs = (await fhirFetch(`${server.fhir}/Observation/${oe?.resource?.id}`)).body;
    expect(obs.subject.reference).toBe(`Patient/${pid}`);
    const report = (await fhirFetch(`${server.fhir}/DiagnosticReport/${de?.resource?.id}`)).body;
    expect(report.result[0].reference).toBe(`Observation/${obs.id}`);
    expect((await search(server.fhir, `Observation?subject=Patient/${pid}`)).total).toBe(1);
    const everything = (await fhirFetch(`${server.fhir}/Patient/${pid}/$everything`)).body as Bundle;
    expect(everything.total).toBe(3);
  });

  it('conditional entries: If-None-Exist reuses the match, PUT Type?criteria updates it', async () => {
    const existing = await create(server.fhir, patient('999900145'));
    const r = await post(tx([
      { fullUrl: urn(11), resource: patient('999900145', { gender: 'male' }), request: { method: 'POST', url: 'Patient', ifNoneExist: `identifier=${BSN}|999900145` } },
      obsEntry(urn(11), 'cond'),
      { fullUrl: urn(12), resource: patient('999900156'), request: { method: 'PUT', url: `Patient?identifier=${BSN}|999900156` } },
      { resource: { ...existing, active: false }, request: { method: 'PUT', url: `Patient?identifier=${BSN}|999900145` } },
    ]));
    expect(r.status).toBe(200);
    const entries = r.body.entry as BundleEntry[];
    expect(entries.map((e) => e.response?.status)).toEqual(['200 OK', '201 Created', '201 Created', '200 OK']);
    expect(entries[0]?.resource?.id).toBe(existing.id);
    const obs = (await fhirFetch(`${server.fhir}/Observation/${entries[1]?.resource?.id}`)).body;
    expect(obs.subject.reference).toBe(`Patient/${existing.id}`);
    const now = (await fhirFetch(`${server.fhir}/Patient/${existing.id}`)).body;
    expect([now.active, now.gender, now.meta.versionId]).toEqual([false, 'female', '2']);
    expect((await search(server.fhir, `Patient?identifier=${BSN}|999900156`)).total).toBe(1);
  });

  it('leaves nothing behind when the LAST entry is invalid', async () => {
    const before = await snapshot();
    const r = await post(tx([
      { fullUrl: urn(21), resource: patient('999900167'), request: { method: 'POST', url: 'Patient' } },
      obsEntry(urn(21), 'ok'),
      { resource: { resourceType: 'Observation', status: 'not-a-status', code: { text: 'x' } } as unknown as Resource, request: { method: 'POST', url: 'Observation' } },
    ]));
    expect(r.status).toBe(400);
    expect(r.body.resourceType).toBe('OperationOutcome');
    expect(JSON.stringify(r.body)).toContain('entry[2]');
    expect(await snapshot()).toEqual(before);
    expect((await search(server.fhir, `Patient?identifier=${BSN}|999900167`)).total).toBe(0);
  });

  it('rolls back writes already made when the LAST entry conflicts', async () => {
    const keep = await create(server.fhir, patient('999900178'));
    const other = await create(server.fhir, patient('999900189'));
    const gone = await create(server.fhir, labObservation(keep.id, 'to-delete'));
    const before = await snapshot();
    const r = await post(tx([
      { request: { method: 'DELETE', url: `Observation/${gone.id}` } },
      { fullUrl: urn(31), resource: patient('999900190'), request: { method: 'POST', url: 'Patient' } },
      obsEntry(urn(31), 'new'),
      { resource: { ...keep, gender: 'male', name: [{ family: 'Gewijzigd' }] }, request: { method: 'PUT', url: `Patient/${keep.id}` } },
      { resource: { ...other, gender: 'male' }, request: { method: 'PUT', url: `Patient/${other.id}`, ifMatch: 'W/"7"' } },
    ]));
    expect(r.status).toBe(412);
    expect(r.body.resourceType).toBe('OperationOutcome');
    expect(await snapshot()).toEqual(before);
    const back = (await fhirFetch(`${server.fhir}/Patient/${keep.id}`)).body;
    expect(back).toEqual(keep); // old version and content, meta included
    const h = (await fhirFetch(`${server.fhir}/Patient/${keep.id}/_history`)).body as Bundle;
    expect(h.total).toBe(1);
    expect((await fhirFetch(`${server.fhir}/Observation/${gone.id}`)).status).toBe(200);
    expect((await search(server.fhir, `Patient?identifier=${BSN}|999900190`)).total).toBe(0);
    expect((await search(server.fhir, 'Patient?family=Gewijzigd')).total).toBe(0);
    // and the same transaction with the right version succeeds
    const ok = await post(tx([{ resource: { ...other, gender: 'male' }, request: { method: 'PUT', url: `Patient/${other.id}`, ifMatch: 'W/"1"' } }]));
    expect(ok.status).toBe(200);
  });

  it('fails with 412 when a conditional entry matches several resources, writing nothing', async () => {
    await create(server.fhir, patient('999900201', { name: [{ family: 'Tweeling' }] }));
    await create(server.fhir, patient('999900212', { name: [{ family: 'Tweeling' }] }));
    const before = await snapshot();
    const r = await post(tx([
      { resource: patient('999900223'), request: { method: 'POST', url: 'Patient' } },
      { resource: patient('999900234'), request: { method: 'POST', url: 'Patient', ifNoneExist: 'family=Tweeling' } },
    ]));
    expect(r.status).toBe(412);
    expect(await snapshot()).toEqual(before);
  });

  it('rejects a reference to a urn:uuid that no entry has', async () => {
    const before = await snapshot();
    const r = await post(tx([{ fullUrl: urn(41), resource: patient('999900245'), request: { method: 'POST', url: 'Patient' } }, obsEntry(urn(99), 'dangling')]));
    expect(r.status).toBe(400);
    expect(await snapshot()).toEqual(before);
  });

  it('rejects a Bundle that is not a batch or transaction', async () => {
    expect((await post({ resourceType: 'Bundle', type: 'collection', entry: [] })).status).toBe(400);
    expect((await fhirFetch(server.fhir, { method: 'POST', json: patient('1') })).status).toBe(400);
  });
});
