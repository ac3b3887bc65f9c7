import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Observation, Patient } from '@medplum/fhirtypes';
import { loadConfig } from '../api/config.ts';
import { startServer, type RunningServer } from '../api/server.ts';
import { systemContext } from '../store/request-context.ts';
import { TIMELINE_TASK } from '../timeline/repository.ts';
import { fhirFetch, startTestServer, type TestServer } from './support/server.ts';
import { checkIntegrity } from './support/store-integrity.ts';

/**
 * Derived data from the durable outbox: what a write must re-derive is recorded with it, so a
 * process that stopped between a write and its projection, or a transaction rolled back after its
 * first writes were projected, leaves a timeline that still ends up equal to the resources.
 */

const observation = (subject: string, value: number): Observation => ({
  resourceType: 'Observation',
  status: 'final',
  code: { coding: [{ system: 'http://loinc.org', code: '1742-6', display: 'ALT' }] },
  subject: { reference: subject },
  effectiveDateTime: '2025-03-01T08:30:00Z',
  valueQuantity: { value, unit: 'U/L', system: 'http://unitsofmeasure.org', code: 'U/L' },
});

describe('the derived-data outbox', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(async () => {
    await server?.close();
  });

  it('a REST write leaves its event and no outbox entry', async () => {
    const p = await fhirFetch(`${server.fhir}/Patient`, { method: 'POST', json: { resourceType: 'Patient', name: [{ family: 'Outbox' }] } });
    const o = await fhirFetch(`${server.fhir}/Observation`, { method: 'POST', json: observation(`Patient/${p.body.id}`, 13) });
    expect(o.status).toBe(201);
    const events = await server.services.timeline.events.find({ patient: p.body.id }).toArray();
    expect(events.map((e) => e.anchor)).toEqual([`Observation/${o.body.id}`]);
    expect(await server.services.outbox.entries.countDocuments({ refs: `Observation/${o.body.id}` })).toBe(0);
  });

  it('a transaction rolled back after its first writes were projected leaves no event of them', async () => {
    const family = `Rollback${randomBytes(3).toString('hex')}`;
    const r = await fhirFetch(server.fhir, {
      method: 'POST',
      json: {
        resourceType: 'Bundle',
        type: 'transaction',
        entry: [
          { fullUrl: 'urn:uuid:6a1c4f0e-0000-4000-8000-000000000001', resource: { resourceType: 'Patient', name: [{ family }] }, request: { method: 'POST', url: 'Patient' } },
          { resource: observation('urn:uuid:6a1c4f0e-0000-4000-8000-000000000001', 113), request: { method: 'POST', url: 'Observation' } },
          { resource: observation('Patient/no-such-patient', 1), request: { method: 'POST', url: 'Observation' } },
        ],
      },
    });
    expect(r.status).toBe(400);
    // The journal is gone (rolled back): its outbox entry is due and re-derives what it touched.
    await server.services.outbox.processDue();
    expect(await server.services.timeline.events.countDocuments({ summary: /113 U\/L/ })).toBe(0);
    expect(await server.services.outbox.pending()).toBe(0);
    const report = await checkIntegrity(server.services.database);
    expect(report.timelineDifferences).toEqual([]);
  });
});

describe('the derived-data outbox across a restart', () => {
  it('what a stopped process recorded but did not derive is derived by the next start', async () => {
    const dbName = `idr_test_${randomBytes(6).toString('hex')}`;
    const env = { PORT: '0', HOST: '127.0.0.1', MONGODB_URL: inject('mongoUrl'), IDR_DB_NAME: dbName, LOG_LEVEL: 'silent', NODE_ENV: 'test', IDR_MLLP_PORT: 'off' };
    let second: RunningServer | undefined;
    try {
      const first = await startServer(loadConfig(env));
      // Written the way ingestion writes (projection left to its caller), recorded, then stopped
      // before the derivation ran: what a crash between the write and the projection leaves.
      const ctx = systemContext('ingestion');
      const { repo, outbox, timeline } = first.services;
      const patient = (await repo.create(ctx, { resourceType: 'Patient', name: [{ family: 'Restart' }] } as Patient)).resource;
      const obs = (await repo.create(ctx, observation(`Patient/${patient.id}`, 13))).resource;
      await outbox.add({ refs: [`Patient/${patient.id}`, `Observation/${obs.id}`], tasks: [TIMELINE_TASK] });
      expect(await timeline.events.countDocuments({ patient: patient.id as string })).toBe(0);
      await first.close();

      second = await startServer(loadConfig(env));
      await second.services.recovery;
      const events = await second.services.timeline.events.find({ patient: patient.id as string }).toArray();
      expect(events.map((e) => e.anchor)).toEqual([`Observation/${obs.id}`]);
      expect(events[0]?.summary).toMatch(/13 U\/L/);
      expect(await second.services.outbox.pending()).toBe(0);
    } finally {
      await second?.services.database.db.dropDatabase().catch(() => undefined);
      await second?.close();
    }
  });
});
