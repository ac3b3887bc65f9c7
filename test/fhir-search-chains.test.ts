import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Resource } from '@medplum/fhirtypes';
import { fhirFetch, startTestServer, type TestServer } from './support/server.ts';

/** Cohort-style searches: chained parameters, _has, and :below on hierarchical codes. */

let server: TestServer;
const ids: Record<string, string> = {};

async function create(r: Resource): Promise<string> {
  const res = await fhirFetch(`${server.fhir}/${r.resourceType}`, { method: 'POST', json: r });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.id as string;
}
async function ids_(query: string): Promise<string[]> {
  const r = await fhirFetch(`${server.fhir}/${query}`);
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  return (r.body.entry ?? []).map((e: { resource: { id: string } }) => e.resource.id).sort();
}

beforeAll(async () => {
  server = await startTestServer();
  ids.old = await create({ resourceType: 'Patient', birthDate: '1950-04-02', name: [{ family: 'Oudeman' }] });
  ids.young = await create({ resourceType: 'Patient', birthDate: '1985-09-12', name: [{ family: 'Jongsma' }] });
  const icd10 = 'http://hl7.org/fhir/sid/icd-10';
  ids.c50old = await create({ resourceType: 'Condition', subject: { reference: `Patient/${ids.old}` }, code: { coding: [{ system: icd10, code: 'C50.4' }] } } as Resource);
  ids.c18young = await create({ resourceType: 'Condition', subject: { reference: `Patient/${ids.young}` }, code: { coding: [{ system: icd10, code: 'C18.7' }] } } as Resource);
  ids.c509young = await create({ resourceType: 'Condition', subject: { reference: `Patient/${ids.young}` }, code: { coding: [{ system: icd10, code: 'C50.9' }] } } as Resource);
  const hb = { coding: [{ system: 'http://loinc.org', code: '718-7' }] };
  ids.hbOld = await create({ resourceType: 'Observation', status: 'final', code: hb, subject: { reference: `Patient/${ids.old}` }, valueQuantity: { value: 11 } } as Resource);
  ids.hbYoung = await create({ resourceType: 'Observation', status: 'final', code: hb, subject: { reference: `Patient/${ids.young}` }, valueQuantity: { value: 14 } } as Resource);
});
afterAll(async () => {
  await server?.close();
});

describe('chained parameters', () => {
  it('Observation?subject:Patient.birthdate=lt1960', async () => {
    expect(await ids_('Observation?subject:Patient.birthdate=lt1960')).toEqual([ids.hbOld]);
    expect(await ids_('Observation?subject:Patient.birthdate=ge1960&code=http://loinc.org|718-7')).toEqual([ids.hbYoung]);
  });

  it('names the type when the reference can point to several, and refuses what does not chain', async () => {
    const r = await fhirFetch(`${server.fhir}/Observation?subject.birthdate=lt1960`);
    expect(r.status).toBe(400);
    expect(r.body.issue[0].details.text).toMatch(/name the type/);
    expect((await fhirFetch(`${server.fhir}/Observation?status.birthdate=lt1960`)).status).toBe(400);
  });

  it('a chain that matches nothing matches nothing', async () => {
    expect(await ids_('Observation?subject:Patient.birthdate=lt1900')).toEqual([]);
  });
});

describe('_has', () => {
  it('Patient?_has:Condition:subject:code=… finds the patients with that condition', async () => {
    expect(await ids_('Patient?_has:Condition:subject:code=http://hl7.org/fhir/sid/icd-10|C18.7')).toEqual([ids.young]);
  });

  it('combines with :below and with other parameters', async () => {
    expect(await ids_('Patient?_has:Condition:subject:code:below=C50')).toEqual([ids.old, ids.young].sort());
    expect(await ids_('Patient?_has:Condition:subject:code:below=C50&birthdate=lt1960')).toEqual([ids.old]);
  });

  it('nests: patients with an observation whose subject has a C18 condition', async () => {
    expect(await ids_('Patient?_has:Observation:subject:subject:Patient._has:Condition:subject:code=http://hl7.org/fhir/sid/icd-10|C18.7')).toEqual([ids.young]);
  });

  it('refuses an unknown type or parameter, naming it', async () => {
    const r = await fhirFetch(`${server.fhir}/Patient?_has:Nonsense:subject:code=x`);
    expect(r.status).toBe(400);
    expect(r.body.issue[0].details.text).toMatch(/Nonsense/);
    expect((await fhirFetch(`${server.fhir}/Patient?_has:Condition:code:code=x`)).status).toBe(400);
  });
});

describe(':below on hierarchical codes', () => {
  it('ICD-10 C50 finds C50.4 and C50.9, with or without the system', async () => {
    expect(await ids_('Condition?code:below=C50')).toEqual([ids.c50old, ids.c509young].sort());
    expect(await ids_('Condition?code:below=http://hl7.org/fhir/sid/icd-10|C50')).toEqual([ids.c50old, ids.c509young].sort());
    expect(await ids_('Condition?code:below=C18')).toEqual([ids.c18young]);
  });
});
