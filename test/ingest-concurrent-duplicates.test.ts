import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from './support/server.ts';
import { mllpExchange, postHl7 } from './fixtures/ingest/clients.ts';
import { checkIntegrity } from './support/store-integrity.ts';
import { labMessage, mllpFrame, newBsn, uid } from './fixtures/ingest/messages.ts';
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

const SOUND = { pendingJournals: [], danglingReferences: [], duplicateIdentifiers: [], versionMismatches: [], outbox: [], timelineDifferences: [] };

/** The whole store's integrity once the derived data of what was written is in place. */
async function integrity(): Promise<unknown> {
  await server.services.outbox.processDue({ createdBefore: new Date() });
  return checkIntegrity(server.services.database);
}

describe('the same message sent ten times at once', () => {
  it.each([1, 2, 3])('round %i: one copy is processed, the others are duplicates, nothing is lost', async () => {
    const bsn = newBsn();
    const text = labMessage({ controlId: uid(), bsn, filler: `F-${uid()}` });
    const replies = await Promise.all(Array.from({ length: 10 }, () => postHl7(server.url, text)));
    const statuses = replies.map((r) => r.body.results?.[0]?.status as string);
    expect(statuses.filter((s) => s === 'processed')).toHaveLength(1);
    expect(statuses.filter((s) => s !== 'processed').every((s) => s === 'duplicate')).toBe(true);
    expect(await integrity()).toEqual(SOUND);
    const patients = await server.services.database.c.resources.countDocuments({ rt: 'Patient', deleted: false, keys: `identifier=http://fhir.nl/fhir/NamingSystem/bsn|${bsn}` });
    expect(patients).toBe(1);
  });

  it('over MLLP: every copy is acknowledged AA, one is processed, nothing is lost', async () => {
    const bsn = newBsn();
    const text = labMessage({ controlId: uid(), bsn, filler: `F-${uid()}` });
    const acks = await Promise.all(Array.from({ length: 10 }, () => mllpExchange(server.mllpPort as number, mllpFrame(text))));
    expect(acks.map((a) => a.ack?.segment('MSA')?.[1])).toEqual(acks.map(() => 'AA'));
    const sha256 = createHash('sha256').update(text).digest('hex');
    const entries = await server.services.database.db.collection('inbox').find({ sha256 }, { projection: { status: 1 } }).toArray();
    expect(entries.map((e) => e.status).sort()).toEqual(['processed', ...Array(9).fill('duplicate')].sort());
    expect(await integrity()).toEqual(SOUND);
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
    expect(await integrity()).toEqual(SOUND);
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
