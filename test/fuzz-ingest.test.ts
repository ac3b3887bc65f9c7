import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { splitBody } from '../api/ingest/routes.ts';
import { decodeHl7Text } from '../ingestion/adapter-registry.ts';
import { splitHl7Batch } from '../ingestion/adapters/hl7v2/index.ts';
import { seedHl7Messages } from '../seed/hl7v2/index.ts';
import { fuzzCase, loadFuzzCorpus, describeCase, type FuzzCase, type FuzzCorpus } from '../ingestion/adapters/testing/fuzz-cases.ts';
import { caseRng } from '../ingestion/adapters/testing/mutator.ts';
import { authFetch, startTestServer, type TestServer } from './support/server.ts';
import { entryOf, type Json, postHl7, rawOf, searchOf } from './fixtures/ingest/clients.ts';
import { BSN_SYSTEM, HB, labSegments, newBsn, uid } from './fixtures/ingest/messages.ts';

/**
 * Mutation fuzzing through the running service: seeded mutants of HL7 v2, DICOM and document
 * inputs POSTed to /ingest/hl7v2, /ingest/dicom and /ingest/documents, and HL7 v2 mutants sent
 * over MLLP. For every case: no 5xx, an answer within CASE_BOUND_MS, the service still answers
 * /healthz, and every stored input is kept byte for byte (GET /ingest/messages/{id}/raw) with a
 * status of processed, duplicate or waiting, or failed with a located reason.
 * More seeds on demand: IDR_FUZZ_SEEDS=7,8 (IDR_FUZZ_HTTP_CASES / IDR_FUZZ_MLLP_CASES per seed).
 */

const SEEDS = [101, 102];
const EXTRA_SEEDS = (process.env.IDR_FUZZ_SEEDS ?? '').split(',').map((s) => s.trim()).filter(Boolean).map(Number);
const HTTP_CASES = Number(process.env.IDR_FUZZ_HTTP_CASES ?? 80);
const MLLP_CASES = Number(process.env.IDR_FUZZ_MLLP_CASES ?? 50);
/** Repeated segments and fields stay within this (each repeated OBX is a resource written). */
const MAX_REPEAT = 40;
const CASE_BOUND_MS = 20_000;
const MAX_MESSAGES = 100;
const OK_STATUSES = ['processed', 'duplicate', 'waiting'];

let server: TestServer;
let corpus: FuzzCorpus;

beforeAll(async () => {
  server = await startTestServer({ IDR_INGEST_MAX_MESSAGES: String(MAX_MESSAGES) });
  corpus = loadFuzzCorpus(seedHl7Messages({ count: 2 }).filter((_, i) => i % 6 === 0).map((m) => ({ name: `seed/${m.name}`, text: m.text })));
  // The fixtures' patient (BSN 999911120), so that documents and images about it can be filed.
  const mdm = corpus.mdm[0]?.text ?? '';
  const first = await authFetch(`${server.url}/ingest/hl7v2`, { method: 'POST', headers: { 'content-type': 'x-application/hl7-v2+er7' }, body: mdm });
  expect(first.status).toBe(201);
});
afterAll(async () => {
  await server?.close();
});

