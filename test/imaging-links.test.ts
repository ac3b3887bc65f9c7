import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DiagnosticReport, ImagingStudy } from '@medplum/fhirtypes';
import { fhirFetch, startTestServer, type TestServer } from './support/server.ts';
import { writeDicomPart10 } from '../ingestion/adapters/dicom/testing/write-dicom.ts';
import { sampleInstance } from '../ingestion/adapters/dicom/testing/sample-instances.ts';

const BSN = 'http://fhir.nl/fhir/NamingSystem/bsn';
const BSN_OID = '2.16.840.1.113883.2.4.6.3';
const fixture = (path: string): Promise<Buffer> => readFile(new URL(`./fixtures/${path}`, import.meta.url));

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server?.close();
});

async function post(path: string, type: string, body: Uint8Array): Promise<Awaited<ReturnType<typeof fhirFetch>>['body']> {
  const r = await fhirFetch(`${server.url}${path}`, { method: 'POST', headers: { 'content-type': type }, body: new Uint8Array(body) });
  expect(r.status, JSON.stringify(r.body)).toBeLessThan(300);
  return r.body;
}

async function studyId(uid: string): Promise<string> {
  const r = await fhirFetch(`${server.fhir}/ImagingStudy?identifier=urn:dicom:uid|urn:oid:${uid}`);
  const s = r.body.entry?.[0]?.resource as ImagingStudy | undefined;
  if (!s?.id) throw new Error(`no ImagingStudy ${uid}`);
  return s.id;
}

async function report(query: string): Promise<DiagnosticReport> {
  const r = await fhirFetch(`${server.fhir}/DiagnosticReport?${query}`);
  expect(r.body.entry).toHaveLength(1);
  return r.body.entry[0].resource;
}

describe('reports linked to their imaging, whichever arrives first', () => {
  it('links a radiology report (MDM^T02 via /ingest/hl7v2) to its studies by accession number and by study UID', async () => {
    await fhirFetch(`${server.fhir}/Patient`, { method: 'POST', json: { resourceType: 'Patient', identifier: [{ system: BSN, value: '999911120' }] } });
    // 1. the CT arrives first (accession RAD24-000123), then the report that names that accession
    for (const f of ['ct-thorax-1.dcm', 'ct-thorax-2.dcm']) await post('/ingest/dicom', 'application/dicom', await fixture(`dicom/${f}`));
    const mdm = await post('/ingest/hl7v2', 'x-application/hl7-v2+er7', await fixture('documents/radiology-report-mdm.hl7'));
    expect(mdm.results[0].label).toMatch(/MDM/);
    const ct = await studyId('1.2.826.0.1.3680043.10.1234.100');
    let dr = await report('identifier=urn:idr:accession|RAD24-000123');
    expect(dr.category?.[0]?.coding?.[0]?.code).toBe('RAD');
    // the MG the report names by UID is not there yet: its logical reference stays beside the link
    expect(dr.imagingStudy?.map((r) => r.reference ?? r.identifier?.value)).toEqual(['urn:oid:1.2.826.0.1.3680043.10.1234.200', `ImagingStudy/${ct}`]);
    // 2. the mammography the report names by StudyInstanceUID arrives after the report
    await post('/ingest/dicom', 'application/dicom', await fixture('dicom/mg-left-cc.dcm'));
    const mg = await studyId('1.2.826.0.1.3680043.10.1234.200');
    dr = await report('identifier=urn:idr:accession|RAD24-000123');
    expect(dr.imagingStudy?.map((r) => r.reference).sort()).toEqual([`ImagingStudy/${ct}`, `ImagingStudy/${mg}`].sort());
    expect(dr.imagingStudy?.some((r) => !r.reference)).toBe(false);
  });

  it('links a whole-slide image to the pathology report of the same specimen', async () => {
    await post('/ingest/hl7v2', 'x-application/hl7-v2+er7', await fixture('hl7v2/pathology-breast-biopsy.hl7'));
    const uid = '1.2.826.0.1.3680043.10.1234.700';
    // accession deliberately unrelated: the link must come from the specimen identifier
    const slide = writeDicomPart10(sampleInstance({ studyUid: uid, seriesUid: `${uid}.1`, sopUid: `${uid}.1.1`, modality: 'SM', patientId: '123456782', issuer: BSN_OID, accession: 'SLIDE-0001', bodyPart: 'BREAST', studyDescription: 'WSI H&E', specimenId: 'T24-01234-A', specimenIssuer: 'PATHLIS', containerId: 'T24-01234-A-1' }));
    const out = await post('/ingest/dicom', 'application/dicom', slide);
    expect(out.results[0].label).toBe('DICOM Part 10 whole-slide');
    const wsi = await studyId(uid);
    const dr = await report('identifier=urn:idr:hl7v2:filler-order|PATHLIS/T24-01234');
    expect(dr.imagingStudy?.map((r) => r.reference)).toEqual([`ImagingStudy/${wsi}`]);
    const spec = await fhirFetch(`${server.fhir}/${dr.specimen?.[0]?.reference}`);
    const study = (await fhirFetch(`${server.fhir}/ImagingStudy/${wsi}`)).body as ImagingStudy;
    const ext = study.series?.[0]?.extension?.find((e) => e.url.endsWith('ImagingStudy.series.specimen'));
    expect(spec.body.identifier.map((i: { value: string }) => i.value)).toContain(ext?.valueReference?.identifier?.value);
  });

  it('links a radiology ORU^R01 (OBR-24 RAD) by its filler order number = accession number', async () => {
    const oru = [
      'MSH|^~\\&|RIS|NWZ|IDR|IDR|20240305101500+0100||ORU^R01^ORU_R01|RIS-ORU-1|P|2.5.1',
      'PID|1||999911120^^^NLMINBIZA&2.16.840.1.113883.2.4.6.3&ISO^NNNLD||Jansen^Anna^Maria||19640523|F',
      'OBR|1|PL-7788|RAD24-000124^RIS|MAMMO^Mammografie^L|||20240304093015+0100|||||||||||||||20240305100000+0100||RAD|F',
      'OBX|1|TX|18748-4^Diagnostic imaging study^LN||Addendum: no change in BI-RADS category.||||||F',
    ].join('\r');
    const r = await post('/ingest/hl7v2', 'x-application/hl7-v2+er7', new TextEncoder().encode(oru));
    expect(r.results[0].status).toBe('processed');
    const dr = await report('identifier=urn:idr:hl7v2:filler-order|RIS/RAD24-000124');
    expect(dr.category?.some((c) => c.coding?.some((x) => x.code === 'RAD'))).toBe(true);
    const mg = await studyId('1.2.826.0.1.3680043.10.1234.200');
    expect(dr.imagingStudy?.map((x) => x.reference)).toEqual([`ImagingStudy/${mg}`]);
  });
});
