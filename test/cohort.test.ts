import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Bundle, Condition, Group, Parameters, Provenance, Resource } from '@medplum/fhirtypes';
import { authFetch, fhirFetch, startTestServer, type TestServer } from './support/server.ts';
import { userToken } from './support/auth.ts';
import { labObservation, patient } from './support/factory.ts';

/**
 * A cohort built by criteria (a Group whose characteristics are FHIR searches), evaluated by a data
 * scientist who may not read the records themselves; re-evaluated as data arrives, each evaluation
 * a new Group version with a Provenance; its members readable over GraphQL by count.
 */

let server: TestServer;
let scientist: string;
const ids: Record<string, string> = {};
const ICD10 = 'http://hl7.org/fhir/sid/icd-10';

function condition(pid: string, code: string): Condition {
  return {
    resourceType: 'Condition',
    clinicalStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-clinical', code: 'active' }] },
    verificationStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-ver-status', code: 'confirmed' }] },
    code: { coding: [{ system: ICD10, code }] },
    subject: { reference: `Patient/${pid}` },
  };
}

const COHORT: Group = {
  resourceType: 'Group',
  type: 'person',
  actual: true,
  name: 'Breast cancer, women, with a haemoglobin result',
  characteristic: [
    { code: { coding: [{ system: 'urn:idr:cohort', code: 'fhir-search' }], text: 'FHIR search' }, valueCodeableConcept: { text: `Condition?code:below=${ICD10}|C50` }, exclude: false },
    { code: { coding: [{ system: 'urn:idr:cohort', code: 'fhir-search' }], text: 'FHIR search' }, valueCodeableConcept: { text: 'Observation?code=http://loinc.org|718-7' }, exclude: false },
    { code: { coding: [{ system: 'urn:idr:cohort', code: 'fhir-search' }], text: 'FHIR search' }, valueCodeableConcept: { text: 'Patient?gender=male' }, exclude: true },
  ],
};

async function post(r: Resource): Promise<string> {
  const res = await fhirFetch(`${server.fhir}/${r.resourceType}`, { method: 'POST', json: r });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.id as string;
}

beforeAll(async () => {
  server = await startTestServer();
  for (const [key, bsn, gender] of [['anna', '999988801', 'female'], ['bea', '999988813', 'female'], ['carl', '999988825', 'male'], ['dora', '999988837', 'female']] as const) {
    ids[key] = await post({ ...patient(bsn), gender } as Resource);
  }
  for (const k of ['anna', 'bea', 'carl']) await post(condition(ids[k] as string, 'C50.9'));
  await post(condition(ids.dora as string, 'C18.7'));
  for (const k of ['anna', 'carl', 'dora']) await post(labObservation(ids[k] as string, 'Hb'));
  scientist = await userToken(server.url, 'scientist', 'openid user/Group.cruds');
});
afterAll(async () => {
  await server?.close();
});

const asScientist = (): Record<string, string> => ({ authorization: `Bearer ${scientist}` });

describe('a cohort built by criteria', () => {
  it('a data scientist creates and evaluates it without reading any record; each evaluation is a Group version with a Provenance', async () => {
    const created = await fhirFetch(`${server.fhir}/Group`, { method: 'POST', json: COHORT, headers: asScientist() });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    ids.cohort = created.body.id as string;
    // The scientist may not read the patients' records…
    expect((await fhirFetch(`${server.fhir}/Condition?code:below=${ICD10}|C50`, { headers: asScientist() })).status).toBe(403);
    // …but may evaluate the cohort: women with breast cancer (C50.*) and a haemoglobin result.
    const evaluated = await fhirFetch(`${server.fhir}/Group/${ids.cohort}/$evaluate`, { method: 'POST', headers: asScientist() });
    expect(evaluated.status, JSON.stringify(evaluated.body)).toBe(200);
    const params = evaluated.body as Parameters;
    expect(params.parameter?.find((p) => p.name === 'count')?.valueInteger).toBe(1);
    const group = params.parameter?.find((p) => p.name === 'group')?.resource as Group;
    expect(group.member?.map((m) => m.entity.reference)).toEqual([`Patient/${ids.anna}`]);
    expect(group.quantity).toBe(1);
    const provRef = params.parameter?.find((p) => p.name === 'provenance')?.valueReference?.reference;
    const prov = (await fhirFetch(`${server.fhir}/${provRef}`)).body as Provenance;
    expect(prov.agent[0]?.who?.display).toBe('C. de Vries');
    expect(prov.target[0]?.reference).toBe(`Group/${ids.cohort}/_history/${group.meta?.versionId}`);
  });

  it('is re-evaluated on demand as data arrives; the earlier result stays in the Group history', async () => {
    await post(labObservation(ids.bea as string, 'Hb'));
    const evaluated = await fhirFetch(`${server.fhir}/Group/${ids.cohort}/$evaluate`, { method: 'POST', headers: asScientist() });
    const group = (evaluated.body as Parameters).parameter?.find((p) => p.name === 'group')?.resource as Group;
    expect(group.member?.map((m) => m.entity.reference).sort()).toEqual([`Patient/${ids.anna}`, `Patient/${ids.bea}`].sort());
    const history = await fhirFetch(`${server.fhir}/Group/${ids.cohort}/_history`, { headers: asScientist() });
    expect((history.body as Bundle<Group>).entry?.map((e) => e.resource?.quantity)).toEqual([2, 1, undefined]);
  });

  it('over GraphQL: the cohort with its member count; members the caller may not read are withheld', async () => {
    const query = `{ cohort(id: "${ids.cohort}") { id name memberCount members { id } } }`;
    const asAdmin = await authFetch(`${server.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query }) });
    const body = (await asAdmin.json()) as { data: { cohort: { memberCount: number; members: { id: string }[]; name: string } } };
    expect(body.data.cohort).toMatchObject({ name: COHORT.name, memberCount: 2 });
    expect(body.data.cohort.members.map((m) => m.id).sort()).toEqual([ids.anna, ids.bea].sort());
    const res = await fetch(`${server.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', ...asScientist() }, body: JSON.stringify({ query }) });
    const forScientist = (await res.json()) as { data: { cohort: { memberCount: number; members: { id: string }[] } } };
    expect(forScientist.data.cohort.memberCount).toBe(2);
    expect(forScientist.data.cohort.members).toEqual([]);
  });

  it('a criterion that is not a FHIR search is refused, naming it', async () => {
    const bad = await fhirFetch(`${server.fhir}/Group`, { method: 'POST', json: { ...COHORT, characteristic: [{ ...COHORT.characteristic?.[0], valueCodeableConcept: { text: 'breast cancer patients' } }] } });
    const r = await fhirFetch(`${server.fhir}/Group/${bad.body.id}/$evaluate`, { method: 'POST' });
    expect(r.status).toBe(400);
    expect(r.body.issue[0].details.text).toContain('Group.characteristic[0]: "breast cancer patients" is not a FHIR search');
  });
});
