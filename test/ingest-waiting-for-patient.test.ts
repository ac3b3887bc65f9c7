import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fhirFetch, startTestServer, type TestServer } from './support/server.ts';
import { entryOf, ingestOk, patientIdByBsn, type Json } from './fixtures/ingest/clients.ts';
import { BSN_OID, BSN_SYSTEM, labMessage, newBsn, uid } from './fixtures/ingest/messages.ts';
import { writeDicomPart10 } from '../ingestion/adapters/dicom/testing/write-dicom.ts';
import { sampleInstance } from '../ingestion/adapters/dicom/testing/sample-instances.ts';
import { systemContext } from '../store/request-context.ts';

/**
 * Inputs about a patient IDR does not know yet (a DICOM study, a letter) wait for that patient
 * instead of failing, and are filed by themselves once a Patient with a matching identifier is
 * written, by an HL7 v2 message or by a FHIR write.
 */

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ IDR_DICOM_HEADER_BYTES: String(64 * 1024) });
});
afterAll(async () => {
  await server?.close();
});

/** The BSN the C-CDA fixture names in recordTarget (this test file's server starts empty). */
const CCDA_BSN = '999911120';

let studySeq = 0;
function dicomFor(bsn: string): { bytes: Uint8Array; studyUid: string } {
  const studyUid = `1.2.826.0.1.3680043.10.7777.${Date.now() % 1_000_000}.${++studySeq}`;
  const bytes = writeDicomPart10(sampleInstance({ studyUid, seriesUid: `${studyUid}.1`, sopUid: `${studyUid}.1.1`, modality: 'CT', patientId: bsn, issuer: BSN_OID }));
  return { bytes, studyUid };
}

async function postDicom(bytes: Uint8Array): ReturnType<typeof fhirFetch> {
  return fhirFetch(`${server.url}/ingest/dicom`, { method: 'POST', headers: { 'content-type': 'application/dicom' }, body: new Uint8Array(bytes) });
}

async function studyByUid(studyUid: string): Promise<Json | undefined> {
  const r = await fhirFetch(`${server.fhir}/ImagingStudy?identifier=urn:dicom:uid|urn:oid:${studyUid}`);
  return r.body.entry?.[0]?.resource;
}

const firstMessage = (bsn: string): string => {
  const id = uid();
  return labMessage({ controlId: id, filler: `F-${id}`, bsn });
};

function expectWaiting(r: { status: number; body: Json }, bsn: string): string {
  expect(r.status, JSON.stringify(r.body)).toBe(202);
  const [res] = r.body.results;
  expect(res.status).toBe('waiting');
  expect(res.waitingFor).toContain(`${BSN_SYSTEM}|${bsn}`);
  expect(res.outcome.issue[0].details.text).toContain(`${BSN_SYSTEM}|${bsn}`);
  return res.inboxId as string;
}

/** Polls an inbox entry until it leaves "waiting" (a FHIR write files in the background), at most ~20 s. */
async function settled(inboxId: string): Promise<Json> {
  for (let i = 0; i < 100; i++) {
    const entry = await entryOf(server.url, inboxId);
    if (entry.status !== 'waiting') return entry;
    await new Promise((r) => setTimeout(r, 200));
  }
  return entryOf(server.url, inboxId);
}

