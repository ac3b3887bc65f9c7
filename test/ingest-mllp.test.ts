import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Hl7Message } from '@medplum/core';
import { Hl7Client } from '@medplum/hl7';
import { authFetch, startTestServer, type TestServer } from './support/server.ts';
import { countOf, entryOf, type Json, mllpExchange, patientIdByBsn, rawOf, searchOf } from './fixtures/ingest/clients.ts';
import { CREA, HB, labMessage, mllpFrame, newBsn, uid } from './fixtures/ingest/messages.ts';

/** HL7 v2 over MLLP with real clients: @medplum/hl7's Hl7Client, and a raw socket for bytes it won't send. */

let server: TestServer;
let client: Hl7Client;
beforeAll(async () => {
  server = await startTestServer();
  client = new Hl7Client({ host: '127.0.0.1', port: server.mllpPort as number });
});
afterAll(async () => {
  await client?.close();
  await server?.close();
});

/** @medplum/hl7 carries its own copy of @medplum/core: its message types are structurally the same. */
type WireMessage = Parameters<Hl7Client['sendAndWait']>[0];
async function send(text: string): Promise<WireMessage> {
  return client.sendAndWait(Hl7Message.parse(text) as unknown as WireMessage, { timeoutMs: 60_000 });
}

const field = (m: WireMessage, seg: string, n: number): string => m.getSegment(seg)?.getField(n)?.toString() ?? '';
/** The inbox id an ACK names ("... (stored as <id>)"). */
const storedAs = (text: string): string => /stored as ([0-9a-f-]{36})/.exec(text)?.[1] ?? '';

describe('MLLP listener', () => {
  it('ACKs a lab ORU with AA and the original control id; its Observations are searchable by patient, code and date', async () => {
    const bsn = newBsn();
    const march = uid();
    const june = uid();
    const ack1 = await send(labMessage({ controlId: march, bsn, filler: `F-${march}`, when: '20240315083000+0100', results: [HB, CREA] }));
    expect(field(ack1, 'MSH', 9)).toMatch(/^ACK/);
    expect(field(ack1, 'MSA', 1)).toBe('AA');
    expect(field(ack1, 'MSA', 2)).toBe(march);
    const ack2 = await send(labMessage({ controlId: june, bsn, filler: `F-${june}`, when: '20240601090000+0200', results: [{ ...HB, value: '7.9', flag: '' }] }));
    expect(field(ack2, 'MSA', 1)).toBe('AA');
    expect(field(ack2, 'MSA', 2)).toBe(june);

    const pid = await patientIdByBsn(server.fhir, bsn);
    expect(await countOf(server.fhir, `Observation?subject=Patient/${pid}`)).toBe(3);
    const hb = await searchOf(server.fhir, `Observation?subject=Patient/${pid}&code=http://loinc.org|718-7&_sort=date`);
    expect(hb.map((o) => o.valueQuantity.value)).toEqual([7.1, 7.9]);
    expect(hb[0].valueQuantity).toMatchObject({ unit: 'mmol/L', system: 'http://unitsofmeasure.org', code: 'mmol/L' });
    expect(hb[0].interpretation[0].coding[0].code).toBe('L');
    const late = await searchOf(server.fhir, `Observation?subject=Patient/${pid}&code=http://loinc.org|718-7&date=ge2024-05-01`);
    expect(late.map((o) => o.valueQuantity.value)).toEqual([7.9]);
    const early = await searchOf(server.fhir, `Observation?subject=Patient/${pid}&date=lt2024-05-01`);
    expect(early.map((o) => o.code.coding[0].code).sort()).toEqual(['2160-0', '718-7']);
    expect(await countOf(server.fhir, `Observation?code=http://loinc.org|2160-0&subject=Patient/${pid}`)).toBe(1);
    expect(await countOf(server.fhir, `DiagnosticReport?subject=Patient/${pid}`)).toBe(2);
  });

  it('answers a refused message with AE and an ERR naming the location; the raw bytes are kept; the next good message gets AA', async () => {
    const bsn = newBsn();
    const id = uid();
    const text = labMessage({ controlId: id, bsn, filler: `F-${id}`, results: [HB, { ...CREA, value: '++' }] });
    const ack = await send(text);
    expect(field(ack, 'MSA', 1)).toBe('AE');
    expect(field(ack, 'MSA', 2)).toBe(id);
    const err = ack.getSegment('ERR');
    expect(err?.getField(2)?.toString()).toBe('OBX^2^5');
    expect(err?.getField(3)?.toString()).toMatch(/^102\^/);
    expect(ack.toString()).toContain('expected a number');
    const inboxId = storedAs(ack.toString());
    const entry = await entryOf(server.url, inboxId);
    expect(entry).toMatchObject({ status: 'failed', source: 'mllp', error: { location: 'OBX[2]-5' } });
    expect(entry.error.message).toMatch(/expected a number/);
    const raw = await rawOf(server.url, inboxId);
    expect(raw.bytes.equals(Buffer.from(text, 'utf8'))).toBe(true);
    expect(await countOf(server.fhir, `Patient?identifier=http://fhir.nl/fhir/NamingSystem/bsn|${bsn}`)).toBe(0);

    const good = uid();
    expect(field(await send(labMessage({ controlId: good, bsn, filler: `F-${good}` })), 'MSA', 1)).toBe('AA');
  });
});

