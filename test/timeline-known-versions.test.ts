import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CommandStartedEvent } from 'mongodb';
import type { Observation, Resource } from '@medplum/fhirtypes';
import { startMonitoredTestServer, type TestServer } from './support/server.ts';
import { labObservation, patient } from './support/factory.ts';
import { systemContext } from '../store/request-context.ts';
import { COLLECTION_NAMES } from '../schema/collections.ts';

/**
 * The timeline projection may use the versions a writer has just written instead of reading them
 * back (the ingestion pipeline hands them over), but only while they are current: a version
 * written since is read from the store.
 */

let server: TestServer;
beforeAll(async () => {
  server = await startMonitoredTestServer();
});
afterAll(async () => {
  await server?.close();
});

const hb = (value: number): Partial<Observation> => ({ valueQuantity: { value, unit: 'mmol/L', system: 'http://unitsofmeasure.org', code: 'mmol/L' }, effectiveDateTime: '2031-05-04T08:00:00Z' });

/** Projects `key` with `known` as the writer's versions; returns the event's summary and the resource reads by id it took. */
async function project(key: string, known: Resource): Promise<{ summary: string | undefined; readBack: boolean }> {
  let readBack = false;
  const listener = (e: CommandStartedEvent): void => {
    if (e.commandName === 'find' && e.command.find === COLLECTION_NAMES.resources && JSON.stringify((e.command.filter as { _id?: unknown } | undefined)?._id ?? '').includes(key)) readBack = true;
  };
  server.services.database.client.on('commandStarted', listener);
  await server.services.timeline.project([key], new Map([[key, known]]));
  server.services.database.client.off('commandStarted', listener);
  const events = await server.services.timeline.events.find({ anchor: key }).toArray();
  return { summary: events[0]?.summary, readBack };
}

describe('the projection and the versions a writer hands over', () => {
  it('uses the version it was given while it is current, and reads a later one from the store', async () => {
    const ctx = systemContext('test');
    const p = (await server.services.repo.create(ctx, patient('999900456'))).resource;
    const first = (await server.services.repo.create(ctx, labObservation(p.id as string, 'known-version', hb(7.1)))).resource as Observation;
    const key = `Observation/${first.id}`;

    const current = await project(key, first);
    expect(current.summary).toContain('7.1');
    expect(current.readBack).toBe(false);

    const second = (await server.services.repo.update(ctx, { ...first, ...hb(5.2) })).resource as Observation;
    expect(second.meta?.versionId).toBe('2');
    // Handed the first version after the second was written: the store's version wins.
    const stale = await project(key, first);
    expect(stale.readBack).toBe(true);
    expect(stale.summary).toContain('5.2');
    expect(stale.summary).not.toContain('7.1');
  });
});
