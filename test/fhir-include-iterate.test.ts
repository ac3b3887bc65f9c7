import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Bundle } from '@medplum/fhirtypes';
import { fhirFetch, startTestServer, type TestServer } from './support/server.ts';
import { labObservation, patient } from './support/factory.ts';

/** _include:iterate and _revinclude:iterate: includes applied to what was included, round after round. */

let server: TestServer;
const ids: Record<string, string> = {};

async function post(r: object): Promise<string> {
  const res = await fhirFetch(`${server.fhir}/${(r as { resourceType: string }).resourceType}`, { method: 'POST', json: r });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.id as string;
}

beforeAll(async () => {
  server = await startTestServer();
  ids.gp = await post({ resourceType: 'Practitioner', name: [{ family: 'Huisarts' }] });
  ids.patient = await post({ ...patient('999955501'), generalPractitioner: [{ reference: `Practitioner/${ids.gp}` }] });
  ids.obs = await post(labObservation(ids.patient, 'iterate'));
  ids.provenance = await post({ resourceType: 'Provenance', target: [{ reference: `Observation/${ids.obs}` }], recorded: '2026-11-01T10:00:00Z', agent: [{ who: { reference: `Practitioner/${ids.gp}` } }] });
});
afterAll(async () => {
  await server?.close();
});

const kinds = (b: Bundle): string[] => (b.entry ?? []).map((e) => `${e.search?.mode}:${e.resource?.resourceType}`).sort();

describe('_include:iterate', () => {
  it('follows a reference of an included resource (Observation → Patient → general practitioner)', async () => {
    const plain = await fhirFetch(`${server.fhir}/Observation?_id=${ids.obs}&_include=Observation:subject&_include=Patient:general-practitioner`);
    expect(plain.status).toBe(400);
    expect(JSON.stringify(plain.body)).toContain('_include:iterate');
    const res = await fhirFetch(`${server.fhir}/Observation?_id=${ids.obs}&_include=Observation:subject&_include:iterate=Patient:general-practitioner`);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(kinds(res.body)).toEqual(['include:Patient', 'include:Practitioner', 'match:Observation']);
  });

  it('_revinclude:iterate finds what points at revincluded resources (Patient ← Observation ← Provenance)', async () => {
    const res = await fhirFetch(`${server.fhir}/Patient?_id=${ids.patient}&_revinclude=Observation:subject&_revinclude:iterate=Provenance:target`);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(kinds(res.body)).toEqual(['include:Observation', 'include:Provenance', 'match:Patient']);
    const without = await fhirFetch(`${server.fhir}/Patient?_id=${ids.patient}&_revinclude=Observation:subject`);
    expect(kinds(without.body)).toEqual(['include:Observation', 'match:Patient']);
  });
});
