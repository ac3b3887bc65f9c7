import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Endpoint, ImagingStudy } from '@medplum/fhirtypes';
import { authFetch, fhirFetch, startTestServer, type TestServer } from './support/server.ts';
import { startOrthanc, uploadVariant, type OrthancInstance } from './support/orthanc.ts';

const MRN = 'urn:idr:assigning-authority:UMCX';
let server: TestServer;
let orthanc: OrthancInstance;
let dir: string;
const uids: Record<string, string> = {};
let patientRef = '';

async function upload(name: string, src: string, tags: Record<string, string>): Promise<void> {
  uids[name] = await uploadVariant(orthanc, dir, name, src, tags);
}

async function importFrom(body: Record<string, unknown>): ReturnType<typeof fhirFetch> {
  return fhirFetch(`${server.url}/ingest/dicomweb`, { method: 'POST', json: { source: 'orthanc', ...body } });
}

async function total(query: string): Promise<number> {
  return (await fhirFetch(`${server.fhir}/ImagingStudy?${query}&_summary=count`)).body.total;
}

beforeAll(async () => {
  [orthanc, dir] = await Promise.all([startOrthanc(), mkdtemp(join(tmpdir(), 'idr-dicomweb-'))]);
  // The PACS IDR may import from are configured; a request only names one.
  server = await startTestServer({ IDR_DICOMWEB_SOURCES: JSON.stringify({ orthanc: orthanc.dicomWebUrl, elsewhere: 'http://127.0.0.1:9/dicom-web' }), IDR_VIEWER_URL_TEMPLATE: 'https://viewer.hospital.example/viewer?StudyInstanceUIDs={studyUid}' });
  for (const id of ['IMG1', 'IMG2']) {
    const p = await fhirFetch(`${server.fhir}/Patient`, { method: 'POST', json: { resourceType: 'Patient', identifier: [{ system: MRN, value: id }] } });
    if (id === 'IMG1') patientRef = `Patient/${p.body.id}`;
  }
  await upload('ct', 'CT_small.dcm', { PatientID: 'IMG1', IssuerOfPatientID: 'UMCX', StudyDate: '20240110', AccessionNumber: 'ACC-CT-1', StudyDescription: 'CT thorax' });
  await upload('mr', 'MR_small.dcm', { PatientID: 'IMG1', IssuerOfPatientID: 'UMCX', StudyDate: '20240320', AccessionNumber: 'ACC-MR-1', StudyDescription: 'MRI abdomen' });
  await upload('other', 'CT_small.dcm', { PatientID: 'IMG2', IssuerOfPatientID: 'UMCX', StudyDate: '20230505', AccessionNumber: 'ACC-CT-2' });
  await upload('stranger', 'CT_small.dcm', { PatientID: 'NOBODY', IssuerOfPatientID: 'UMCX', StudyDate: '20220101' });
});
afterAll(async () => {
  await Promise.all([server?.close(), orthanc?.stop()]);
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('POST /ingest/dicomweb against a real Orthanc', () => {
  it('imports the studies of one patient: searchable by patient, modality and date, with a working WADO-RS endpoint', async () => {
    const r = await importFrom({ patientId: 'IMG1' });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    expect(r.body.studies).toBe(2);
    expect(r.body.results.map((x: { status: string }) => x.status)).toEqual(['processed', 'processed']);
    expect(await total(`patient=${patientRef}`)).toBe(2);
    expect(await total(`patient=${patientRef}&modality=MR`)).toBe(1);
    expect(await total(`patient=${patientRef}&started=2024-01-10`)).toBe(1);
    expect(await total(`patient=${patientRef}&started=ge2024-03-01`)).toBe(1);
    const found = await fhirFetch(`${server.fhir}/ImagingStudy?identifier=urn:dicom:uid|urn:oid:${uids.mr}&_include=ImagingStudy:endpoint`);
    const study = found.body.entry.find((e: { resource: { resourceType: string } }) => e.resource.resourceType === 'ImagingStudy').resource as ImagingStudy;
    expect(study.description).toBe('MRI abdomen');
    expect(study.identifier?.find((i) => i.system === 'urn:idr:accession')?.value).toBe('ACC-MR-1');
    expect(study.series?.[0]?.modality.code).toBe('MR');
    expect(study.numberOfInstances).toBe(1);
    const endpoint = (await fhirFetch(`${server.fhir}/${study.endpoint?.[0]?.reference}`)).body as Endpoint;
    expect(endpoint.address).toBe(orthanc.dicomWebUrl);
    const wado = await authFetch(`${endpoint.address}/studies/${uids.mr}/metadata`, { headers: { accept: 'application/dicom+json' } });
    expect(wado.status).toBe(200);
    const meta = (await wado.json()) as Record<string, { Value?: unknown[] }>[];
    expect(meta[0]?.['0020000D']?.Value?.[0]).toBe(uids.mr);
  });

  it('GraphQL gives each study its viewer link (configured template) and a WADO-RS URL that answers', async () => {
    const pid = patientRef.split('/')[1];
    const res = await authFetch(`${server.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: `{ patient(id: "${pid}") { imagingStudies(modality: "MR") { studyInstanceUid viewerUrl wadoRsUrl } } }` }) });
    const body = (await res.json()) as { data: { patient: { imagingStudies: { studyInstanceUid: string; viewerUrl: string; wadoRsUrl: string }[] } } };
    const [mr] = body.data.patient.imagingStudies;
    expect(mr).toEqual({ studyInstanceUid: uids.mr, viewerUrl: `https://viewer.hospital.example/viewer?StudyInstanceUIDs=${uids.mr}`, wadoRsUrl: `${orthanc.dicomWebUrl}/studies/${uids.mr}` });
    const series = await fetch(`${mr?.wadoRsUrl}/series`, { headers: { accept: 'application/dicom+json' } });
    expect(series.status).toBe(200);
  });

  it('re-import updates, never duplicates', async () => {
    const r = await importFrom({ patientId: 'IMG1' });
    expect(r.status).toBe(200);
    expect(r.body.results.every((x: { status: string }) => x.status === 'duplicate')).toBe(true);
    expect(await total(`patient=${patientRef}`)).toBe(2);
    expect(await total(`identifier=urn:dicom:uid|urn:oid:${uids.ct}`)).toBe(1);
  });

  it('imports by date range and by study UID', async () => {
    const byDate = await importFrom({ studyDate: '20230101-20231231' });
    expect(byDate.body.studies).toBe(1);
    expect(byDate.body.results[0].status).toBe('processed');
    expect(await total(`identifier=urn:dicom:uid|urn:oid:${uids.other}`)).toBe(1);
    const byUid = await importFrom({ studyUid: uids.ct });
    expect(byUid.body.studies).toBe(1);
    expect(byUid.body.query.StudyInstanceUID).toBe(uids.ct);
  });

  it('holds a study of an unknown patient as waiting for that patient, with the reason', async () => {
    const r = await importFrom({ patientId: 'NOBODY' });
    expect(r.status).toBe(202);
    expect(r.body.results[0].status).toBe('waiting');
    expect(r.body.results[0].error.message).toMatch(/no known patient has identifier urn:idr:assigning-authority:UMCX\|NOBODY/);
    expect(await total(`identifier=urn:dicom:uid|urn:oid:${uids.stranger}`)).toBe(0);
  });

  it('re-syncs incrementally: only studies since the last import are queried', async () => {
    const today = new Date().toISOString().slice(0, 10).replace(/-/g, '');
    await upload('fresh', 'MR_small.dcm', { PatientID: 'IMG1', IssuerOfPatientID: 'UMCX', StudyDate: today, StudyDescription: 'MRI follow-up' });
    const r = await importFrom({ since: 'last' });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    expect(r.body.incremental).toBe(true);
    expect(r.body.query.StudyDate).toMatch(/^\d{8}-$/);
    expect(r.body.studies).toBe(1);
    expect(await total(`identifier=urn:dicom:uid|urn:oid:${uids.fresh}`)).toBe(1);
    expect(await total(`patient=${patientRef}`)).toBe(3);
  });

  it('refuses bad parameters before contacting the PACS', async () => {
    expect((await importFrom({ studyDate: '2024-01-01' })).status).toBe(400);
    expect((await importFrom({ studyDate: '20240101', since: '2024-01-01' })).status).toBe(400);
  });

  it('never fetches a URL the request names: only a configured source', async () => {
    const post = (url: string, json: unknown): ReturnType<typeof fhirFetch> => fhirFetch(`${url}/ingest/dicomweb`, { method: 'POST', json });
    const withUrl = await post(server.url, { url: orthanc.dicomWebUrl });
    expect(withUrl.status).toBe(400);
    expect(withUrl.body.issue[0].details.text).toMatch(/IDR_DICOMWEB_SOURCES/);
    expect((await post(server.url, { source: 'orthanc', url: orthanc.dicomWebUrl })).status).toBe(400);
    const unknown = await post(server.url, { source: 'nope' });
    expect(unknown.status).toBe(400);
    expect(unknown.body.issue[0].details.text).toMatch(/Unknown source "nope"; configured: orthanc, elsewhere/);
    // No "default" here: IDR_DICOMWEB_URL is not set.
    expect((await post(server.url, {})).body.issue[0].details.text).toMatch(/Unknown source "default"/);

    const bare = await startTestServer();
    try {
      const none = await post(bare.url, { patientId: 'IMG1' });
      expect(none.status).toBe(400);
      expect(none.body.issue[0].details.text).toMatch(/No PACS is configured: set IDR_DICOMWEB_SOURCES/);
      expect((await fhirFetch(`${bare.fhir}/ImagingStudy?_summary=count`)).body.total).toBe(0);
    } finally {
      await bare.close();
    }
  });
});