/** The request a case is sent as; one in four also gets odd request details (type parameters, repeated or unknown query parameters). */
function requestOf(fc: FuzzCase): { path: string; contentType: string } {
  const r = caseRng(fc.seed, 500_000 + fc.index);
  const odd = r.chance(0.25);
  const type = (t: string): string => (odd ? r.pick([t.toUpperCase(), `${t}; charset=utf-8`, `${t};charset="iso-8859-1"`, ` ${t} `]) : t);
  if (fc.kind === 'hl7v2') return { path: '/ingest/hl7v2', contentType: type(r.pick(['x-application/hl7-v2+er7', 'text/plain', 'application/hl7-v2', 'application/octet-stream'])) };
  if (fc.kind === 'dicom') return { path: `/ingest/dicom${odd ? `?filename=${encodeURIComponent(r.pick(['a.dcm', '', '../../x', '\u0000', 'é'.repeat(300)]))}` : ''}`, contentType: type(r.pick(['application/dicom', 'application/octet-stream'])) };
  const q = new URLSearchParams();
  const meta = fc.metadata as { patientIdentifier?: { system: string; value: string }; type?: string; date?: string; title?: string };
  if (meta.patientIdentifier) q.set('patient', `${meta.patientIdentifier.system}|${meta.patientIdentifier.value}`);
  for (const k of ['type', 'date', 'title'] as const) if (meta[k] !== undefined) q.set(k, meta[k]);
  if (odd) q.append(r.pick(['patient', 'type', 'date', 'title', 'author', 'filename', 'unknown', 'patient[system]']), r.pick(['x', '', '|', 'http://a|1', '2024-01-01']));
  return { path: `/ingest/documents?${q}`, contentType: type(fc.contentType) };
}

/** What every stored result must show: a known status, a located reason when failed (the same when reprocessed), the raw bytes kept. */
async function checkStored(result: Json, expected: Uint8Array, where: string, reprocess = false): Promise<void> {
  expect(OK_STATUSES.concat('failed'), where).toContain(result.status);
  if (result.status === 'failed') {
    expect(result.error?.location, `${where}: failure without a location: ${result.error?.message}`).toBeTruthy();
    expect(result.error?.message, where).not.toMatch(/^internal error/);
  }
  const raw = await rawOf(server.url, result.inboxId);
  expect(raw.status, where).toBe(200);
  expect(Buffer.compare(raw.bytes, Buffer.from(expected)), `${where}: raw bytes differ`).toBe(0);
  expect((await entryOf(server.url, result.inboxId)).status, where).toBe(result.status);
  if (result.status === 'failed' && reprocess) {
    // Reprocessing the stored bytes (as an operator would after a fix) fails the same way, without a 5xx.
    const again = await authFetch(`${server.url}/ingest/messages/${result.inboxId}/reprocess`, { method: 'POST', signal: AbortSignal.timeout(CASE_BOUND_MS) });
    expect(again.status, `${where}: reprocess`).toBe(422);
    expect(((await again.json()) as Json).error?.location, `${where}: reprocess`).toBe(result.error.location);
  }
}

/** POSTs one case and checks the answer and what was stored. */
async function postCase(fc: FuzzCase): Promise<void> {
  const where = describeCase(fc);
  const { path, contentType } = requestOf(fc);
  const res = await authFetch(`${server.url}${path}`, { method: 'POST', headers: { 'content-type': contentType }, body: Buffer.from(fc.bytes), signal: AbortSignal.timeout(CASE_BOUND_MS) });
  const text = await res.text();
  expect(res.status, `${where}: ${text.slice(0, 300)}`).toBeLessThan(500);
  if (fc.bytes.length === 0) {
    expect(res.status, where).toBe(fc.kind === 'hl7v2' || fc.kind === 'dicom' ? 400 : 422);
    if (res.status === 400) return;
  }
  const pieces = fc.kind === 'hl7v2' ? splitBody(Buffer.from(fc.bytes)) : [fc.bytes];
  if (fc.kind === 'hl7v2' && pieces.length > MAX_MESSAGES) {
    expect(res.status, where).toBe(413);
    return;
  }
  if (pieces.length > 1) {
    // A batch is stored message by message, each in the encoding the body was sent in.
    const texts = splitHl7Batch(decodeHl7Text(Buffer.from(fc.bytes)));
    pieces.forEach((p, i) => expect(decodeHl7Text(Buffer.from(p)), where).toBe(texts[i]));
  }
  const body = JSON.parse(text) as Json;
  expect(body.results?.length, `${where}: ${text.slice(0, 300)}`).toBe(pieces.length);
  for (const [i, result] of (body.results as Json[]).entries()) await checkStored(result, pieces[i] as Uint8Array, where, fc.index % 4 === 0);
  if (fc.index % 8 !== 3) return;
  // Sent again: what was written is a duplicate (nothing new written), what failed fails at the same place.
  const again = await authFetch(`${server.url}${path}`, { method: 'POST', headers: { 'content-type': contentType }, body: Buffer.from(fc.bytes), signal: AbortSignal.timeout(CASE_BOUND_MS) });
  const second = (await again.json()) as Json;
  for (const [i, first] of (body.results as Json[]).entries()) {
    const result = second.results[i];
    if (first.status === 'processed' || first.status === 'duplicate') {
      expect(result.status, `${where}: sent again`).toBe('duplicate');
      expect(result.outputs, `${where}: sent again`).toEqual(first.outputs);
    }
    if (first.status === 'failed') expect(result.error?.location, `${where}: sent again`).toBe(first.error.location);
    await checkStored(result, pieces[i] as Uint8Array, `${where}: sent again`);
  }
}

