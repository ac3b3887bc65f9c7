import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DocumentReference } from '@medplum/fhirtypes';
import { authFetch, fhirFetch, startTestServer, type TestServer } from './support/server.ts';

const BSN = 'http://fhir.nl/fhir/NamingSystem/bsn';
const PATIENT = `${BSN}|999911120`;
const fixture = (name: string): Promise<Buffer> => readFile(new URL(`./fixtures/documents/${name}`, import.meta.url));

let server: TestServer;
let patientId = '';
beforeAll(async () => {
  server = await startTestServer();
  const p = await fhirFetch(`${server.fhir}/Patient`, { method: 'POST', json: { resourceType: 'Patient', identifier: [{ system: BSN, value: '999911120' }], name: [{ family: 'Jansen' }] } });
  patientId = p.body.id;
});
afterAll(async () => {
  await server?.close();
});

async function upload(body: Uint8Array | ReadableStream, type: string, query: Record<string, string>): ReturnType<typeof fhirFetch> {
  return fhirFetch(`${server.url}/ingest/documents?${new URLSearchParams(query)}`, { method: 'POST', headers: { 'content-type': type }, body: body instanceof Uint8Array ? new Uint8Array(body) : body });
}

async function docOf(result: { outputs: string[] }): Promise<DocumentReference> {
  const ref = result.outputs.find((o) => o.startsWith('DocumentReference/'))?.split('/_history/')[0];
  return (await fhirFetch(`${server.fhir}/${ref}`)).body;
}

