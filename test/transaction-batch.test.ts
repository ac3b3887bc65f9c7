import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CommandStartedEvent } from 'mongodb';
import type { Bundle, BundleEntry, Observation, Resource } from '@medplum/fhirtypes';
import { fhirFetch, startMonitoredTestServer, type TestServer } from './support/server.ts';
import { BSN, create, labObservation, patient, search } from './support/factory.ts';
import { collections } from '../schema/collections.ts';
import { CompensatingJournal, recoverPendingJournals } from '../store/journal.ts';

/**
 * Transaction Bundles on a store without multi-document transactions (the embedded store) are
 * written as one batch (store/write-batch.ts): the reads their entries need in one go, then each
 * kind of write as one command. These tests hold the batch to what entry-by-entry writing gave:
 * versions, identifier claims, rollback on a conflict found only when the batch is applied.
 */

let server: TestServer;
beforeAll(async () => {
  server = await startMonitoredTestServer();
});
afterAll(async () => {
  await server?.close();
});

const post = (entry: BundleEntry[]) => fhirFetch(server.fhir, { method: 'POST', json: { resourceType: 'Bundle', type: 'transaction', entry } satisfies Bundle });
const urn = (n: number): string => `urn:uuid:00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;
const byLabel = (label: string, patientRef: string, value: number): BundleEntry => ({
  resource: { ...labObservation('x', label), subject: { reference: patientRef }, valueQuantity: { value, unit: 'mmol/L', system: 'http://unitsofmeasure.org', code: 'mmol/L' } } as Resource,
  request: { method: 'PUT', url: `Observation?identifier=urn:test:label|${label}` },
});

describe('transaction Bundles written as one batch', () => {
  it('writes 200 results with a number of database commands that does not grow with them', async () => {
    const count = async (n: number, bsn: string): Promise<number> => {
      let commands = 0;
      const listener = (e: CommandStartedEvent): void => {
        if (e.commandName !== 'getMore') commands++;
      };
      const entries = [
        { fullUrl: urn(1), resource: patient(bsn), request: { method: 'PUT', url: `Patient?identifier=${BSN}|${bsn}` } },
        ...Array.from({ length: n }, (_, i) => byLabel(`batch-${bsn}-${i}`, urn(1), i)),
      ] as BundleEntry[];
      // The audit chainer and the subscription notifier work on their own schedules: paused while counting.
      await server.services.audit.stop();
      await server.services.subscriptions.stop();
      server.services.database.client.on('commandStarted', listener);
      const r = await post(entries);
      server.services.database.client.off('commandStarted', listener);
      server.services.audit.start();
      server.services.subscriptions.start();
      expect(r.status).toBe(200);
      expect((r.body as Bundle).entry?.filter((e) => e.response?.status.startsWith('201'))).toHaveLength(n + 1);
      return commands;
    };
    const ten = await count(10, '999900401');
    const twoHundred = await count(200, '999900412');
    expect((await search(server.fhir, `Observation?identifier=urn:test:label|batch-999900412-199`)).total).toBe(1);
    if (server.services.database.supportsTransactions) return; // a MongoDB replica set writes in a session instead
    // Entry by entry this was about 9 commands per resource (1,800 for 200).
    expect(twoHundred).toBeLessThanOrEqual(ten + 10);
    expect(twoHundred).toBeLessThan(60);
  });

  it('writes the same resource twice in one Bundle as two versions, the later one current', async () => {
    const p = await create(server.fhir, patient('999900423'));
    const r = await post([byLabel('twice', `Patient/${p.id}`, 1), byLabel('twice', `Patient/${p.id}`, 2)]);
    expect(r.status).toBe(200);
    const [first, second] = (r.body as Bundle).entry ?? [];
    expect(first?.response?.status).toMatch(/^201/);
    expect(second?.response?.status).toMatch(/^200/);
    expect(second?.response?.etag).toBe('W/"2"');
    const found = await search(server.fhir, 'Observation?identifier=urn:test:label|twice');
    expect(found.total).toBe(1);
    const obs = found.entry?.[0]?.resource as Observation;
    expect(obs.valueQuantity?.value).toBe(2);
    const history = (await fhirFetch(`${server.fhir}/Observation/${obs.id}/_history`)).body as Bundle;
    expect(history.entry?.map((e) => (e.resource as Observation).valueQuantity?.value)).toEqual([2, 1]);
  });

  it('rolls the whole Bundle back when a version it claims is taken by another writer meanwhile', async () => {
    const p = await create(server.fhir, patient('999900434'));
    const id = 'batch-claimed-by-another';
    // Another writer has just claimed version 1 of this resource (its write not yet visible).
    await server.services.database.c.history.insertOne({ _id: `Observation/${id}/1`, rt: 'Observation', id, vid: 1, lu: new Date(), method: 'PUT', deleted: false });
    const r = await post([
      byLabel('rollback-a', `Patient/${p.id}`, 1),
      { resource: { ...labObservation(p.id, 'rollback-b'), id }, request: { method: 'PUT', url: `Observation/${id}` } },
      byLabel('rollback-c', `Patient/${p.id}`, 3),
    ]);
    expect(r.status).toBe(409);
    expect(JSON.stringify(r.body)).toContain(`Observation/${id}`);
    for (const label of ['rollback-a', 'rollback-b', 'rollback-c']) {
      expect((await search(server.fhir, `Observation?identifier=urn:test:label|${label}`)).total).toBe(0);
      expect(await server.services.database.c.identifiers.findOne({ _id: `Observation|urn:test:label|${label}` })).toBeNull();
    }
    // The other writer's claim is left alone; nothing of this Bundle stays in the history.
    expect(await server.services.database.c.history.countDocuments({ rt: 'Observation', id })).toBe(1);
    expect(await server.services.database.c.journal.countDocuments({})).toBe(0);
  });

  it('rolls back a large Bundle (written in two halves at once) when a version in its second half is taken', async () => {
    const p = await create(server.fhir, patient('999900456'));
    const id = 'batch-large-claimed-by-another';
    await server.services.database.c.history.insertOne({ _id: `Observation/${id}/1`, rt: 'Observation', id, vid: 1, lu: new Date(), method: 'PUT', deleted: false });
    // 1,000 entries, the most a Bundle may hold: each kind of write is sent in two halves.
    const labels = Array.from({ length: 999 }, (_, i) => `large-rollback-${i}`);
    const entries = labels.map((label, i) => byLabel(label, `Patient/${p.id}`, i));
    entries.splice(900, 0, { resource: { ...labObservation(p.id, 'large-rollback-taken'), id }, request: { method: 'PUT', url: `Observation/${id}` } });
    const r = await post(entries);
    expect(r.status).toBe(409);
    expect(JSON.stringify(r.body)).toContain(`Observation/${id}`);
    expect(await server.services.database.c.resources.countDocuments({ rt: 'Observation', patients: p.id })).toBe(0);
    expect(await server.services.database.c.history.countDocuments({ rt: 'Observation', id })).toBe(1);
    expect(await server.services.database.c.journal.countDocuments({})).toBe(0);
  }, 120_000);

  it('undoes a batch that a process died applying, its undo steps recorded a thousand to a document', async () => {
    const { database } = server.services;
    // A Collections object of its own: this journal is not one the process is applying (as after a crash).
    const dead = new CompensatingJournal(collections(database.db));
    await dead.begin();
    const keys = Array.from({ length: 1001 }, (_, i) => `Observation/dead-batch-${i}`);
    await dead.scope().beforeWrites?.(keys.map((key) => ({ key, newVid: 1, previous: null })));
    expect(await database.c.journalSteps.countDocuments({ tx: dead.id })).toBe(2);
    // Every version claimed and written, the journal still pending.
    const lu = new Date();
    await database.c.history.insertMany(keys.map((key) => ({ _id: `${key}/1`, rt: 'Observation', id: key.slice(12), vid: 1, lu, method: 'PUT' as const, deleted: false, tx: dead.id })));
    await database.c.resources.insertMany(keys.map((key) => ({ _id: key, rt: 'Observation', id: key.slice(12), vid: 1, lu, deleted: false, patients: [], keys: [], sp: {}, so: {}, tx: dead.id, json: '{}' })));
    expect(await recoverPendingJournals(database.c)).toBe(1);
    expect(await database.c.resources.countDocuments({ _id: { $in: keys } })).toBe(0);
    expect(await database.c.history.countDocuments({ _id: { $in: keys.map((k) => `${k}/1`) } })).toBe(0);
    expect(await database.c.journalSteps.countDocuments({ tx: dead.id })).toBe(0);
    expect(await database.c.journal.countDocuments({ _id: dead.id })).toBe(0);
  }, 60_000);

  it('finds a Patient an earlier entry of the same Bundle created (If-None-Exist)', async () => {
    const bsn = '999900467';
    const entry: BundleEntry = { resource: patient(bsn), request: { method: 'POST', url: 'Patient', ifNoneExist: `identifier=${BSN}|${bsn}` } };
    const r = await post([entry, entry]);
    expect(r.status).toBe(200);
    const [first, second] = (r.body as Bundle).entry ?? [];
    expect(first?.response?.status).toMatch(/^201/);
    expect(second?.response?.status).toMatch(/^200/);
    expect(second?.resource?.id).toBe(first?.resource?.id);
    expect((await search(server.fhir, `Patient?identifier=${BSN}|${bsn}`)).total).toBe(1);
  });

  it('hands an identifier over to the resource written last, as single writes do', async () => {
    const p = await create(server.fhir, patient('999900445'));
    const earlier = await create(server.fhir, labObservation(p.id, 'handed-over'));
    const r = await post([{ resource: labObservation(p.id, 'handed-over', { status: 'amended' }), request: { method: 'POST', url: 'Observation' } }]);
    expect(r.status).toBe(200);
    const later = (r.body as Bundle).entry?.[0]?.resource as Observation;
    expect(later.id).not.toBe(earlier.id);
    const claim = await server.services.database.c.identifiers.findOne({ _id: 'Observation|urn:test:label|handed-over' });
    expect(claim?.id).toBe(later.id);
  });
});