describe('fuzzer findings over HTTP', () => {
  it('a document whose metadata holds a NUL is kept and refused naming the field (it was a 500 and the input was lost)', async () => {
    const body = Buffer.from('MDT letter: fuzzer finding.\n');
    const res = await authFetch(`${server.url}/ingest/documents?patient=http://fhir.nl/fhir/NamingSystem/bsn|999911120&title=MDT%00letter&filename=a%00b.txt`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body });
    expect(res.status).toBe(400);
    const result = ((await res.json()) as Json).results[0];
    expect(result.status).toBe('failed');
    expect(result.error.location).toBe('metadata.title');
    expect(result.error.message).toMatch(/^contains the control character U\+FFFD at character 4/);
    await checkStored(result, body, 'NUL in metadata');
    expect((await entryOf(server.url, result.inboxId)).filename).toBe('a\ufffdb.txt');
  });

  it('a Latin-1 batch (MSH-18 8859/1) is stored message by message in Latin-1: raw bytes as sent, names intact', async () => {
    // Found as: a mutant encoded as Latin-1 with a duplicated MSH; the split messages were stored as UTF-8 and read back as Latin-1.
    const bsn = newBsn();
    const latin = (id: string): string => labSegments({ controlId: id, bsn, filler: `F-${id}`, family: 'Müller', given: 'José', results: [HB] }).join('\r').replace('|NLD|UNICODE UTF-8', '|NLD|8859/1');
    const messages = [latin(uid()), latin(uid())];
    const r = await postHl7(server.url, Buffer.from(messages.join('\r'), 'latin1'));
    expect(r.status).toBe(201);
    expect(r.body.results).toHaveLength(2);
    for (const [i, result] of (r.body.results as Json[]).entries()) expect((await rawOf(server.url, result.inboxId)).bytes.equals(Buffer.from(messages[i] as string, 'latin1'))).toBe(true);
    const [patient] = await searchOf(server.fhir, `Patient?identifier=${BSN_SYSTEM}|${bsn}`);
    expect(patient.name[0]).toMatchObject({ family: 'Müller', given: ['José'] });
  });
});

describe('ingestion fuzzing over HTTP', () => {
  it.each([...SEEDS, ...EXTRA_SEEDS])('seed %i: no 5xx, no hang, every input kept with a status or a located failure', async (seed) => {
    const statuses = new Map<string, number>();
    for (let index = 0; index < HTTP_CASES; index++) {
      const fc = fuzzCase(corpus, seed, index, undefined, MAX_REPEAT);
      // QIDO-RS results come only from a PACS the service queries: they are fuzzed at the adapter level.
      if (fc.kind === 'qido') continue;
      await postCase(fc);
      statuses.set(fc.kind, (statuses.get(fc.kind) ?? 0) + 1);
      if (index % 25 === 24) expect((await authFetch(`${server.url}/healthz`, { signal: AbortSignal.timeout(CASE_BOUND_MS) })).status).toBe(200);
    }
    // Every way in was exercised.
    expect([...statuses.keys()].sort()).toEqual(['ccda', 'dicom', 'hl7v2', 'mdm', 'pdf', 'text']);
  }, 300_000);
});

