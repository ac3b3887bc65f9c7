import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from './support/server.ts';
import { loadDemoData } from '../seed/load-demo.ts';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
  await loadDemoData(server.services, { patients: 1, imaging: false, letters: false });
}, 300_000);
afterAll(async () => {
  await server?.close();
});

describe('timeline rebuild', () => {
  it('rebuilding a patient from scratch gives the same events as projecting on every write', async () => {
    const { timeline, database } = server.services;
    const patient = (await database.c.resources.findOne({ rt: 'Patient' }))?.id as string;
    const snapshot = async (): Promise<unknown[]> =>
      (await timeline.events.find({ patient }).sort({ _id: 1 }).toArray()).map(({ lastUpdated: _l, ...e }) => e);
    const incremental = await snapshot();
    expect(incremental.length).toBeGreaterThan(10);
    const n = await timeline.rebuildPatient(patient);
    expect(n).toBe(incremental.length);
    expect(await snapshot()).toEqual(incremental);
  });
});
