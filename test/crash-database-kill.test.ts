import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fhirFetch, startTestServer, type TestServer } from './support/server.ts';
import { checkIntegrity } from './support/store-integrity.ts';
import { mllpExchange, postHl7 } from './fixtures/ingest/clients.ts';
import { CREA, HB, labMessage, mllpFrame, newBsn } from './fixtures/ingest/messages.ts';
import { INBOX_STATUS } from '../ingestion/inbox.ts';
import { resourceOf } from '../schema/collections.ts';
import { mulberry32 } from '../seed/hl7v2/random.ts';

/**
 * Only the database dies: the embedded database's launcher (PostgreSQL stops with it) is killed
 * at seeded moments while messages arrive over MLLP and HTTP, under a running IDR with its own
 * IDR_DATA_DIR. IDR refuses cleanly while it is down (AR / 503, never a 500), restarts it, and
 * without an IDR restart finishes what the outage interrupted: no pending journal, no input left
 * "received", every acknowledged message processed, and after a full resend no duplicate and a
 * sound store.
 */

let server: TestServer;
let dataDir: string;
beforeAll(async () => {
  dataDir = await mkdtemp(path.join(tmpdir(), 'idr-dbkill-'));
  server = await startTestServer({ MONGODB_URL: '', IDR_DATA_DIR: dataDir, IDR_DB_RESTART_BACKOFF_MS: '200' });
}, 180_000);
afterAll(async () => {
  await server?.close();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
}, 60_000);

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function until(check: () => Promise<boolean>, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`);
    await sleep(200);
  }
}

interface Answer {
  inboxId?: string;
  /** "AA", "AR", … or the HTTP status. */
  code: string;
}

async function send(message: string, via: 'mllp' | 'http'): Promise<Answer> {
  if (via === 'mllp') {
    const r = await mllpExchange(server.mllpPort as number, mllpFrame(message), 60_000);
    const code = r.ack?.segment('MSA')?.[1] ?? 'closed';
    return { code, ...(code === 'AA' ? { inboxId: r.ack?.segment('MSH')?.[9] as string } : {}) };
  }
  const r = await postHl7(server.url, message);
  const result = r.body?.results?.[0];
  const ok = r.status < 300 && (result?.status === 'processed' || result?.status === 'duplicate');
  return { code: String(r.status), ...(ok ? { inboxId: result.inboxId as string } : {}) };
}

describe('the database process killed while messages arrive', () => {
  for (const seed of [3, 8]) {
    it(`seed ${seed}: clean refusals while down, then everything acknowledged is processed and the store is sound, without restarting IDR`, async () => {
      const random = mulberry32(seed).next; // seeded, so a failing seed can be run again
      const embedded = server.services.embedded;
      if (!embedded) throw new Error('the test server must run the embedded database');
      const patients = [newBsn(), newBsn()];
      const messages = Array.from({ length: 12 }, (_, i) => {
        const bsn = patients[i % 2] as string;
        const id = `D${seed}-${i}-${bsn.slice(-4)}`;
        return { bsn, via: (i % 2 ? 'mllp' : 'http') as 'mllp' | 'http', message: labMessage({ controlId: id, bsn, filler: `F-${id}`, results: [{ ...HB, value: `7.${i}` }, CREA] }) };
      });
      const answers: Answer[] = [];
      const killAfter = 1 + Math.floor(random() * 6);
      const extraMs = Math.floor(random() * 100);
      const lane = async (via: 'mllp' | 'http'): Promise<void> => {
        for (const m of messages.filter((x) => x.via === via)) answers.push(await send(m.message, via));
      };
      const streaming = Promise.all([lane('mllp'), lane('http')]);
      while (answers.length < killAfter) await sleep(5);
      await sleep(extraMs);
      const restartsBefore = embedded.restarts;
      process.kill(embedded.pid, 'SIGKILL');
      await streaming;

      // While it was down IDR refused cleanly; it restarted the database by itself.
      expect(answers.map((a) => a.code).filter((c) => !['AA', 'AR', '201', '200', '503'].includes(c))).toEqual([]);
      await until(async () => (await fhirFetch(`${server.url}/readyz`)).status === 200, 120_000, 'the database answers again');
      expect(embedded.restarts).toBe(restartsBefore + 1);

      // What the outage interrupted is finished without an IDR restart.
      const { database, pipeline, outbox } = server.services;
      await until(async () => (await database.c.journal.countDocuments({})) === 0, 60_000, 'no pending journal');
      await until(async () => (await pipeline.inbox.list({ status: INBOX_STATUS.received }, { limit: 1, offset: 0 })).total === 0, 60_000, 'no input left received');
      for (const a of answers.filter((x) => x.inboxId)) {
        const entry = await pipeline.inbox.get(a.inboxId as string);
        const processed = entry?.status === 'duplicate' ? await pipeline.inbox.get(entry.duplicateOf as string) : entry;
        expect(processed?.status, `acknowledged input ${a.inboxId}`).toBe('processed');
      }

      // Everything resent: all acknowledged now, nothing duplicated.
      for (const m of messages) expect((await send(m.message, m.via)).inboxId, `resent ${m.via} message`).toBeDefined();
      await outbox.processDue({ createdBefore: new Date() });
      for (const bsn of patients) {
        const found = (await database.c.resources.find({ rt: 'Patient', deleted: false }).toArray()).filter((d) => resourceOf(d) && d.json?.includes(bsn));
        expect(found.length, `Patients with BSN ${bsn}`).toBe(1);
        const mine = await database.c.resources.find({ patients: found[0]?.id as string, deleted: false }).toArray();
        expect(mine.filter((d) => d.rt === 'DiagnosticReport').length).toBe(6);
        expect(mine.filter((d) => d.rt === 'Observation').length).toBe(12);
      }
      expect(await checkIntegrity(database)).toEqual({ pendingJournals: [], danglingReferences: [], duplicateIdentifiers: [], versionMismatches: [], outbox: [], timelineDifferences: [] });
    }, 240_000);
  }
});