/** An MLLP connection that sends one frame and reads one reply frame at a time. */
class MllpConnection {
  private readonly socket: net.Socket;
  private buffer = Buffer.alloc(0);
  private waiter: (() => void) | undefined;

  constructor(port: number) {
    this.socket = net.connect(port, '127.0.0.1');
    this.socket.on('data', (chunk: Buffer) => {
      this.buffer = Buffer.concat([this.buffer, chunk]);
      this.waiter?.();
    });
    this.socket.on('close', () => this.waiter?.());
  }

  /** Sends `bytes` framed; resolves with the reply's text, rejects after `timeoutMs` or when the server closes. */
  async exchange(bytes: Uint8Array, timeoutMs: number): Promise<string> {
    this.socket.write(Buffer.concat([Buffer.from([0x0b]), bytes, Buffer.from([0x1c, 0x0d])]));
    const deadline = AbortSignal.timeout(timeoutMs);
    for (;;) {
      const end = this.buffer.indexOf(0x1c);
      if (end >= 0) {
        const start = this.buffer.indexOf(0x0b);
        const reply = this.buffer.subarray(start + 1, end).toString('utf8');
        this.buffer = this.buffer.subarray(end + 2);
        return reply;
      }
      if (this.socket.destroyed) throw new Error('the server closed the connection');
      await new Promise<void>((resolve, reject) => {
        this.waiter = resolve;
        deadline.addEventListener('abort', () => reject(new Error(`no reply within ${timeoutMs} ms`)), { once: true });
      });
    }
  }

  close(): void {
    this.socket.destroy();
  }
}

describe('ingestion fuzzing over MLLP', () => {
  it.each([...SEEDS, ...EXTRA_SEEDS])('seed %i: every HL7 v2 mutant gets one ACK; AA/AE/AR name the stored input, kept byte for byte', async (seed) => {
    const conn = new MllpConnection(server.mllpPort as number);
    const codes = new Map<string, number>();
    try {
      for (let index = 0; index < MLLP_CASES; index++) {
        const fc = fuzzCase(corpus, seed, index, 'hl7v2', MAX_REPEAT);
        // A frame cannot hold its own start and end blocks: those bytes become "?".
        const bytes = Buffer.from(fc.bytes).map((b) => (b === 0x0b || b === 0x1c ? 0x3f : b));
        const where = describeCase(fc);
        const reply = await conn.exchange(bytes, CASE_BOUND_MS);
        const segments = reply.split('\r');
        expect(segments[0], where).toMatch(/^MSH\|\^~\\&\|IDR\|/);
        // Values echoed from the message never add or shift fields of the ACK.
        expect(segments[0]?.split('|'), `${where}: ${reply}`).toHaveLength(12);
        const msa = (segments.find((s) => s.startsWith('MSA|')) ?? '').split('|');
        expect(msa.length, `${where}: ${reply}`).toBeLessThanOrEqual(4);
        expect(['AA', 'AE', 'AR'], `${where}: ${reply}`).toContain(msa[1]);
        expect(reply, where).not.toMatch(/not stored/);
        codes.set(msa[1] as string, (codes.get(msa[1] as string) ?? 0) + 1);
        const inboxId = segments[0]?.split('|')[9] ?? '';
        const entry = await entryOf(server.url, inboxId);
        expect(OK_STATUSES.concat('failed'), where).toContain(entry.status);
        expect(entry.status === 'failed', `${where}: ACK ${msa[1]} for an entry ${entry.status}`).toBe(msa[1] !== 'AA');
        if (entry.status === 'failed') expect(entry.error?.location, `${where}: ${entry.error?.message}`).toBeTruthy();
        const raw = await rawOf(server.url, inboxId);
        expect(Buffer.compare(raw.bytes, bytes), `${where}: raw bytes differ`).toBe(0);
      }
    } finally {
      conn.close();
    }
    expect(codes.get('AA'), 'some mutants are still accepted').toBeGreaterThan(0);
    expect((codes.get('AE') ?? 0) + (codes.get('AR') ?? 0), 'some mutants are refused').toBeGreaterThan(0);
    expect((await authFetch(`${server.url}/healthz`)).status).toBe(200);
  }, 300_000);
});

