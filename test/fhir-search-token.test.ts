import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fhirFetch, startTestServer, type TestServer } from './support/server.ts';
import { BSN, LOINC, MRN, SNOMED, create, labObservation, labels, patient, search } from './support/factory.ts';

let server: TestServer;
let p1: string;
let p2: string;
beforeAll(async () => {
  server = await startTestServer();
  p1 = (await create(server.fhir, patient('999911120'))).id;
  p2 = (await create(server.fhir, patient('999922230', { identifier: [{ system: BSN, value: '999922230' }, { value: 'LOCAL-7' }] }))).id;
  const local = { system: 'urn:oid:2.16.840.1.113883.2.4.3.11.999.5', code: 'HB', display: 'Hb' };
  await create(server.fhir, labObservation(p1, 'hb', { code: { coding: [{ system: LOINC, code: '718-7', display: 'Hemoglobin [Mass/volume] in Blood' }, local], text: 'Hemoglobin' } }));
  await create(server.fhir, labObservation(p1, 'ca153', { status: 'preliminary', code: { coding: [{ system: LOINC, code: '6875-9', display: 'Cancer Ag 15-3' }], text: 'CA 15-3 tumour marker' } }));
  await create(server.fhir, labObservation(p2, 'her2', { code: { coding: [{ system: SNOMED, code: '431396003', display: 'HER2 receptor status' }] }, category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'exam' }] }] }));
  await create(server.fhir, labObservation(p2, 'bp', { status: 'amended', category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'vital-signs' }] }], code: { coding: [{ system: LOINC, code: '85354-9' }], text: 'Bloeddruk' } }));
});
afterAll(async () => {
  await server?.close();
});

describe('token search', () => {
  it('_id, one or several (comma = OR)', async () => {
    const one = await search(server.fhir, `Patient?_id=${p1}`);
    expect(one.entry?.map((e) => e.resource?.id)).toEqual([p1]);
    const both = await search(server.fhir, `Patient?_id=${p1},${p2}`);
    expect(both.total).toBe(2);
    expect((await search(server.fhir, 'Patient?_id=does-not-exist')).total).toBe(0);
  });

  it('identifier as system|value, |value, value and system|', async () => {
    const ids = async (q: string): Promise<string[]> => ((await search(server.fhir, `Patient?${q}`)).entry ?? []).map((e) => e.resource?.id as string).sort();
    expect(await ids(`identifier=${BSN}|999911120`)).toEqual([p1]);
    expect(await ids('identifier=999911120')).toEqual([p1]);
    expect(await ids(`identifier=${encodeURIComponent(MRN)}|MRN-11120`)).toEqual([p1]);
    expect(await ids('identifier=|LOCAL-7')).toEqual([p2]);
    expect(await ids('identifier=|999911120')).toEqual([]); // has a system, so not "no system"
    expect(await ids(`identifier=${BSN}|`)).toEqual([p1, p2].sort());
    expect(await ids(`identifier=${encodeURIComponent(MRN)}|`)).toEqual([p1]);
    expect(await ids(`identifier=${BSN}|999911120,${BSN}|999922230`)).toEqual([p1, p2].sort());
    expect(await ids(`identifier=http://other|999911120`)).toEqual([]);
  });

  it('subject and patient as Patient/id and as a bare id', async () => {
    expect(await labels(server.fhir, `Observation?subject=Patient/${p1}`)).toEqual(['ca153', 'hb']);
    expect(await labels(server.fhir, `Observation?subject=${p1}`)).toEqual(['ca153', 'hb']);
    expect(await labels(server.fhir, `Observation?patient=Patient/${p2}`)).toEqual(['bp', 'her2']);
    expect(await labels(server.fhir, `Observation?patient=${p2}`)).toEqual(['bp', 'her2']);
    expect(await labels(server.fhir, `Observation?subject:Patient=${p2}`)).toEqual(['bp', 'her2']);
    expect(await labels(server.fhir, `Observation?subject=Patient/${p1},Patient/${p2}`)).toHaveLength(4);
  });

  it('code as system|code, code, system|, :not and :text', async () => {
    expect(await labels(server.fhir, `Observation?code=${LOINC}|718-7`)).toEqual(['hb']);
    expect(await labels(server.fhir, 'Observation?code=718-7')).toEqual(['hb']);
    expect(await labels(server.fhir, 'Observation?code=HB')).toEqual(['hb']); // local code kept
    expect(await labels(server.fhir, `Observation?code=${SNOMED}|718-7`)).toEqual([]);
    expect(await labels(server.fhir, `Observation?code=${LOINC}|`)).toEqual(['bp', 'ca153', 'hb']);
    expect(await labels(server.fhir, `Observation?code:not=${LOINC}|718-7`)).toEqual(['bp', 'ca153', 'her2']);
    expect(await labels(server.fhir, 'Observation?code:text=hemoglobin')).toEqual(['hb']);
    expect(await labels(server.fhir, 'Observation?code:text=tumour')).toEqual(['ca153']);
    expect(await labels(server.fhir, 'Observation?code:text=HER2')).toEqual(['her2']); // display text
    expect(await labels(server.fhir, `Observation?code=${LOINC}|718-7,${SNOMED}|431396003`)).toEqual(['hb', 'her2']);
  });

  it('repeated parameters are ANDed', async () => {
    expect(await labels(server.fhir, `Observation?code=${LOINC}|718-7&code=HB`)).toEqual(['hb']);
    expect(await labels(server.fhir, `Observation?code=${LOINC}|718-7&code=6875-9`)).toEqual([]);
    expect(await labels(server.fhir, `Observation?category=laboratory&status=final&subject=${p1}`)).toEqual(['hb']);
  });

  it('category and status', async () => {
    expect(await labels(server.fhir, 'Observation?category=laboratory')).toEqual(['ca153', 'hb']);
    expect(await labels(server.fhir, 'Observation?category=http://terminology.hl7.org/CodeSystem/observation-category|vital-signs')).toEqual(['bp']);
    expect(await labels(server.fhir, 'Observation?status=preliminary,amended')).toEqual(['bp', 'ca153']);
    expect(await labels(server.fhir, 'Observation?status:not=final')).toEqual(['bp', 'ca153']);
    expect((await search(server.fhir, 'Patient?gender=female')).total).toBe(2);
    expect((await search(server.fhir, 'Patient?gender=male')).total).toBe(0);
  });

  it(':missing', async () => {
    const obs = await create(server.fhir, labObservation(p1, 'nocat', { category: undefined }));
    expect(await labels(server.fhir, 'Observation?category:missing=true')).toEqual(['nocat']);
    expect(await labels(server.fhir, 'Observation?category:missing=false')).toHaveLength(4);
    expect(await labels(server.fhir, 'Observation?value-quantity:missing=true&category:missing=true')).toEqual(['nocat']);
    await fhirFetch(`${server.fhir}/Observation/${obs.id}`, { method: 'DELETE' });
  });
});

