/* eslint-disable @typescript-eslint/no-explicit-any -- assertions read FHIR JSON bodies */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fhirFetch, startTestServer, type TestServer } from './support/server.ts';
import { startOrthanc, uploadVariant, type OrthancInstance } from './support/orthanc.ts';

/**
 * The images of a case shared outside the hospital, with a real PACS (Orthanc): the recipient's
 * page shows the pack's studies as images under remapped UIDs, fetched through IDR (rendered JPEG,
 * no DICOM header); neither the PACS's address nor a real UID reaches the recipient; an image whose
 * pixels may identify the patient (Burned In Annotation YES) is not shown; every image viewed is
 * an access record naming the recipient, the patient and the study.
 */

const MRN = 'urn:idr:assigning-authority:UMCS';
let server: TestServer;
let orthanc: OrthancInstance;
let dir: string;
let patientId = '';
const uids: Record<string, string> = {};
let link = '';
let shareId = '';

async function upload(name: string, src: string, tags: Record<string, string>): Promise<void> {
  uids[name] = await uploadVariant(orthanc, dir, name, src, tags);
}

beforeAll(async () => {
  [orthanc, dir] = await Promise.all([startOrthanc(), mkdtemp(join(tmpdir(), 'idr-share-images-'))]);
  server = await startTestServer({ IDR_DICOMWEB_SOURCES: JSON.stringify({ orthanc: orthanc.dicomWebUrl }) });
  const p = await fhirFetch(`${server.fhir}/Patient`, { method: 'POST', json: { resourceType: 'Patient', identifier: [{ system: MRN, value: 'SHR1' }], name: [{ family: 'Kuipers', given: ['Anouk'] }], birthDate: '1961-04-02' } });
  patientId = p.body.id;
  await upload('ct', 'CT_small.dcm', { PatientID: 'SHR1', IssuerOfPatientID: 'UMCS', PatientName: 'Kuipers^Anouk', StudyDate: '20261010', StudyDescription: 'CT thorax' });
  await upload('mr', 'MR_small.dcm', { PatientID: 'SHR1', IssuerOfPatientID: 'UMCS', PatientName: 'Kuipers^Anouk', StudyDate: '20261012', StudyDescription: 'MRI breast', BurnedInAnnotation: 'YES' });
  const imported = await fhirFetch(`${server.url}/ingest/dicomweb`, { method: 'POST', json: { source: 'orthanc', patientId: 'SHR1' } });
  expect(imported.status, JSON.stringify(imported.body)).toBe(201);
  const meeting = await fhirFetch(`${server.fhir}/Appointment`, { method: 'POST', json: { resourceType: 'Appointment', status: 'booked', description: 'Thorax tumour board', start: '2026-11-30T16:00:00Z', end: '2026-11-30T17:00:00Z', participant: [{ type: [{ text: 'Tumour board' }], status: 'accepted' }] } });
  const task = await fhirFetch(`${server.fhir}/Task`, { method: 'POST', json: { resourceType: 'Task', status: 'requested', intent: 'order', code: { text: 'Tumour board review' }, for: { reference: `Patient/${patientId}` }, basedOn: [{ reference: `Appointment/${meeting.body.id}` }], input: [{ type: { text: 'Question for the board' }, valueString: 'Second opinion on the CT' }] } });
  const prepared = await fhirFetch(`${server.fhir}/Task/${task.body.id}/$prepare`, { method: 'POST', json: { resourceType: 'Parameters' } });
  expect(prepared.status, JSON.stringify(prepared.body)).toBe(200);
  const shared = await fhirFetch(`${server.fhir}/Task/${task.body.id}/$share`, { method: 'POST', json: { resourceType: 'Parameters', parameter: [{ name: 'recipient', valueString: 'Dr. R. Adioloog <r.adioloog@umc.example>' }, { name: 'purpose', valueCode: 'second-opinion' }] } });
  expect(shared.status, JSON.stringify(shared.body)).toBe(200);
  link = shared.body.parameter.find((x: any) => x.name === 'link').valueUrl;
  shareId = shared.body.parameter.find((x: any) => x.name === 'share').valueString;
}, 120_000);
afterAll(async () => {
  await Promise.all([server?.close(), orthanc?.stop()]);
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('images of a shared case', () => {
  let images: any[] = [];

  it('lists the images of the pack under remapped UIDs, and says plainly which cannot be shown', async () => {
    const res = await fetch(`${link}/images`);
    expect(res.status).toBe(200);
    const text = await res.text();
    const body = JSON.parse(text);
    images = body.images;
    expect(images.map((i: any) => i.modality).sort()).toEqual(['CT', 'MR']);
    for (const i of images) {
      for (const uid of [i.study, i.series, i.instance]) expect(uid).toMatch(/^2\.25\.\d+$/);
      expect(i.url).toBe(`${link.slice(link.lastIndexOf('/') + 1)}/images/${i.study}/${i.series}/${i.instance}`);
    }
    expect(text).not.toContain(uids.ct);
    expect(text).not.toContain(uids.mr);
    expect(text).not.toContain(orthanc.dicomWebUrl);
    expect(text).not.toMatch(/Kuipers|SHR1/);
  });

  it('the page shows the images through IDR; an image is a JPEG without a DICOM header', async () => {
    const html = await (await fetch(link, { headers: { accept: 'text/html' } })).text();
    const srcs = [...html.matchAll(/<img src="([^"]+)"/g)].map((m) => m[1] as string);
    expect(srcs.length).toBe(2);
    expect(html).not.toContain(orthanc.dicomWebUrl);
    expect(html).not.toContain(uids.ct);
    const ct = images.find((i: any) => i.modality === 'CT');
    expect(srcs).toContain(ct.url);
    const res = await fetch(new URL(ct.url, link));
    expect(res.status, res.status === 200 ? '' : await res.clone().text()).toBe(200);
    expect(res.headers.get('content-type')).toBe('image/jpeg');
    expect(res.headers.get('cache-control')).toBe('no-store');
    const bytes = Buffer.from(await res.arrayBuffer());
    expect(bytes.subarray(0, 3)).toEqual(Buffer.from([0xff, 0xd8, 0xff]));
    expect(bytes.includes(Buffer.from('DICM'))).toBe(false);
    expect(bytes.includes(Buffer.from('Kuipers'))).toBe(false);
  });

  it('an image whose pixels may identify the patient is not shown (403, naming why)', async () => {
    const mr = images.find((i: any) => i.modality === 'MR');
    const res = await fetch(new URL(mr.url, link));
    expect(res.status).toBe(403);
    expect((await res.json()).issue[0].details.text).toMatch(/burned-in annotation \(0028,0301\)/);
  });

  it('an image the pack does not hold is 404; a real UID is not accepted in place of a remapped one', async () => {
    const ct = images.find((i: any) => i.modality === 'CT');
    const secret = link.slice(link.lastIndexOf('/') + 1);
    expect((await fetch(`${server.url}/shared/${secret}/images/${uids.ct}/${ct.series}/${ct.instance}`)).status).toBe(404);
    expect((await fetch(`${server.url}/shared/${secret}/images/2.25.1/2.25.2/2.25.3`)).status).toBe(404);
  });

  it('every image viewed is in the access audit: the recipient, the patient, the study and the instance', async () => {
    await server.services.audit.flush();
    const r = await fhirFetch(`${server.fhir}/AuditEvent?_count=1000`);
    const views = (r.body.entry ?? []).map((e: any) => e.resource).filter((a: any) => a.agent?.some((g: any) => g.altId === `share:${shareId}`));
    // The request is the Query entity (base64, as BALP has it).
    const query = (v: any): string => v.entity.filter((e: any) => e.query).map((e: any) => Buffer.from(e.query, 'base64').toString('utf8')).join('\n');
    const imageViews = views.filter((v: any) => query(v).includes(`image ${uids.ct}`));
    expect(imageViews.length).toBe(1);
    const [view] = imageViews;
    expect(view.outcome).toBe('0');
    expect(view.agent[0].name).toBe('Dr. R. Adioloog <r.adioloog@umc.example>');
    const what = view.entity.map((e: any) => e.what?.reference);
    expect(what).toContain(`Patient/${patientId}`);
    expect(what.some((w: string) => /^ImagingStudy\//.test(w))).toBe(true);
    // The refused one is recorded too, as a failure with its reason.
    const refused = views.filter((v: any) => query(v).includes(`image ${uids.mr}`));
    expect(refused.length).toBe(1);
    expect(refused[0].outcome).not.toBe('0');
    // Nothing of the link's secret is in any record.
    expect(JSON.stringify(views)).not.toContain(link.slice(link.lastIndexOf('/') + 1));
    expect(views.map(query).join('\n')).not.toContain(link.slice(link.lastIndexOf('/') + 1));
  });
});
