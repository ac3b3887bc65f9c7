import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Bundle, Resource } from '@medplum/fhirtypes';
import { fhirFetch, startTestServer, type TestServer } from './support/server.ts';
import { create, patient } from './support/factory.ts';

let server: TestServer;
let pid: string;
beforeAll(async () => {
  server = await startTestServer({ IDR_EXTERNAL_REFERENCE_BASES: 'https://pacs.example.org/fhir' });
  pid = (await create(server.fhir, patient('999900300'))).id;
});
afterAll(async () => {
  await server?.close();
});

const observation = (subject: string, extra: object = {}): object => ({ resourceType: 'Observation', status: 'final', code: { text: 'Hb' }, subject: { reference: subject }, ...extra });

/** POSTs and returns status plus the issues as "expression: text". */
async function post(resource: object): Promise<{ status: number; issues: string[] }> {
  const r = await fhirFetch(`${server.fhir}/${(resource as { resourceType: string }).resourceType}`, { method: 'POST', json: resource });
  const issues = r.body?.resourceType === 'OperationOutcome' ? r.body.issue.map((i: { expression?: string[]; details?: { text?: string } }) => `${i.expression?.[0] ?? ''}: ${i.details?.text ?? ''}`) : [];
  return { status: r.status, issues };
}

describe('references must resolve', () => {
  it('accepts a reference to a stored resource and refuses one to a resource IDR does not have, naming the element', async () => {
    expect((await post(observation(`Patient/${pid}`))).status).toBe(201);
    const missing = await post(observation('Patient/no-such-patient', { performer: [{ reference: `Patient/${pid}` }, { reference: 'Practitioner/nobody' }] }));
    expect(missing.status).toBe(400);
    expect(missing.issues).toEqual([
      'Observation.subject.reference: Reference Patient/no-such-patient does not exist in IDR',
      'Observation.performer[1].reference: Reference Practitioner/nobody does not exist in IDR',
    ]);
  });

  it('refuses a reference to a deleted resource and to a version that does not exist', async () => {
    const gone = await create(server.fhir, patient('999900301'));
    expect((await fhirFetch(`${server.fhir}/Patient/${gone.id}`, { method: 'DELETE' })).status).toBeLessThan(300);
    expect((await post(observation(`Patient/${gone.id}`))).issues).toEqual([`Observation.subject.reference: Reference Patient/${gone.id} was deleted`]);
    expect((await post(observation(`Patient/${pid}/_history/1`))).status).toBe(201);
    expect((await post(observation(`Patient/${pid}/_history/9`))).issues).toEqual([`Observation.subject.reference: Reference Patient/${pid}/_history/9 does not exist in IDR`]);
  });

  it('checks references on update too', async () => {
    const obs = await create(server.fhir, observation(`Patient/${pid}`) as Resource);
    const r = await fhirFetch(`${server.fhir}/Observation/${obs.id}`, { method: 'PUT', json: { ...obs, subject: { reference: 'Patient/never-was' } } });
    expect(r.status).toBe(400);
    expect(r.body.issue[0].expression).toEqual(['Observation.subject.reference']);
  });

  it('resolves #id against the contained resources, in the resource and inside contained ones', async () => {
    const contained = [{ resourceType: 'Practitioner', id: 'p1', name: [{ family: 'Visser' }] }];
    expect((await post(observation(`Patient/${pid}`, { contained, performer: [{ reference: '#p1' }] }))).status).toBe(201);
    expect((await post(observation(`Patient/${pid}`, { contained, performer: [{ reference: '#p2' }] }))).issues).toEqual(['Observation.performer[0].reference: Reference #p2 names no contained resource']);
    const nested = [{ resourceType: 'Specimen', id: 's1', subject: { reference: 'Patient/absent' } }];
    expect((await post(observation(`Patient/${pid}`, { contained: nested, specimen: { reference: '#s1' } }))).issues).toEqual(['Observation.contained[0].subject.reference: Reference Patient/absent does not exist in IDR']);
  });

  it('accepts absolute references only under a configured external base', async () => {
    expect((await post(observation(`Patient/${pid}`, { derivedFrom: [{ reference: 'https://pacs.example.org/fhir/ImagingStudy/1' }] }))).status).toBe(201);
    expect((await post(observation(`Patient/${pid}`, { derivedFrom: [{ reference: 'https://elsewhere.example.org/fhir/ImagingStudy/1' }] }))).issues[0]).toMatch(/^Observation\.derivedFrom\[0\]\.reference: .*not one of the configured external reference bases/);
  });

  it('says so in the CapabilityStatement: references are enforced', async () => {
    const cs = (await fhirFetch(`${server.fhir}/metadata`)).body;
    const observationCapability = cs.rest[0].resource.find((r: { type: string }) => r.type === 'Observation');
    expect(observationCapability.referencePolicy).toEqual(['literal', 'logical', 'enforced', 'local']);
  });

  it('refuses urn:uuid and conditional references outside a transaction', async () => {
    expect((await post(observation('urn:uuid:5f1c1c4e-9d8a-4a55-9a53-3f3b0a1e2b7c'))).issues[0]).toContain('resolves only inside a transaction Bundle');
    expect((await post(observation('Patient?identifier=x|y'))).issues[0]).toContain('conditional reference Patient?identifier=x|y was not resolved');
  });

  it('resolves conditional references in a transaction to their one match, and refuses one that matches nothing', async () => {
    const entry = (subject: string): Bundle => ({ resourceType: 'Bundle', type: 'transaction', entry: [{ resource: observation(subject) as never, request: { method: 'POST', url: 'Observation' } }] });
    const ok = await fhirFetch(server.fhir, { method: 'POST', json: entry('Patient?identifier=http://fhir.nl/fhir/NamingSystem/bsn|999900300') });
    expect(ok.status).toBe(200);
    expect(ok.body.entry[0].resource.subject.reference).toBe(`Patient/${pid}`);
    const none = await fhirFetch(server.fhir, { method: 'POST', json: entry('Patient?identifier=http://fhir.nl/fhir/NamingSystem/bsn|000000000') });
    expect(none.status).toBe(400);
    expect(none.body.issue[0].details.text).toContain('matches no resource');
  });

  it('lets transaction entries refer to each other, also to entries written later, and refuses the whole transaction on a dangling one', async () => {
    const ok: Bundle = {
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [
        // POSTs run before PUTs: the Observation is written before the Patient it refers to.
        { fullUrl: 'urn:uuid:0c1d5a4e-0000-4000-8000-000000000001', resource: observation('urn:uuid:0c1d5a4e-0000-4000-8000-000000000002') as never, request: { method: 'POST', url: 'Observation' } },
        { fullUrl: 'urn:uuid:0c1d5a4e-0000-4000-8000-000000000002', resource: patient('999900302'), request: { method: 'PUT', url: 'Patient?identifier=http://fhir.nl/fhir/NamingSystem/bsn|999900302' } },
      ],
    };
    const r = await fhirFetch(server.fhir, { method: 'POST', json: ok });
    expect(r.status).toBe(200);
    expect(r.body.entry.map((e: { response: { status: string } }) => e.response.status)).toEqual(['201 Created', '201 Created']);
    const bad: Bundle = { ...ok, entry: [...(ok.entry ?? []).slice(0, 1).map((e) => ({ ...e, resource: observation('Patient/not-here') as never })), (ok.entry ?? [])[1] as never] };
    const refused = await fhirFetch(server.fhir, { method: 'POST', json: bad });
    expect(refused.status).toBe(400);
    expect(refused.body.issue[0].expression).toEqual(['Observation.subject.reference']);
  });
});
