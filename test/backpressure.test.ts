import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fhirFetch, startTestServer, type TestServer } from './support/server.ts';
import { admissionQueues } from '../api/admission.ts';
import { countOf, ingestOk, mllpExchange, patientIdByBsn, postHl7 } from './fixtures/ingest/clients.ts';
import { HB, labMessage, mllpFrame, newBsn, uid } from './fixtures/ingest/messages.ts';

/**
 * Backpressure: ingestion runs in a bounded queue (here 1 at a time, 1 waiting). Two uploads whose
 * bodies arrive slowly hold the slot and the queue; meanwhile more HTTP ingestion is answered 503
 * with Retry-After and MLLP AR "busy; resend", while searches (a queue of their own, here 1 at a
 * time, none waiting) answer 200. And the other way round: a held search fills the read queue,
 * further searches get 503, ingestion goes on.
 */

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ IDR_INGEST_CONCURRENCY: '1', IDR_INGEST_QUEUE: '1', IDR_READ_CONCURRENCY: '1', IDR_READ_QUEUE: '0', IDR_QUEUE_MAX_WAIT_MS: '120000' });
});
afterAll(async () => {
  await server?.close();
});

/** A POST (default /ingest/hl7v2) whose body is sent in two halves: the second when `finish` is called. */
function slowUpload(message: string, target = { path: '/ingest/hl7v2', type: 'x-application/hl7-v2+er7' }): { finish: () => Promise<{ status: number; body: string }> } {
  const bytes = Buffer.from(message);
  const half = Math.floor(bytes.length / 2);
  const { hostname, port } = new URL(server.url);
  let resolveRes: (r: { status: number; body: string }) => void = () => undefined;
  let rejectRes: (e: Error) => void = () => undefined;
  const done = new Promise<{ status: number; body: string }>((resolve, reject) => {
    resolveRes = resolve;
    rejectRes = reject;
  });
  const req = http.request({ method: 'POST', hostname, port, path: target.path, headers: { 'content-type': target.type, 'content-length': String(bytes.length), authorization: `Bearer ${server.token}` } }, (res) => {
    const chunks: Buffer[] = [];
    res.on('data', (c: Buffer) => chunks.push(c));
    res.on('end', () => resolveRes({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
  });
  req.on('error', rejectRes);
  req.write(bytes.subarray(0, half));
  return {
    finish: () => {
      req.end(bytes.subarray(half));
      return done;
    },
  };
}

/** Polls `check` every 50 ms until it is true, for at most 30 s. */
async function until(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`${what}: not within 30 s`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('backpressure', () => {
  it('answers 503 + Retry-After (HTTP) and AR busy (MLLP) when the ingestion queue is full, while searches answer 200', async () => {
    const bsn = newBsn();
    await ingestOk(server.url, labMessage({ controlId: uid(), bsn, filler: `F-${uid()}`, results: [HB] }));
    const patientId = await patientIdByBsn(server.fhir, bsn);
    const queue = admissionQueues(server.services).ingestion;

    const holding = slowUpload(labMessage({ controlId: uid(), bsn, filler: `F-${uid()}`, results: [HB] }));
    await until(() => queue.load.active === 1, 'the first upload takes the ingestion slot');
    const waiting = slowUpload(labMessage({ controlId: uid(), bsn, filler: `F-${uid()}`, results: [HB] }));
    await until(() => queue.load.waiting === 1, 'the second upload waits in the queue');

    // A burst of senders (bounded: 10): every one is refused with 503, Retry-After and an OperationOutcome.
    const burst = await Promise.all(Array.from({ length: 10 }, () => {
      const id = uid();
      return fhirFetch(`${server.url}/ingest/hl7v2`, { method: 'POST', headers: { 'content-type': 'x-application/hl7-v2+er7' }, body: labMessage({ controlId: id, bsn, filler: `F-${id}`, results: [HB] }) });
    }));
    for (const r of burst) {
      expect(r.status).toBe(503);
      expect(Number(r.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(r.body.resourceType).toBe('OperationOutcome');
      expect(r.body.issue[0].details.text).toMatch(/IDR is busy: its ingestion queue is full/);
    }
    // MLLP shares the ingestion queue: AR, busy, resend; nothing stored.
    const refusedId = uid();
    const mllp = await mllpExchange(server.mllpPort as number, mllpFrame(labMessage({ controlId: refusedId, bsn, filler: `F-${refusedId}`, results: [HB] })));
    expect(mllp.ack?.segment('MSA')?.[1]).toBe('AR');
    expect(mllp.ack?.segment('MSA')?.[2]).toBe(refusedId);
    expect(mllp.ack?.segment('ERR')?.join('|')).toMatch(/busy .*not stored: resend it in \d+ s/);

    // Searches and reads have their own queue: they answer while ingestion is saturated.
    const search = await fhirFetch(`${server.fhir}/Observation?subject=Patient/${patientId}`);
    expect(search.status).toBe(200);
    expect(search.body.entry).toHaveLength(1);
    expect((await fhirFetch(`${server.fhir}/Patient/${patientId}`)).status).toBe(200);
    expect((await fhirFetch(`${server.url}/ingest/messages?_count=5`)).status).toBe(200);

    // The held uploads complete; then ingestion is admitted again, over HTTP and MLLP.
    expect((await holding.finish()).status).toBe(201);
    expect((await waiting.finish()).status).toBe(201);
    expect(queue.load).toEqual({ active: 0, waiting: 0 });
    const again = await postHl7(server.url, labMessage({ controlId: uid(), bsn, filler: `F-${uid()}`, results: [HB] }));
    expect(again.status).toBe(201);
    const resent = await mllpExchange(server.mllpPort as number, mllpFrame(labMessage({ controlId: refusedId, bsn, filler: `F-${refusedId}`, results: [HB] })));
    expect(resent.ack?.segment('MSA')?.[1]).toBe('AA');
    expect(await countOf(server.fhir, `Observation?subject=Patient/${patientId}`)).toBe(5);
  }, 120_000);

  it('answers 503 + Retry-After to searches when the read queue is full, while ingestion goes on', async () => {
    const bsn = newBsn();
    await ingestOk(server.url, labMessage({ controlId: uid(), bsn, filler: `F-${uid()}`, results: [HB] }));
    const patientId = await patientIdByBsn(server.fhir, bsn);
    const reads = admissionQueues(server.services).reads;
    const held = slowUpload(`subject=Patient/${patientId}&_count=10`, { path: '/fhir/Observation/_search', type: 'application/x-www-form-urlencoded' });
    await until(() => reads.load.active === 1, 'the held search takes the read slot');

    const refused = await fhirFetch(`${server.fhir}/Observation?subject=Patient/${patientId}`);
    expect(refused.status).toBe(503);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(refused.body.issue[0].details.text).toMatch(/IDR is busy: its reads queue is full/);
    expect((await fhirFetch(`${server.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: '{ __typename }' }) })).status).toBe(503);
    // The CapabilityStatement is not queued; ingestion has its own queue.
    expect((await fhirFetch(`${server.fhir}/metadata`)).status).toBe(200);
    expect((await postHl7(server.url, labMessage({ controlId: uid(), bsn, filler: `F-${uid()}`, results: [HB] }))).status).toBe(201);

    const answered = await held.finish();
    expect(answered.status).toBe(200);
    expect(JSON.parse(answered.body).entry).toHaveLength(2);
    expect(reads.load).toEqual({ active: 0, waiting: 0 });
    expect((await fhirFetch(`${server.fhir}/Observation?subject=Patient/${patientId}`)).status).toBe(200);
  }, 120_000);
});