describe('POST /ingest/documents', () => {
  it('a PDF letter: DocumentReference with type, date, author, extracted text and a link to the original bytes', async () => {
    const pdf = await fixture('referral-letter.pdf');
    const r = await upload(pdf, 'application/pdf', { patient: PATIENT, type: 'referral', date: '2024-03-04', author: 'Dr. P. de Vries', custodian: 'Noordwest Ziekenhuisgroep' });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    const doc = await docOf(r.body.results[0]);
    expect(doc.subject?.reference).toBe(`Patient/${patientId}`);
    expect(doc.type?.coding?.[0]?.code).toBe('57133-1');
    expect(doc.author?.[0]?.display).toBe('Dr. P. de Vries');
    expect(Buffer.from(doc.content[1]?.attachment.data ?? '', 'base64').toString()).toContain('Thank you for seeing Mrs Jansen');
    expect(doc.content[0]?.attachment.url).toMatch(/^\/ingest\/messages\/[0-9a-f-]+\/raw$/);
    const raw = await authFetch(new URL(doc.content[0]?.attachment.url ?? '', server.url));
    expect(Buffer.from(await raw.arrayBuffer()).equals(pdf)).toBe(true);
    // identical content twice is one document
    const again = await upload(pdf, 'application/pdf', { patient: PATIENT, type: 'referral' });
    expect(again.status).toBe(200);
    expect(again.body.results[0].status).toBe('duplicate');
    const byPatient = await fhirFetch(`${server.fhir}/DocumentReference?patient=Patient/${patientId}&type=http://loinc.org|57133-1&date=2024-03`);
    expect(byPatient.body.entry).toHaveLength(1);
  });

  it('plain text, found by _content (words anywhere in the letter, any case and accents)', async () => {
    const r = await upload(await fixture('mdt-letter.txt'), 'text/plain; charset=utf-8', { patient: PATIENT, type: 'mdt', date: '2024-03-12' });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    const id = (await docOf(r.body.results[0])).id;
    const hit = await fhirFetch(`${server.fhir}/DocumentReference?_content=Paclitaxel%20NEOADJUVANT`);
    expect(hit.body.entry?.map((e: { resource: { id: string } }) => e.resource.id)).toEqual([id]);
    const prefix = await fhirFetch(`${server.fhir}/DocumentReference?_content=paclitax&patient=Patient/${patientId}`);
    expect(prefix.body.entry).toHaveLength(1);
    const referral = await fhirFetch(`${server.fhir}/DocumentReference?_content=colleague`);
    expect(referral.body.entry).toHaveLength(1);
    expect(referral.body.entry[0].resource.id).not.toBe(id);
    const none = await fhirFetch(`${server.fhir}/DocumentReference?_content=paclitaxel%20colleague`);
    expect(none.body.entry ?? []).toHaveLength(0);
  });

  it('a C-CDA consult note: the document of the patient, found by a word of its narrative', async () => {
    const r = await upload(await fixture('consult-note-ccda.xml'), 'application/hl7-cda+xml', { patient: PATIENT });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    expect(r.body.results[0].label).toBe('C-CDA Consult note');
    const doc = await docOf(r.body.results[0]);
    expect(doc.subject?.reference).toBe(`Patient/${patientId}`);
    expect(doc.type?.coding?.[0]?.code).toBe('11488-4');
    const hit = await fhirFetch(`${server.fhir}/DocumentReference?patient=Patient/${patientId}&_content=linkermamma`);
    expect(hit.body.entry?.map((e: { resource: { id: string } }) => e.resource.id)).toEqual([doc.id]);
    // the problem entry is kept as a Condition of the patient (not dropped for the converter's verification system)
    expect(r.body.results[0].warnings.join(' ')).not.toMatch(/Condition not kept/);
    const conditions = await fhirFetch(`${server.fhir}/Condition?subject=Patient/${patientId}`);
    expect(conditions.body.entry?.length).toBeGreaterThan(0);
    expect(conditions.body.entry[0].resource.verificationStatus?.coding?.[0]?.system ?? 'http://terminology.hl7.org/CodeSystem/condition-ver-status').toBe('http://terminology.hl7.org/CodeSystem/condition-ver-status');
  });

  it('an MDM^T02 file with its metadata', async () => {
    const r = await upload(await fixture('radiology-report-mdm.hl7'), 'x-application/hl7-v2+er7', { patient: PATIENT });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    expect(r.body.results[0].outputs.some((o: string) => o.startsWith('DiagnosticReport/'))).toBe(true);
    const contradiction = await upload(Buffer.from((await fixture('radiology-report-mdm.hl7')).toString().replace('RIS000987', 'RIS000988')), 'x-application/hl7-v2+er7', { patient: `${BSN}|111222333` });
    expect(contradiction.status).toBe(400);
    expect(contradiction.body.results[0].error.message).toMatch(/contradicts the message/);
  });
});

