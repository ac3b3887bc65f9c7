import { randomInt } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fhirFetch, startTestServer, type TestServer } from './support/server.ts';
import { ingestOk, searchOf, type Json } from './fixtures/ingest/clients.ts';
import { BSN_OID, BSN_SYSTEM, HB, labMessage, newBsn, pid3, uid } from './fixtures/ingest/messages.ts';
import { ccdaXml, SHARED_IDS } from '../ingestion/adapters/documents/testing/ccda-fixture.ts';
import { writeDicomPart10 } from '../ingestion/adapters/dicom/testing/write-dicom.ts';
import { sampleInstance } from '../ingestion/adapters/dicom/testing/sample-instances.ts';

/**
 * Two patients whose inputs share every source id (order number, specimen id, C-CDA entry ids,
 * TXA-12, StudyInstanceUID), through the real pipeline: the second patient's input never
 * touches the first patient's resources.
 */

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ IDR_DICOM_HEADER_BYTES: String(64 * 1024) });
});
afterAll(async () => {
  await server?.close();
});

const MSH = (type: string, control: string): string => `MSH|^~\\&|LIS|LAB|IDR|HOSP|20240501101500+0200||${type}|${control}|P|2.5.1`;
const oru = (bsn: string, order: string, specimen: string, value: string): string => [
  MSH('ORU^R01^ORU_R01', uid()),
  `PID|1||${pid3(bsn)}||Jansen^Els||19800101|F`,
  `OBR|1|PL-${order}^EPIC|${order}^LIS|2951-2^Sodium^LN|||20240501080000+0200||||||||||||||||CH|F`,
  `OBX|1|NM|2951-2^Sodium^LN||${value}|mmol/L|||||F`,
  `SPM|1|${specimen}&LIS||SER^Serum^HL70487`,
].join('\r');
const mdm = (bsn: string, docNumber: string, text: string): string => [
  MSH('MDM^T02^MDM_T02', uid()),
  'EVN|T02|20240501101500+0200',
  `PID|1||${pid3(bsn)}||Jansen^Els||19800101|F`,
  'PV1|1|O',
  `TXA|1|CN|TX|20240501100000+0200|^Dam^Eva||||||||${docNumber}^HIS||||||AU`,
  `OBX|1|TX|11488-4^Consult note^LN||${text}||||||F`,
].join('\r');
const read = async (ref: string): Promise<Json> => (await fhirFetch(`${server.fhir}/${ref.split('/_history/')[0]}`)).body;
const outputsOf = (result: { outputs: string[] }, type: string): string[] => result.outputs.filter((o) => o.startsWith(`${type}/`));
const newPatient = async (bsn: string): Promise<string> => {
  const r = await fhirFetch(`${server.fhir}/Patient`, { method: 'POST', json: { resourceType: 'Patient', identifier: [{ system: BSN_SYSTEM, value: bsn }] } });
  expect(r.status).toBe(201);
  return r.body.id as string;
};

