import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Resource } from '@medplum/fhirtypes';
import { startTestServer, type TestServer } from './support/server.ts';
import { postHl7 } from './fixtures/ingest/clients.ts';
import { labMessage, newBsn, uid } from './fixtures/ingest/messages.ts';
import { resourceOf } from '../schema/collections.ts';
import { CompensatingJournal } from '../store/journal.ts';
import { systemContext } from '../store/request-context.ts';

/**
 * A sender retransmitting after a time-out sends the same message several times at once. Whatever
 * the interleaving, the copies that lose must never take back what the winner wrote: afterwards
 * every reference in the store resolves, the patient exists once, and nothing is left pending.
 */

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server?.close();
});

/** References ("Type/id") of a resource, wherever they are. */
function referencesOf(resource: Resource): string[] {
  const out: string[] = [];
  JSON.stringify(resource, (key, value: unknown) => {
    if (key === 'reference' && typeof value === 'string' && /^[A-Z][A-Za-z]+\/[^/]+$/.test(value)) out.push(value);
    return value;
  });
  return out;
}

async function integrityProblems(): Promise<string[]> {
  const { c } = server.services.database;
  const live = new Map<string, Resource>();
  for await (const d of c.resources.find({ deleted: false })) {
    const res = resourceOf(d);
    if (res) live.set(d._id, res);
  }
  const problems: string[] = [];
  for (const [key, res] of live) {
    for (const ref of referencesOf(res)) if (!live.has(ref)) problems.push(`${key} -> ${ref} does not resolve`);
  }
  const pending = await c.journal.countDocuments({});
  if (pending) problems.push(`${pending} transaction journals left pending`);
  return problems;
}

describe('the same message sent ten times at once', () => {
  it.each([1, 2, 3])('round %i: one copy is processed, the others are duplicates, nothing is lost', async () => {
    const bsn = newBsn();
    const text = labMessage({ controlId: uid(), bsn, filler: `F-${uid()}` });
    const replies = await Promise.all(Array.from({ length: 10 }, () => postHl7(server.url, text)));
    const statuses = replies.map((r) => r.body.results?.[0]?.status as string);
    expect(statuses.filter((s) => s === 'processed')).toHaveLength(1);
    expect(statuses.filter((s) => s !== 'processed').every((s) => s === 'duplicate')).toBe(true);
    expect(await integrityProblems()).toEqual([]);
    const patients = await server.services.database.c.resources.countDocuments({ rt: 'Patient', deleted: false, keys: `identifier=http://fhir.nl/fhir/NamingSystem/bsn|${bsn}` });
    expect(patients).toBe(1);
  });
});

describe('first messages about a new patient, sent at once', () => {
  it('create one Patient, and every message is processed', async () => {
    const bsn = newBsn();
    const messages = Array.from({ length: 6 }, () => labMessage({ controlId: uid(), bsn, filler: `F-${uid()}` }));
    const replies = await Promise.all(messages.map((m) => postHl7(server.url, m)));
    expect(replies.map((r) => r.body.results?.[0]?.status)).toEqual(messages.map(() => 'processed'));
    const patients = await server.services.database.c.resources.countDocuments({ rt: 'Patient', deleted: false, keys: `identifier=http://fhir.nl/fhir/NamingSystem/bsn|${bsn}` });
    expect(patients).toBe(1);
    expect(await integrityProblems()).toEqual([]);
  });
});

describe('undo of a transaction that lost a race', () => {
  it('takes back only its own writes, never the version another writer made', async () => {
    const { repo, database } = server.services;
    const written = await repo.create(systemContext('test', 'undo-race'), { resourceType: 'Practitioner', name: [{ family: 'Winner' }] });
    const id = written.resource.id as string;
    // The loser recorded how to undo "create version 1" before its write, which then failed.
    const loser = new CompensatingJournal(database.c);
    await loser.begin();
    await loser.scope().beforeWrite?.({ key: `Practitioner/${id}`, newVid: 1, previous: null });
    await loser.rollback();
    const after = await repo.read(systemContext('test', 'undo-race'), 'Practitioner', id);
    expect(after.meta?.versionId).toBe('1');
    expect(await database.c.history.countDocuments({ rt: 'Practitioner', id })).toBe(1);
  });
});