/** Reads reply frames from a socket until `count` arrived; rejects after `timeoutMs`. */
function replies(socket: net.Socket, count: number, timeoutMs: number): Promise<string[]> {
  return new Promise((resolve, reject) => {
    let buffer = Buffer.alloc(0);
    const out: string[] = [];
    const timer = setTimeout(() => reject(new Error(`${out.length} of ${count} replies within ${timeoutMs} ms`)), timeoutMs);
    const onData = (chunk: Buffer): void => {
      buffer = Buffer.concat([buffer, chunk]);
      for (let end = buffer.indexOf(0x1c); end >= 0; end = buffer.indexOf(0x1c)) {
        out.push(buffer.subarray(buffer.indexOf(0x0b) + 1, end).toString('utf8'));
        buffer = buffer.subarray(end + 2);
      }
      if (out.length >= count) {
        clearTimeout(timer);
        socket.off('data', onData);
        resolve(out);
      }
    };
    socket.on('data', onData);
    if (count === 0) onData(Buffer.alloc(0));
  });
}

describe('MLLP framing fuzzing', () => {
  it.each([...SEEDS, ...EXTRA_SEEDS])('seed %i: frames split at random points, noise between frames, connections dropped mid-frame: each whole frame answered in order and kept', async (seed) => {
    for (let k = 0; k < 12; k++) {
      const r = caseRng(seed, 100_000 + k);
      const frames = Array.from({ length: r.int(1, 4) }, (_, i) => Buffer.from(fuzzCase(corpus, seed, 100_000 + k * 10 + i, 'hl7v2', MAX_REPEAT).bytes.map((b) => (b === 0x0b || b === 0x1c ? 0x3f : b))));
      const parts: Buffer[] = [];
      for (const f of frames) {
        // Noise outside a frame (no start block in it) is skipped by the listener.
        if (r.chance(0.4)) parts.push(Buffer.from(Array.from({ length: r.int(1, 40) }, () => r.pick([0x0d, 0x0a, 0x1c, 0x20, 0x00, 0xff, r.int(0x0c, 0xff)]))));
        parts.push(Buffer.from([0x0b]), f, Buffer.from([0x1c, 0x0d]));
      }
      const dropMidFrame = r.chance(0.3);
      if (dropMidFrame) parts.push(Buffer.from([0x0b]), Buffer.from(frames[0] ?? []).subarray(0, r.int(0, 200)));
      const stream = Buffer.concat(parts);
      const socket = net.connect(server.mllpPort as number, '127.0.0.1');
      await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
      const answered = replies(socket, frames.length, CASE_BOUND_MS);
      for (let pos = 0; pos < stream.length;) {
        const n = r.int(1, 300);
        socket.write(stream.subarray(pos, pos + n));
        pos += n;
      }
      const where = `seed ${seed} stream ${k} (${frames.length} frames${dropMidFrame ? ', dropped mid-frame' : ''})`;
      const texts = await answered;
      socket.destroy();
      expect(texts, where).toHaveLength(frames.length);
      for (const [i, reply] of texts.entries()) {
        expect(reply, where).toMatch(/^MSH\|\^~\\&\|IDR\|/);
        expect(reply, where).not.toMatch(/not stored/);
        const inboxId = reply.split('\r')[0]?.split('|')[9] ?? '';
        expect((await rawOf(server.url, inboxId)).bytes.equals(frames[i] as Buffer), `${where}: frame ${i} raw bytes differ`).toBe(true);
      }
    }
    // The listener still answers a new connection.
    const conn = new MllpConnection(server.mllpPort as number);
    try {
      const reply = await conn.exchange(Buffer.from(corpus.hl7v2[0]?.text ?? '', 'utf8'), CASE_BOUND_MS);
      expect(reply).toMatch(/\rMSA\|A[AER]\|/);
    } finally {
      conn.close();
    }
  }, 300_000);
});