describe('inputs waiting for their patient', () => {
  it('a DICOM study arriving before the patient\'s first HL7 message waits, and is filed under that patient when the message arrives', async () => {
    const bsn = newBsn();
    const { bytes, studyUid } = dicomFor(bsn);
    const inboxId = expectWaiting(await postDicom(bytes), bsn);
    expect(await studyByUid(studyUid)).toBeUndefined();
    const waiting = await fhirFetch(`${server.url}/ingest/messages?status=waiting&kind=dicom`);
    expect(waiting.status).toBe(200);
    expect(waiting.body.entries.map((e: Json) => e._id)).toContain(inboxId);
    const listed = waiting.body.entries.find((e: Json) => e._id === inboxId);
    expect(listed.waitingFor).toEqual([`${BSN_SYSTEM}|${bsn}`]);

    await ingestOk(server.url, firstMessage(bsn));
    const patientId = await patientIdByBsn(server.fhir, bsn);
    const entry = await entryOf(server.url, inboxId);
    expect(entry.status).toBe('processed');
    expect(entry.waitingFor).toBeUndefined();
    const study = await studyByUid(studyUid);
    expect(study?.subject?.reference).toBe(`Patient/${patientId}`);
    const stillWaiting = await fhirFetch(`${server.url}/ingest/messages?status=waiting&kind=dicom`);
    expect(stillWaiting.body.entries.map((e: Json) => e._id)).not.toContain(inboxId);
  });

  it('a C-CDA document arriving before its patient waits, and is filed under that patient when the HL7 message arrives', async () => {
    const ccda = await readFile(new URL('./fixtures/documents/consult-note-ccda.xml', import.meta.url));
    const r = await fhirFetch(`${server.url}/ingest/documents`, { method: 'POST', headers: { 'content-type': 'application/hl7-cda+xml' }, body: new Uint8Array(ccda) });
    const inboxId = expectWaiting(r, CCDA_BSN);
    expect((await fhirFetch(`${server.fhir}/DocumentReference?_content=linkermamma`)).body.entry ?? []).toHaveLength(0);

    await ingestOk(server.url, firstMessage(CCDA_BSN));
    const patientId = await patientIdByBsn(server.fhir, CCDA_BSN);
    const entry = await entryOf(server.url, inboxId);
    expect(entry.status).toBe('processed');
    const docs = await fhirFetch(`${server.fhir}/DocumentReference?patient=Patient/${patientId}&_content=linkermamma`);
    expect(docs.body.entry).toHaveLength(1);
  });

  it('a letter waits for its patient and is filed when the Patient is created over FHIR REST', async () => {
    const bsn = newBsn();
    const text = Buffer.from(`MDT verslag ${uid()}: bespreking van de patiënt, voorstel neoadjuvante chemotherapie.\n`, 'utf8');
    const r = await fhirFetch(`${server.url}/ingest/documents?${new URLSearchParams({ patient: `${BSN_SYSTEM}|${bsn}`, type: 'mdt', date: '2024-05-02' })}`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: new Uint8Array(text) });
    const inboxId = expectWaiting(r, bsn);
    const created = await fhirFetch(`${server.fhir}/Patient`, { method: 'POST', json: { resourceType: 'Patient', identifier: [{ system: BSN_SYSTEM, value: bsn }], name: [{ family: 'Mulder' }] } });
    expect(created.status).toBe(201);
    const entry = await settled(inboxId);
    expect(entry.status).toBe('processed');
    const docs = await fhirFetch(`${server.fhir}/DocumentReference?patient=Patient/${created.body.id}`);
    expect(docs.body.entry).toHaveLength(1);
  });

  it('an input waiting for another patient stays waiting', async () => {
    const waitedFor = newBsn();
    let other = newBsn();
    while (other === waitedFor) other = newBsn();
    const { bytes, studyUid } = dicomFor(waitedFor);
    const inboxId = expectWaiting(await postDicom(bytes), waitedFor);
    await ingestOk(server.url, firstMessage(other));
    const entry = await entryOf(server.url, inboxId);
    expect(entry.status).toBe('waiting');
    expect(entry.waitingFor).toEqual([`${BSN_SYSTEM}|${waitedFor}`]);
    expect(await studyByUid(studyUid)).toBeUndefined();
  });

  it('copies of one waiting input are filed once: the copy becomes a duplicate', async () => {
    const bsn = newBsn();
    const { bytes, studyUid } = dicomFor(bsn);
    const first = expectWaiting(await postDicom(bytes), bsn);
    const copy = expectWaiting(await postDicom(bytes), bsn);
    await ingestOk(server.url, firstMessage(bsn));
    const statuses = [(await entryOf(server.url, first)).status, (await entryOf(server.url, copy)).status];
    expect(statuses).toEqual(['processed', 'duplicate']);
    expect((await studyByUid(studyUid))?.numberOfInstances).toBe(1);
  });
});

describe('filing at start-up', () => {
  it('an input whose patient was written without filing it (a stop in between) is filed by the start-up pass', async () => {
    const bsn = newBsn();
    const { bytes, studyUid } = dicomFor(bsn);
    const inboxId = expectWaiting(await postDicom(bytes), bsn);
    // written as the pipeline writes, which files only after its own message: here nothing files it
    const { repo, pipeline } = server.services;
    const written = await repo.create(systemContext('ingestion'), { resourceType: 'Patient', identifier: [{ system: BSN_SYSTEM, value: bsn }], name: [{ family: 'Bos' }] });
    expect((await entryOf(server.url, inboxId)).status).toBe('waiting');
    expect(await pipeline.fileAllWaiting()).toBeGreaterThanOrEqual(1);
    expect((await entryOf(server.url, inboxId)).status).toBe('processed');
    expect((await studyByUid(studyUid))?.subject?.reference).toBe(`Patient/${written.resource.id}`);
  });
});

describe('report of patients sharing an identifier', () => {
  it('lists the live patients that share an identifier, written before the store refused them', async () => {
    const bsn = newBsn();
    const created = await fhirFetch(`${server.fhir}/Patient`, { method: 'POST', json: { resourceType: 'Patient', identifier: [{ system: BSN_SYSTEM, value: bsn }], name: [{ family: 'Dekker' }] } });
    expect(created.status).toBe(201);
    // Duplicates as an older IDR let them in: copies of the stored document under other ids, written with the driver.
    const resources = server.services.database.c.resources;
    const original = await resources.findOne({ _id: `Patient/${created.body.id}` });
    expect(original).not.toBeNull();
    for (const id of ['legacy-dup-1', 'legacy-dup-2']) {
      const json = JSON.stringify({ ...JSON.parse(original?.json ?? '{}'), id });
      await resources.insertOne({ ...(original as NonNullable<typeof original>), _id: `Patient/${id}`, id, json });
    }
    // a deleted duplicate is no duplicate
    const deleted = JSON.stringify({ ...JSON.parse(original?.json ?? '{}'), id: 'legacy-dup-3' });
    await resources.insertOne({ ...(original as NonNullable<typeof original>), _id: 'Patient/legacy-dup-3', id: 'legacy-dup-3', json: deleted, deleted: true });

    const r = await fhirFetch(`${server.url}/ingest/patients/_duplicates`);
    expect(r.status).toBe(200);
    const group = r.body.groups.find((g: Json) => g.system === BSN_SYSTEM && g.value === bsn);
    expect(group).toBeDefined();
    expect([...group.resources].sort()).toEqual([`Patient/${created.body.id}`, 'Patient/legacy-dup-1', 'Patient/legacy-dup-2'].sort());
    expect(r.body.total).toBe(r.body.groups.length);
    // identifiers only one patient has are not listed
    expect(r.body.groups.every((g: Json) => g.resources.length >= 2)).toBe(true);
  });
});
