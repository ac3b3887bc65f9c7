import { randomBytes } from 'node:crypto';
import { describe, expect, inject, it } from 'vitest';
import { loadConfig } from '../api/config.ts';
import { startServer, type RunningServer } from '../api/server.ts';
import { connectDatabase } from '../store/db.ts';
import { INBOX_STATUS } from '../ingestion/inbox.ts';
import { checkIntegrity } from './support/store-integrity.ts';
import { clientCredentialsToken, TEST_CLIENT, useToken } from './support/server.ts';
import { mllpExchange, postHl7 } from './fixtures/ingest/clients.ts';
import { CREA, HB, labMessage, mllpFrame, newBsn, uid } from './fixtures/ingest/messages.ts';

/**
 * Graceful shutdown (what SIGTERM runs): close() while messages are being processed. With the
 * default grace period the in-flight messages finish and nothing is left half-done: no pending
 * journal, no input marked failed for it. With no grace at all the in-flight work is abandoned:
 * inputs stay "received" and the next start rolls back what was cut off and processes them.
 * Either way, after the next start everything sent is processed and the store is sound.
 */

function env(dbName: string): Record<string, string> {
  return { PORT: '0', HOST: '127.0.0.1', MONGODB_URL: inject('mongoUrl'), IDR_DB_NAME: dbName, LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent', NODE_ENV: 'test', IDR_MLLP_PORT: '0', IDR_DEMO_AUTH: 'true', IDR_DEMO_CLIENT_ID: TEST_CLIENT.id, IDR_DEMO_CLIENT_SECRET: TEST_CLIENT.secret };
}

async function run(graceMs: number | undefined): Promise<void> {
  const dbName = `idr_test_${randomBytes(6).toString('hex')}`;
  let second: RunningServer | undefined;
  try {
    const first = await startServer(loadConfig(env(dbName)), graceMs === undefined ? {} : { shutdownGraceMs: graceMs });
    useToken(first.url, await clientCredentialsToken(first.url));
    const bsn = newBsn();
    const messages = Array.from({ length: 8 }, (_, i) => labMessage({ controlId: uid(), bsn, filler: `F-${uid()}`, results: [{ ...HB, value: `7.${i}` }, CREA] }));
    const sending = messages.map((m, i) =>
      (i % 2 ? mllpExchange(first.mllpPort as number, mllpFrame(m), 30_000) : postHl7(first.url, m)).catch(() => undefined),
    );
    // Wait until the first input is stored, then stop while the rest are in flight.
    const inbox = first.services.pipeline.inbox;
    for (let i = 0; i < 500 && (await inbox.list({}, { limit: 1, offset: 0 })).total === 0; i++) await new Promise((r) => setTimeout(r, 10));
    await first.close();
    await Promise.all(sending);
    // A restart takes a moment. Without one, a command the database was still running for the
    // closed connection (a journal's insert, under load) could land after the next start has
    // rolled back the journals it found, and be left pending.
    await first.services.pipeline.drain(10_000);
    await new Promise((r) => setTimeout(r, 1000));

    // Straight after the stop, before any start-up recovery.
    const raw = await connectDatabase(inject('mongoUrl'), dbName);
    try {
      const journals = await raw.c.journal.countDocuments({});
      const failed = await raw.db.collection('inbox').find({ status: INBOX_STATUS.failed }).toArray();
      expect(failed.map((f) => f.error)).toEqual([]);
      if (graceMs === undefined) expect(journals, 'pending journals after a graceful stop').toBe(0);
    } finally {
      await raw.close();
    }

    second = await startServer(loadConfig(env(dbName)));
    useToken(second.url, await clientCredentialsToken(second.url));
    await second.services.recovery;
    // Everything sent is there once, processed (the rest of the stream is simply sent again).
    for (const m of messages) await postHl7(second.url, m);
    await second.services.outbox.processDue({ createdBefore: new Date() });
    const { database } = second.services;
    const statuses = (await database.db.collection('inbox').find({}).toArray()).map((e) => e.status as string);
    expect(statuses.filter((s) => s !== INBOX_STATUS.processed && s !== INBOX_STATUS.duplicate)).toEqual([]);
    expect(await database.c.resources.countDocuments({ rt: 'DiagnosticReport', deleted: false })).toBe(messages.length);
    expect(await database.c.resources.countDocuments({ rt: 'Patient', deleted: false })).toBe(1);
    expect(await checkIntegrity(database)).toEqual({ pendingJournals: [], danglingReferences: [], duplicateIdentifiers: [], versionMismatches: [], outbox: [], timelineDifferences: [] });
  } finally {
    await second?.services.database.db.dropDatabase().catch(() => undefined);
    await second?.close();
  }
}

describe('graceful shutdown', () => {
  it('lets in-flight ingestion finish: no pending journal and no failed input after the stop; all processed after the next start', async () => {
    await run(undefined);
  }, 120_000);

  it('with no grace period abandons in-flight work cleanly: the next start rolls it back and processes the inputs', async () => {
    await run(0);
  }, 120_000);
});
