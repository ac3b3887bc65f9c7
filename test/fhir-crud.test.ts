import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fhirFetch, startTestServer, type TestServer } from './support/server.ts';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server?.close();
});

const patient = {
  resourceType: 'Patient',
  identifier: [{ system: 'http://fhir.nl/fhir/NamingSystem/bsn', value: '999911120' }],
  name: [{ family: 'Jansen', given: ['Anna'] }],
  gender: 'female',
  birthDate: '1968-04-12',
};

describe('FHIR CRUD over HTTP', () => {
  it('creates, reads, updates with If-Match, vreads and deletes', async () => {
    const created = await fhirFetch(`${server.fhir}/Patient`, { method: 'POST', json: patient });
    expect(created.status).toBe(201);
    expect(created.body.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(created.body.meta.versionId).toBe('1');
    expect(created.headers.get('etag')).toBe('W/"1"');
    expect(created.headers.get('location')).toBe(`${server.fhir}/Patient/${created.body.id}/_history/1`);
    const id = created.body.id as string;

    const read = await fhirFetch(`${server.fhir}/Patient/${id}`);
    expect(read.status).toBe(200);
    expect(read.body.name[0].family).toBe('Jansen');

    const updated = await fhirFetch(`${server.fhir}/Patient/${id}`, { method: 'PUT', headers: { 'if-match': 'W/"1"' }, json: { ...read.body, gender: 'other' } });
    expect(updated.status).toBe(200);
    expect(updated.body.meta.versionId).toBe('2');

    const stale = await fhirFetch(`${server.fhir}/Patient/${id}`, { method: 'PUT', headers: { 'if-match': 'W/"1"' }, json: { ...read.body, gender: 'male' } });
    expect(stale.status).toBe(412);
    expect(stale.body.resourceType).toBe('OperationOutcome');

    const v1 = await fhirFetch(`${server.fhir}/Patient/${id}/_history/1`);
    expect(v1.body.gender).toBe('female');

    const del = await fhirFetch(`${server.fhir}/Patient/${id}`, { method: 'DELETE' });
    expect(del.status).toBe(200);
    const gone = await fhirFetch(`${server.fhir}/Patient/${id}`);
    expect(gone.status).toBe(410);

    const history = await fhirFetch(`${server.fhir}/Patient/${id}/_history`);
    expect(history.body.type).toBe('history');
    expect(history.body.total).toBe(3);
    expect(history.body.entry.map((e: { request: { method: string } }) => e.request.method)).toEqual(['DELETE', 'PUT', 'POST']);
  });
});