describe('MLLP bad input over a raw socket', () => {
  async function rejected(bytes: Buffer): Promise<{ code: string; err: string[]; entry: Json; raw: Buffer }> {
    const { ack } = await mllpExchange(server.mllpPort as number, mllpFrame(bytes));
    if (!ack) throw new Error('no ACK');
    const err = ack.segment('ERR') ?? [];
    const inboxId = storedAs(ack.text);
    return { code: ack.segment('MSA')?.[1] ?? '', err, entry: await entryOf(server.url, inboxId), raw: (await rawOf(server.url, inboxId)).bytes };
  }

  it('refuses non-text bytes with AR, keeping them byte for byte', async () => {
    const id = uid();
    const bytes = Buffer.concat([Buffer.from(labMessage({ controlId: id, bsn: newBsn(), filler: `F-${id}` }), 'utf8'), Buffer.from([0xff, 0xfe, 0x00, 0x81, 0x0d])]);
    const r = await rejected(bytes);
    expect(r.code).toBe('AR');
    expect(r.err[2]).toBe('MSH^1^18');
    expect(r.entry.status).toBe('failed');
    expect(r.entry.error.message).toMatch(/not valid UTF-8/);
    expect(r.raw.equals(bytes)).toBe(true);
  });

  it('refuses a message without MSH with AR naming MSH', async () => {
    const bytes = Buffer.from('PID|1||999911120^^^NLMINBIZA^NNNLD||Jansen^Els\rOBX|1|NM|718-7^Hb^LN||7.1|mmol/L|||||F', 'utf8');
    const r = await rejected(bytes);
    expect(r.code).toBe('AR');
    expect(r.err[2]).toBe('MSH^1');
    expect(r.entry.error).toMatchObject({ location: 'MSH' });
    expect(r.entry.error.message).toMatch(/must start with an MSH segment/);
    expect(r.raw.equals(bytes)).toBe(true);
  });

  it('refuses a 20 MB message over the default frame limit (16 MB) with AR naming the limit; nothing is stored', async () => {
    const id = uid();
    const bsn = newBsn();
    const big = 'Lorem ipsum dolor sit amet. '.repeat(Math.ceil((20 * 1024 * 1024) / 28));
    const text = labMessage({ controlId: id, bsn, filler: `F-${id}`, results: [{ loinc: '11526-1', name: 'Pathology study', type: 'TX', value: big }] });
    const bytes = Buffer.from(text, 'utf8');
    expect(bytes.length).toBeGreaterThan(20 * 1024 * 1024);
    const { ack } = await mllpExchange(server.mllpPort as number, mllpFrame(bytes), 120_000);
    expect(ack?.segment('MSA')?.slice(1, 3)).toEqual(['AR', id]);
    expect(ack?.text).toContain(`limit of ${16 * 1024 * 1024} bytes (IDR_MLLP_MAX_FRAME_BYTES)`);
    const inbox = (await (await authFetch(`${server.url}/ingest/messages?_count=500`)).json()) as { entries: Json[] };
    expect(inbox.entries.some((e) => e.size >= 16 * 1024 * 1024)).toBe(false);
  }, 180_000);

  it('keeps serving after bad input: a good message on a fresh connection gets AA', async () => {
    const id = uid();
    const { ack } = await mllpExchange(server.mllpPort as number, mllpFrame(labMessage({ controlId: id, bsn: newBsn(), filler: `F-${id}` })));
    expect(ack?.segment('MSA')?.slice(1, 3)).toEqual(['AA', id]);
  });
});
