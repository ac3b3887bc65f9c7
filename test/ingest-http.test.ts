import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authFetch, startTestServer, type TestServer } from './support/server.ts';
import { countOf, entryOf, type Json, patientIdByBsn, postHl7, rawOf } from './fixtures/ingest/clients.ts';
import { CREA, HB, adtMessage, batchFile, labMessage, newBsn, uid } from './fixtures/ingest/messages.ts';

/** POST /ingest/hl7v2 with a real HTTP client (fetch) against the running service. */

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server?.close();
});

const good = (bsn = newBsn()): string => {
  const id = uid();
  return labMessage({ controlId: id, bsn, filler: `F-${id}` });
};
const typesOf = (outputs: string[]): string[] => [...new Set(outputs.map((o) => o.split('/')[0] as string))].sort();

describe('POST /ingest/hl7v2', () => {
  it('ingests one message: 201, an informational OperationOutcome and the references written', async () => {
    const bsn = newBsn();
    const r = await postHl7(server.url, good(bsn));
    expect(r.status).toBe(201);
    expect(r.body.results).toHaveLength(1);
    const [res] = r.body.results;
    expect(res.status).toBe('processed');
    expect(res.label).toBe('ORU^R01 lab');
    expect(res.outcome.resourceType).toBe('OperationOutcome');
    expect(res.outcome.issue[0]).toMatchObject({ severity: 'information', code: 'informational' });
    expect(typesOf(res.outputs)).toEqual(['DiagnosticReport', 'Observation', 'Patient', 'Provenance']);
    for (const ref of res.outputs) expect(ref).toMatch(/^[A-Za-z]+\/[\w-]+\/_history\/\d+$/);
    const [type, id] = (res.outputs.find((o: string) => o.startsWith('Observation/')) as string).split('/');
    const obs = await authFetch(`${server.fhir}/${type}/${id}`);
    expect(obs.status).toBe(200);
    expect(await countOf(server.fhir, `Patient?identifier=http://fhir.nl/fhir/NamingSystem/bsn|${bsn}`)).toBe(1);
  });

  it('ingests an FHS/BHS batch message by message, each stored on its own', async () => {
    const bsn = newBsn();
    const a = good(bsn);
    const b = good(bsn);
    const r = await postHl7(server.url, batchFile([a, b]));
    expect(r.status).toBe(201);
    expect(r.body.results.map((x: Json) => x.status)).toEqual(['processed', 'processed']);
    const raws = await Promise.all(r.body.results.map((x: Json) => rawOf(server.url, x.inboxId)));
    expect(raws.map((x) => x.bytes.toString('utf8'))).toEqual([a, b]);
    const pid = await patientIdByBsn(server.fhir, bsn);
    expect(await countOf(server.fhir, `DiagnosticReport?subject=Patient/${pid}`)).toBe(2);
  });

  it('ingests messages sent back to back (\\r\\n separated) as separate messages', async () => {
    const a = good();
    const b = good();
    const r = await postHl7(server.url, `${a.replaceAll('\r', '\r\n')}\r\n${b.replaceAll('\r', '\r\n')}\r\n`);
    expect(r.status).toBe(201);
    expect(r.body.results).toHaveLength(2);
    expect(r.body.results.every((x: Json) => x.status === 'processed')).toBe(true);
  });

  it('refuses a bad message with 422 and the location in the OperationOutcome expression', async () => {
    const id = uid();
    const text = labMessage({ controlId: id, bsn: newBsn(), filler: `F-${id}`, results: [HB, { ...CREA, value: '++' }] });
    const r = await postHl7(server.url, text);
    expect(r.status).toBe(422);
    const [res] = r.body.results;
    expect(res.status).toBe('failed');
    expect(res.outcome.issue[0]).toMatchObject({ severity: 'error', code: 'processing', expression: ['OBX[2]-5'] });
    expect(res.outcome.issue[0].details.text).toMatch(/expected a number, got "\+\+".*raw input kept/);
    expect((await rawOf(server.url, res.inboxId)).bytes.toString('utf8')).toBe(text);
  });

  it('answers 207 for a body with good and bad messages', async () => {
    const bad = labMessage({ controlId: uid(), bsn: newBsn(), filler: `F-${uid()}`, version: '2.2' });
    const r = await postHl7(server.url, `${good()}\r${bad}\r`);
    expect(r.status).toBe(207);
    expect(r.body.results.map((x: Json) => x.status)).toEqual(['processed', 'failed']);
    expect(r.body.results[1].outcome.issue[0].expression).toEqual(['MSH-12']);
  });

  it('answers 415 for a content type that is not HL7 v2 text', async () => {
    const r = await postHl7(server.url, JSON.stringify({ resourceType: 'Bundle' }), 'application/json');
    expect(r.status).toBe(415);
    expect(r.body.resourceType).toBe('OperationOutcome');
    expect(r.body.issue[0].details.text).toMatch(/application\/json/);
  });

  it('answers 400 for an empty body', async () => {
    const r = await postHl7(server.url, '');
    expect(r.status).toBe(400);
    expect(r.body.issue[0].details.text).toMatch(/Empty body/);
  });
});

describe('bad input over HTTP: a clear error, raw bytes kept, and the service keeps serving', () => {
  const truncated = (): string => {
    const m = good();
    return m.slice(0, m.indexOf('\rORC'));
  };
  const cases: { name: string; body: () => Buffer; location: string; reason: RegExp }[] = [
    { name: 'missing MSH', body: () => Buffer.from(good().slice(good().indexOf('PID'))), location: 'MSH', reason: /must start with an MSH segment/ },
    { name: 'wrong encoding characters', body: () => Buffer.from(good().replace('^~\\&', '^~\\')), location: 'MSH-2', reason: /encoding characters/ },
    { name: 'truncated message', body: () => Buffer.from(truncated()), location: 'OBR', reason: /no OBR segment/ },
    { name: 'unknown message type (ADT)', body: () => Buffer.from(adtMessage(uid(), newBsn())), location: 'MSH-9', reason: /ADT\^A01 is not a lab or pathology result/ },
    { name: 'unsupported version', body: () => Buffer.from(labMessage({ controlId: uid(), bsn: newBsn(), filler: `F-${uid()}`, version: '2.2' })), location: 'MSH-12', reason: /version "2\.2"/ },
    { name: 'non-text bytes', body: () => Buffer.concat([Buffer.from(good()), Buffer.from([0x0d, 0xc3, 0x28, 0xff, 0x00])]), location: 'MSH-18', reason: /not valid UTF-8/ },
  ];
  for (const c of cases) {
    it(`${c.name}: 422 naming ${c.location}, raw kept, then a good message is ingested`, async () => {
      const body = c.body();
      const r = await postHl7(server.url, body);
      expect(r.status).toBe(422);
      const [res] = r.body.results;
      expect(res.outcome.issue[0].expression).toEqual([c.location]);
      expect(res.outcome.issue[0].details.text).toMatch(c.reason);
      const entry = await entryOf(server.url, res.inboxId);
      expect(entry).toMatchObject({ status: 'failed', source: 'http', error: { location: c.location } });
      const raw = await rawOf(server.url, res.inboxId);
      expect(raw.status).toBe(200);
      expect(raw.bytes.equals(body)).toBe(true);
      expect((await postHl7(server.url, good())).status).toBe(201);
    });
  }
});
