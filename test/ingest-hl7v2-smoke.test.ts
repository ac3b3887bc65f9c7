import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fhirFetch, startTestServer, type TestServer } from './support/server.ts';
import { loadDemoData } from '../seed/load-demo.ts';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server?.close();
});

describe('demo data through the pipeline', () => {
  it('loads every seed message and a second load writes nothing new', async () => {
    const first = await loadDemoData(server.services, { patients: 2, imaging: false, letters: false });
    expect(first.failures).toEqual([]);
    expect(first.processed).toBe(first.messages);
    const patients = await fhirFetch(`${server.fhir}/Patient?_summary=count`);
    expect(patients.body.total).toBe(2);
    const obs = await fhirFetch(`${server.fhir}/Observation?_summary=count`);
    const second = await loadDemoData(server.services, { patients: 2, imaging: false, letters: false });
    expect(second.duplicate).toBe(second.messages);
    const obs2 = await fhirFetch(`${server.fhir}/Observation?_summary=count`);
    expect(obs2.body.total).toBe(obs.body.total);
  }, 300_000);
});