describe('bad input: clear errors, raw kept, service keeps running', () => {
  const cases: [string, string, string, Record<string, string>, number, RegExp][] = [
    ['corrupt PDF', 'corrupt.pdf', 'application/pdf', { patient: PATIENT }, 422, /not a readable PDF/],
    ['encrypted PDF', 'encrypted.pdf', 'application/pdf', { patient: PATIENT }, 422, /encrypted/],
    ['empty file', 'empty.txt', 'text/plain', { patient: PATIENT }, 422, /empty file/],
    ['PDF sent as text', 'pdf-named-text.txt', 'text/plain', { patient: PATIENT }, 415, /pdf/i],
    ['wrong content type', 'mdt-letter.txt', 'image/png', { patient: PATIENT }, 415, /unsupported content type/],
    ['XML that is not C-CDA', 'not-ccda.xml', 'application/xml', { patient: PATIENT }, 422, /ClinicalDocument/],
    ['no patient', 'mdt-letter.txt', 'text/plain', { type: 'mdt' }, 400, /patientIdentifier/],
    ['patient without system', 'mdt-letter.txt', 'text/plain', { patient: '999911120' }, 400, /system is required/],
    ['impossible date', 'mdt-letter.txt', 'text/plain', { patient: PATIENT, date: '2024-02-31' }, 400, /metadata.date|FHIR date/],
  ];
  for (const [name, file, type, query, status, reason] of cases) {
    it(name, async () => {
      // unique bytes per case: identical content already processed would be a duplicate, not a failure
      const original = await fixture(file);
      const bytes = original.length && !file.endsWith('.pdf') && !file.endsWith('.xml') ? Buffer.concat([original, Buffer.from(`\n${name}\n`)]) : original;
      const r = await upload(bytes, type, query);
      expect(r.status, JSON.stringify(r.body)).toBe(status);
      const result = r.body.results[0];
      expect(`${result.error.location}: ${result.error.message}`).toMatch(reason);
      const raw = await authFetch(`${server.url}/ingest/messages/${result.inboxId}/raw`);
      expect(Buffer.from(await raw.arrayBuffer()).equals(bytes)).toBe(true);
      expect((await fhirFetch(`${server.url}/ingest/messages/${result.inboxId}`)).body.status).toBe('failed');
    });
  }

  it('a letter for a patient IDR does not know waits for that patient (202), raw kept', async () => {
    const bytes = Buffer.concat([await fixture('mdt-letter.txt'), Buffer.from('\nunknown patient\n')]);
    const r = await upload(bytes, 'text/plain', { patient: `${BSN}|000000000` });
    expect(r.status, JSON.stringify(r.body)).toBe(202);
    const result = r.body.results[0];
    expect(result.status).toBe('waiting');
    expect(result.waitingFor).toEqual([`${BSN}|000000000`]);
    expect(result.error.message).toMatch(/no known patient/);
    const raw = await authFetch(`${server.url}/ingest/messages/${result.inboxId}/raw`);
    expect(Buffer.from(await raw.arrayBuffer()).equals(bytes)).toBe(true);
    expect((await fhirFetch(`${server.url}/ingest/messages/${result.inboxId}`)).body.status).toBe('waiting');
  });

  it('an image-only PDF is kept with a warning (no text to search)', async () => {
    const r = await upload(await fixture('image-only.pdf'), 'application/pdf', { patient: PATIENT, type: 'discharge' });
    expect(r.status).toBe(201);
    expect(r.body.results[0].warnings.join(' ')).toMatch(/no extractable text/);
  });

  it('a 100 MB file is streamed into the inbox with bounded memory, kept, and not read', async () => {
    const MB = 1024 * 1024;
    const chunk = Buffer.alloc(MB, 0x41);
    chunk.write('%PDF-1.4\n');
    // The client sends one filler buffer again and again: what the sampler sees is the server's memory, not the client's garbage.
    const filler = Buffer.alloc(MB, 0x41);
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent === 100) return controller.close();
        controller.enqueue(sent === 0 ? chunk : filler);
        sent++;
      },
    });
    // The audit chainer works on its own schedule in this same process: paused while measuring.
    await server.services.audit.stop();
    const before = process.memoryUsage();
    let peak = 0;
    const sampler = setInterval(() => {
      const m = process.memoryUsage();
      peak = Math.max(peak, m.heapUsed + m.arrayBuffers - before.heapUsed - before.arrayBuffers);
    }, 20);
    const r = await fhirFetch(`${server.url}/ingest/documents?patient=${encodeURIComponent(PATIENT)}`, { method: 'POST', headers: { 'content-type': 'application/pdf' }, body, duplex: 'half' } as RequestInit);
    clearInterval(sampler);
    server.services.audit.start();
    expect(r.status, JSON.stringify(r.body)).toBe(422);
    expect(r.body.results[0].error.message).toMatch(/100\.0 MB; text extraction is limited to 32\.0 MB/);
    const entry = (await fhirFetch(`${server.url}/ingest/messages/${r.body.results[0].inboxId}`)).body;
    expect(entry.size).toBe(100 * MB);
    expect(entry.gridfsId).toBe(entry._id);
    // client and server share this process: both sides' buffers count; 100 MB held anywhere would exceed it
    expect(peak).toBeLessThan(80 * MB);
    expect((await fhirFetch(`${server.url}/healthz`)).status).toBe(200);
  }, 120_000);
});
