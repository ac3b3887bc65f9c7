import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authFetch, startTestServer, type TestServer } from './support/server.ts';
import { type Json, ingestOk, postHl7, rawOf } from './fixtures/ingest/clients.ts';
import { batchFile, labMessage, manyObxMessage, newBsn, uid } from './fixtures/ingest/messages.ts';
import { fhirFetch } from './support/server.ts';

/**
 * POST /ingest/hl7v2 batch limits through the running server: more than IDR_INGEST_MAX_MESSAGES
 * messages is a 413 naming the limit (nothing stored); an accepted batch is stored whole before
 * processing, and processing stops when the client goes away, leaving the rest as received.
 */

const MAX = 40;
let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ IDR_INGEST_MAX_MESSAGES: String(MAX) });
});
afterAll(async () => {
  await server?.close();
});

async function inbox(): Promise<{ total: number; entries: Json[] }> {
  const r = await fhirFetch(`${server.url}/ingest/messages?kind=hl7v2&_count=500`);
  return r.body;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function lab(): string {
  const id = uid();
  return labMessage({ controlId: id, bsn: newBsn(), filler: `F-${id}` });
}

describe('HTTP ingestion batch limits', () => {
  it('refuses a batch over the limit with 413 naming it, stores nothing, and keeps serving', async () => {
    const before = (await inbox()).total;
    const r = await postHl7(server.url, batchFile(Array.from({ length: MAX + 1 }, lab)));
    expect(r.status).toBe(413);
    expect(r.body.resourceType).toBe('OperationOutcome');
    expect(r.body.issue[0].details.text).toContain(`holds ${MAX + 1} HL7 v2 messages; at most ${MAX}`);
    expect(r.body.issue[0].details.text).toContain('IDR_INGEST_MAX_MESSAGES');
    expect((await inbox()).total).toBe(before);

    const ok = await ingestOk(server.url, lab());
    expect(ok.status).toBe('processed');
  });

  it('takes a batch within the limit', async () => {
    const r = await postHl7(server.url, batchFile(Array.from({ length: 3 }, lab)));
    expect(r.status).toBe(201);
    expect(r.body.results).toHaveLength(3);
  });

  it('stores the whole batch first and stops processing when the client goes away; the rest stays received and can be reprocessed', async () => {
    const before = (await inbox()).total;
    const messages = Array.from({ length: MAX }, () => {
      const id = uid();
      return manyObxMessage(id, newBsn(), `F-${id}`, 40);
    });
    const abort = new AbortController();
    const request = authFetch(`${server.url}/ingest/hl7v2`, { method: 'POST', headers: { 'content-type': 'x-application/hl7-v2+er7' }, body: batchFile(messages), signal: abort.signal }).catch((err: Error) => err);
    // Wait until every message is stored, then leave.
    while ((await inbox()).total < before + MAX) await sleep(50);
    abort.abort();
    expect(await request).toBeInstanceOf(Error);

    // Wait for the message being processed when the client left to finish.
    let last = '';
    for (;;) {
      await sleep(1000);
      const now = JSON.stringify((await inbox()).entries.map((e: Json) => e.status));
      if (now === last) break;
      last = now;
    }
    const mine = (await inbox()).entries.slice(0, MAX);
    expect(mine).toHaveLength(MAX);
    const received = mine.filter((e: Json) => e.status === 'received');
    expect(received.length).toBeGreaterThan(0);
    expect(mine.filter((e: Json) => e.status === 'processed').length).toBeLessThan(MAX);

    const sent = new Set(messages);
    for (const e of mine) expect(sent.has((await rawOf(server.url, e._id)).bytes.toString('utf8'))).toBe(true);

    const again = await fhirFetch(`${server.url}/ingest/messages/${received[0]._id}/reprocess`, { method: 'POST' });
    expect(again.status).toBe(200);
    expect(again.body.status).toBe('processed');

    const ok = await ingestOk(server.url, lab());
    expect(ok.status).toBe('processed');
  }, 120_000);
});
