import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Bundle, Resource } from '@medplum/fhirtypes';
import { fhirFetch, startTestServer, type TestServer } from './support/server.ts';
import { LOINC, create, labObservation, patient, search } from './support/factory.ts';

let server: TestServer;
let p1: string;
let p2: string;
let o1: string;
let o2: string;
let o3: string;
let report: string;
let prov: string;
let practitioner: string;

beforeAll(async () => {
  server = await startTestServer();
  p1 = (await create(server.fhir, patient('999955560'))).id;
  p2 = (await create(server.fhir, patient('999955571'))).id;
  practitioner = (await create(server.fhir, { resourceType: 'Practitioner', name: [{ family: 'de Vries' }] } as Resource)).id;
  o1 = (await create(server.fhir, labObservation(p1, 'o1', { performer: [{ reference: `Practitioner/${practitioner}` }] }))).id;
  o2 = (await create(server.fhir, labObservation(p1, 'o2', { code: { coding: [{ system: LOINC, code: '6875-9' }] } }))).id;
  o3 = (await create(server.fhir, labObservation(p2, 'o3'))).id;
  report = (await create(server.fhir, { resourceType: 'DiagnosticReport', status: 'final', code: { text: 'Lab panel' }, subject: { reference: `Patient/${p1}` }, result: [{ reference: `Observation/${o1}` }, { reference: `Observation/${o2}` }] } as Resource)).id;
  prov = (await create(server.fhir, { resourceType: 'Provenance', target: [{ reference: `Observation/${o1}` }, { reference: `DiagnosticReport/${report}` }], recorded: '2024-03-07T15:31:00Z', agent: [{ who: { display: 'adapter' } }] } as Resource)).id;
});
afterAll(async () => {
  await server?.close();
});

const byMode = (b: Bundle, mode: string): string[] => (b.entry ?? []).filter((e) => e.search?.mode === mode).map((e) => `${e.resource?.resourceType}/${e.resource?.id}`).sort();

describe('_include', () => {
  it('Observation:subject adds each referenced Patient once, as include', async () => {
    const b = await search(server.fhir, 'Observation?_include=Observation:subject&_count=10');
    expect(byMode(b, 'match')).toHaveLength(3);
    expect(byMode(b, 'include')).toEqual([`Patient/${p1}`, `Patient/${p2}`].sort());
    expect(b.total).toBe(3); // includes are not counted
  });

  it('only for the current page', async () => {
    const b = await search(server.fhir, `Observation?_include=Observation:subject&_id=${o3}`);
    expect(byMode(b, 'include')).toEqual([`Patient/${p2}`]);
  });

  it('with a target type, and several includes', async () => {
    const typed = await search(server.fhir, `Observation?_id=${o1}&_include=Observation:performer:Practitioner&_include=Observation:subject:Patient`);
    expect(byMode(typed, 'include')).toEqual([`Patient/${p1}`, `Practitioner/${practitioner}`].sort());
    const wrong = await search(server.fhir, `Observation?_id=${o1}&_include=Observation:performer:Organization`);
    expect(byMode(wrong, 'include')).toEqual([]);
  });

  it('DiagnosticReport:result adds the result Observations', async () => {
    const b = await search(server.fhir, `DiagnosticReport?_id=${report}&_include=DiagnosticReport:result`);
    expect(byMode(b, 'match')).toEqual([`DiagnosticReport/${report}`]);
    expect(byMode(b, 'include')).toEqual([`Observation/${o1}`, `Observation/${o2}`].sort());
  });

  it('leaves out deleted targets', async () => {
    const p3 = (await create(server.fhir, patient('999955582'))).id;
    const o4 = (await create(server.fhir, labObservation(p3, 'o4'))).id;
    await fhirFetch(`${server.fhir}/Patient/${p3}`, { method: 'DELETE' });
    const b = await search(server.fhir, `Observation?_id=${o4}&_include=Observation:subject`);
    expect(byMode(b, 'include')).toEqual([]);
    await fhirFetch(`${server.fhir}/Observation/${o4}`, { method: 'DELETE' });
  });

  it('an include for another type or of a non-reference parameter is 400, even when nothing matches', async () => {
    for (const q of ['_include=Patient:organization', '_include=Observation:code', '_include=Observation:nonsense', '_id=none&_include=Patient:organization']) {
      const r = await fhirFetch(`${server.fhir}/Observation?${q}`);
      expect(r.status, q).toBe(400);
      expect(r.body.resourceType).toBe('OperationOutcome');
    }
  });
});

describe('_revinclude', () => {
  it('Provenance:target adds the Provenance of the matches', async () => {
    const b = await search(server.fhir, `Observation?_id=${o1},${o3}&_revinclude=Provenance:target`);
    expect(byMode(b, 'match')).toEqual([`Observation/${o1}`, `Observation/${o3}`].sort());
    expect(byMode(b, 'include')).toEqual([`Provenance/${prov}`]);
  });

  it('DiagnosticReport:result on Observations, and Observation:subject on Patients', async () => {
    const b = await search(server.fhir, `Observation?_id=${o2}&_revinclude=DiagnosticReport:result`);
    expect(byMode(b, 'include')).toEqual([`DiagnosticReport/${report}`]);
    const pts = await search(server.fhir, `Patient?_id=${p2}&_revinclude=Observation:subject`);
    expect(byMode(pts, 'match')).toEqual([`Patient/${p2}`]);
    expect(byMode(pts, 'include')).toEqual([`Observation/${o3}`]);
  });

  it('combined with _include, each resource appears once', async () => {
    const b = await search(server.fhir, `DiagnosticReport?_id=${report}&_include=DiagnosticReport:result&_revinclude=Provenance:target&_include=DiagnosticReport:subject`);
    const all = (b.entry ?? []).map((e) => `${e.resource?.resourceType}/${e.resource?.id}`);
    expect(new Set(all).size).toBe(all.length);
    expect(byMode(b, 'include')).toEqual([`Observation/${o1}`, `Observation/${o2}`, `Patient/${p1}`, `Provenance/${prov}`].sort());
  });

  it('an unknown revinclude type is 400', async () => {
    expect((await fhirFetch(`${server.fhir}/Observation?_revinclude=Nonsense:target`)).status).toBe(400);
    expect((await fhirFetch(`${server.fhir}/Observation?_revinclude=Provenance:nonsense`)).status).toBe(400);
  });
});