describe('derived identifiers never cross patients (real pipeline)', () => {
  it('HL7 v2 ORU: the same order number and specimen id for another patient creates that patient\'s own report, observation and specimen', async () => {
    const [a, b, order, specimen] = [newBsn(), newBsn(), `ORD-${uid()}`, `SP-${uid()}`];
    const first = await ingestOk(server.url, oru(a, order, specimen, '140'));
    const second = await ingestOk(server.url, oru(b, order, specimen, '150'));
    for (const type of ['DiagnosticReport', 'Observation', 'Specimen']) {
      const [one] = outputsOf(first, type);
      const [two] = outputsOf(second, type);
      expect(one?.split('/')[1], type).not.toBe(two?.split('/')[1]);
      const stored = await read(one as string);
      expect(stored.meta.versionId, `${type} of the first patient untouched`).toBe('1');
      expect(stored.subject.reference).toBe(outputsOf(first, 'Patient')[0]?.split('/_history/')[0]);
    }
    const reports = await searchOf(server.fhir, `DiagnosticReport?identifier=urn:idr:hl7v2:filler-order|LIS/${order}`);
    expect(reports).toHaveLength(2);
  });

  it('HL7 v2 ORU: a correction naming the patient by another identifier first (BSN added later) still versions the same report', async () => {
    const [bsn, mrn, filler] = [newBsn(), `MRN${uid()}`, `F-${uid()}`];
    const first = await ingestOk(server.url, labMessage({ controlId: uid(), mrn, filler, results: [HB] }));
    const correction = await ingestOk(server.url, labMessage({ controlId: uid(), bsn, mrn, filler, orderStatus: 'C', results: [{ ...HB, value: '7.4', status: 'C' }] }));
    expect(outputsOf(correction, 'Patient')[0]?.split('/')[1]).toBe(outputsOf(first, 'Patient')[0]?.split('/')[1]);
    for (const type of ['DiagnosticReport', 'Observation']) {
      const [before] = outputsOf(first, type);
      const [after] = outputsOf(correction, type);
      expect(after?.split('/')[1], type).toBe(before?.split('/')[1]);
      expect(after?.split('/')[3], type).toBe('2');
    }
    const patient = await read(outputsOf(first, 'Patient')[0] as string);
    expect(patient.identifier.map((i: Json) => i.value)).toEqual([mrn, bsn]);
  });

  it('HL7 v2 MDM: the same document number for another patient is another document', async () => {
    const [a, b, doc] = [newBsn(), newBsn(), `DOC-${uid()}`];
    const first = await ingestOk(server.url, mdm(a, doc, 'Letter about patient A.'));
    const second = await ingestOk(server.url, mdm(b, doc, 'Letter about patient B.'));
    const [one] = outputsOf(first, 'DocumentReference');
    const [two] = outputsOf(second, 'DocumentReference');
    expect(one?.split('/')[1]).not.toBe(two?.split('/')[1]);
    const stored = await read(one as string);
    expect(stored.meta.versionId).toBe('1');
    expect(stored.subject.reference).toBe(outputsOf(first, 'Patient')[0]?.split('/_history/')[0]);
  });

  it('the same letter (same bytes) for two patients is two letters, not a duplicate', async () => {
    const [a, b] = [newBsn(), newBsn()];
    const [pa, pb] = [await newPatient(a), await newPatient(b)];
    const letter = `Geachte collega, uitslag besproken ${uid()}.`;
    const upload = (bsn: string): Promise<{ status: number; body: Json }> =>
      fhirFetch(`${server.url}/ingest/documents?${new URLSearchParams({ patient: `${BSN_SYSTEM}|${bsn}`, type: 'consult' })}`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: letter });
    const first = await upload(a);
    const second = await upload(b);
    expect(first.body.results[0].status, JSON.stringify(first.body)).toBe('processed');
    expect(second.body.results[0].status, JSON.stringify(second.body)).toBe('processed');
    expect(await searchOf(server.fhir, `DocumentReference?subject=Patient/${pa}`)).toHaveLength(1);
    expect(await searchOf(server.fhir, `DocumentReference?subject=Patient/${pb}`)).toHaveLength(1);
    // …and the same letter for the same patient again is a duplicate.
    expect((await upload(a)).body.results[0].status).toBe('duplicate');
  });

  it('C-CDA: a second patient\'s document with the same entry ids leaves the first patient\'s allergy and observations alone', async () => {
    const [a, b] = [newBsn(), newBsn()];
    const [pa, pb] = [await newPatient(a), await newPatient(b)];
    const upload = (bsn: string, allergen: { code: string; name: string }, hemoglobin: string): Promise<{ status: number; body: Json }> =>
      fhirFetch(`${server.url}/ingest/documents`, {
        method: 'POST', headers: { 'content-type': 'application/xml' },
        body: ccdaXml({ patient: { root: BSN_OID, extension: bsn, family: 'Jansen', given: 'Els' }, documentId: 'DOC-1', ids: SHARED_IDS, allergen, hemoglobin }),
      });
    // no patient parameter: the C-CDA names its patient in recordTarget
    const first = await upload(a, { code: '70618', name: 'Penicillin' }, '13.2');
    expect(first.status, JSON.stringify(first.body)).toBe(201);
    const second = await upload(b, { code: '2670', name: 'Codeine' }, '9.1');
    expect(second.status, JSON.stringify(second.body)).toBe(201);

    const allergiesA = await searchOf(server.fhir, `AllergyIntolerance?patient=Patient/${pa}`);
    expect(allergiesA).toHaveLength(1);
    expect(allergiesA[0].meta.versionId).toBe('1');
    expect(JSON.stringify(allergiesA[0].code ?? allergiesA[0])).toContain('Penicillin');
    const allergiesB = await searchOf(server.fhir, `AllergyIntolerance?patient=Patient/${pb}`);
    expect(allergiesB).toHaveLength(1);
    expect(JSON.stringify(allergiesB[0].code ?? allergiesB[0])).toContain('Codeine');
    const obsA = await searchOf(server.fhir, `Observation?subject=Patient/${pa}`);
    expect(obsA.length).toBeGreaterThan(0);
    for (const o of obsA) expect(o.meta.versionId).toBe('1');
    expect(obsA.find((o: Json) => o.valueQuantity)?.valueQuantity.value).toBe(13.2);
    expect((await searchOf(server.fhir, `Observation?subject=Patient/${pb}`)).length).toBe(obsA.length);
  });

  it('DICOM: a StudyInstanceUID already filed under one patient is refused for another, naming the tag', async () => {
    const [a, b] = [newBsn(), newBsn()];
    await newPatient(a);
    await newPatient(b);
    const studyUid = `1.2.826.0.1.3680043.10.${randomInt(1e6)}.${randomInt(1e6)}`;
    const post = (bsn: string, n: number): Promise<{ status: number; body: Json }> => fhirFetch(`${server.url}/ingest/dicom`, {
      method: 'POST', headers: { 'content-type': 'application/dicom' },
      body: new Uint8Array(writeDicomPart10(sampleInstance({ patientId: bsn, issuer: BSN_OID, studyUid, seriesUid: `${studyUid}.1`, sopUid: `${studyUid}.1.${n}`, modality: 'CT', instanceNumber: n }))),
    });
    const first = await post(a, 1);
    expect(first.status, JSON.stringify(first.body)).toBe(201);
    const studyRef = (first.body.results[0].outputs as string[]).find((o) => o.startsWith('ImagingStudy/')) as string;
    const second = await post(b, 2);
    expect(second.status).toBe(422);
    expect(second.body.results[0].status).toBe('failed');
    expect(second.body.results[0].error.location).toBe('(0020,000D)');
    expect(second.body.results[0].error.message).toMatch(/already filed under Patient\/.*a study never moves between patients/);
    const study = await read(studyRef);
    expect(study.meta.versionId).toBe('1');
    expect(study.numberOfInstances).toBe(1);
    // the same patient's next instance of the study is merged as before
    const third = await post(a, 3);
    expect(third.status, JSON.stringify(third.body)).toBe(201);
    expect((await read(studyRef)).numberOfInstances).toBe(2);
  });
});
