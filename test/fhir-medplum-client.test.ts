import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MedplumClient, OperationOutcomeError, getReferenceString } from '@medplum/core';
import type { Bundle, Observation, Patient, Resource } from '@medplum/fhirtypes';
import { startTestServer, type TestServer } from './support/server.ts';
import { BSN, LOINC, labObservation, oncologyRecord, patient, withoutMeta } from './support/factory.ts';

let server: TestServer;
let medplum: MedplumClient;
const requests: string[] = [];

beforeAll(async () => {
  server = await startTestServer();
  const recordingFetch: typeof fetch = (input, init) => {
    requests.push(`${init?.method ?? 'GET'} ${new URL(String(input)).pathname}`);
    return fetch(input, init);
  };
  medplum = new MedplumClient({ baseUrl: `${server.url}/`, fhirUrlPath: 'fhir', fetch: recordingFetch, cacheTime: 0 });
  // The client sends the bearer token itself (Authorization: Bearer …), as a SMART client would.
  medplum.setAccessToken(server.token);
});
afterAll(async () => {
  await server?.close();
});

describe('MedplumClient with a bearer token against the running server', () => {
  it('createResource, readResource, updateResource, readHistory, deleteResource', async () => {
    const sent = patient('999933301');
    const created = await medplum.createResource(sent);
    expect(created.id).toBeDefined();
    expect(created.meta?.versionId).toBe('1');
    const read = await medplum.readResource('Patient', created.id);
    expect(withoutMeta(read)).toEqual(sent);

    const updated = await medplum.updateResource({ ...read, gender: 'other' });
    expect(updated.meta?.versionId).toBe('2');
    expect((await medplum.readResource('Patient', created.id)).gender).toBe('other');
    const v1 = await medplum.readVersion('Patient', created.id, '1');
    expect(v1.gender).toBe('female');
    const history = await medplum.readHistory('Patient', created.id);
    expect(history.entry?.map((e) => e.resource?.meta?.versionId)).toEqual(['2', '1']);

    await medplum.deleteResource('Patient', created.id);
    await expect(medplum.readResource('Patient', created.id)).rejects.toThrow(OperationOutcomeError);
    // the client never needed anything but the FHIR API
    expect(requests.every((r) => r.split(' ')[1]?.startsWith('/fhir/'))).toBe(true);
  });

  it('searchResources, searchOne, search with paging and a reference', async () => {
    const p = await medplum.createResource(patient('999933312') as Patient);
    for (let i = 0; i < 5; i++) await medplum.createResource(labObservation(p.id, `mc${i}`, { valueQuantity: { value: 7 + i / 10, unit: 'mmol/L' } }) as Observation);
    const all = await medplum.searchResources('Observation', { subject: getReferenceString(p), _sort: 'value-quantity' });
    expect(all).toHaveLength(5);
    expect(all.map((o) => o.valueQuantity?.value)).toEqual([7, 7.1, 7.2, 7.3, 7.4]);
    expect(all.bundle.total).toBe(5);
    const two = await medplum.search('Observation', `subject=Patient/${p.id}&_count=2`);
    expect(two.entry).toHaveLength(2);
    expect(two.link?.some((l) => l.relation === 'next')).toBe(true);
    const one = await medplum.searchOne('Patient', { identifier: `${BSN}|999933312` });
    expect(one?.id).toBe(p.id);
    const none = await medplum.searchResources('Observation', `code=${LOINC}|0000-0`);
    expect(none).toHaveLength(0);
    let pages = 0;
    let seen = 0;
    for await (const page of medplum.searchResourcePages('Observation', { subject: `Patient/${p.id}`, _count: '2' })) {
      pages++;
      seen += page.length;
    }
    expect([pages, seen]).toEqual([3, 5]);
  });

  it('createResourceIfNoneExist and upsertResource', async () => {
    const a = await medplum.createResourceIfNoneExist(patient('999933323') as Patient, `identifier=${BSN}|999933323`);
    const b = await medplum.createResourceIfNoneExist(patient('999933323', { gender: 'male' }) as Patient, `identifier=${BSN}|999933323`);
    expect(b.id).toBe(a.id);
    const up = await medplum.upsertResource(patient('999933323', { active: false }) as Patient, { identifier: `${BSN}|999933323` });
    expect(up.id).toBe(a.id);
    expect(up.active).toBe(false);
  });

  it('executeBatch with a transaction and a batch', async () => {
    const tx: Bundle = {
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [
        { fullUrl: 'urn:uuid:6f1c4c9e-1111-4c1e-9a57-000000000001', resource: patient('999933334') as Patient, request: { method: 'POST', url: 'Patient' } },
        ...oncologyRecord('urn:uuid:6f1c4c9e-1111-4c1e-9a57-000000000001').slice(2, 6).map((r) => ({ resource: { ...r, subject: { reference: 'urn:uuid:6f1c4c9e-1111-4c1e-9a57-000000000001' } } as Resource, request: { method: 'POST' as const, url: r.resourceType } })),
      ],
    };
    const result = await medplum.executeBatch(tx);
    expect(result.type).toBe('transaction-response');
    expect(result.entry?.every((e) => e.response?.status === '201 Created')).toBe(true);
    const pid = result.entry?.[0]?.resource?.id as string;
    const inCompartment = await medplum.searchResources('Observation', { subject: `Patient/${pid}` });
    expect(inCompartment).toHaveLength(2);

    const batch = await medplum.executeBatch({
      resourceType: 'Bundle',
      type: 'batch',
      entry: [{ request: { method: 'GET', url: `Patient/${pid}` } }, { request: { method: 'GET', url: 'Patient/missing-one' } }],
    });
    expect(batch.entry?.map((e) => e.response?.status.slice(0, 3))).toEqual(['200', '404']);
  });

  it('surfaces server errors as OperationOutcomeError with the outcome', async () => {
    const err = await medplum.createResource({ resourceType: 'Patient', gender: 'x' } as unknown as Patient).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OperationOutcomeError);
    expect((err as OperationOutcomeError).outcome.issue?.[0]?.expression).toEqual(['Patient.gender']);
  });
});