describe('Patient compartment parameters on Patient', () => {
  it('Patient?link finds the patients that link to the one named, not that patient alone', async () => {
    const merged = await create(server.fhir, patient('999933340', { link: [{ other: { reference: `Patient/${p1}` }, type: 'seealso' }] }));
    const found = await search(server.fhir, `Patient?link=Patient/${p1}`);
    expect(found.entry?.map((e) => e.resource?.id)).toEqual([merged.id]);
  });
});

describe('unknown search parameters', () => {
  it('are a 400 OperationOutcome naming the parameter', async () => {
    const r = await fhirFetch(`${server.fhir}/Observation?colour=blue`);
    expect(r.status).toBe(400);
    expect(r.body.resourceType).toBe('OperationOutcome');
    expect(JSON.stringify(r.body.issue)).toContain('colour');
  });

  it('are ignored with a warning under Prefer: handling=lenient', async () => {
    const r = await fhirFetch(`${server.fhir}/Observation?colour=blue&subject=${p1}`, { headers: { prefer: 'handling=lenient' } });
    expect(r.status).toBe(200);
    const entries = r.body.entry as { resource: { resourceType: string; issue?: { severity: string; details: { text: string } }[] }; search: { mode: string } }[];
    expect(entries.filter((e) => e.search.mode === 'match')).toHaveLength(2);
    const outcome = entries.find((e) => e.search.mode === 'outcome');
    expect(outcome?.resource.resourceType).toBe('OperationOutcome');
    expect(outcome?.resource.issue?.[0]?.severity).toBe('warning');
    expect(outcome?.resource.issue?.[0]?.details.text).toContain('colour');
    expect(r.body.total).toBe(2);
  });

  it('chains that cannot be resolved are 400 (the supported ones: fhir-search-chains.test.ts)', async () => {
    // subject may point to several types: the chain must name one
    expect((await fhirFetch(`${server.fhir}/Observation?subject.name=Jansen`)).status).toBe(400);
    expect((await fhirFetch(`${server.fhir}/Patient?_has:Observation:nonsense:code=718-7`)).status).toBe(400);
  });
});
