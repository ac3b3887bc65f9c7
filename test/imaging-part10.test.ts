import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ImagingStudy } from '@medplum/fhirtypes';
import { authFetch, fhirFetch, startTestServer, type TestServer } from './support/server.ts';
import { writeDicomPart10, type DicomElement } from '../ingestion/adapters/dicom/testing/write-dicom.ts';
import { sampleInstance } from '../ingestion/adapters/dicom/testing/sample-instances.ts';

const BSN = 'http://fhir.nl/fhir/NamingSystem/bsn';
const BSN_OID = '2.16.840.1.113883.2.4.6.3';
const fixture = (name: string): Promise<Buffer> => readFile(new URL(`./fixtures/dicom/${name}`, import.meta.url));

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ IDR_DICOM_HEADER_BYTES: String(64 * 1024) });
  const created = await fhirFetch(`${server.fhir}/Patient`, { method: 'POST', json: { resourceType: 'Patient', identifier: [{ system: BSN, value: '999911120' }], name: [{ family: 'Jansen', given: ['Anna'] }] } });
  expect(created.status).toBe(201);
});
afterAll(async () => {
  await server?.close();
});

async function postDicom(bytes: Uint8Array, query = ''): ReturnType<typeof fhirFetch> {
  return fhirFetch(`${server.url}/ingest/dicom${query}`, { method: 'POST', headers: { 'content-type': 'application/dicom' }, body: new Uint8Array(bytes) });
}

async function studyByUid(uid: string): Promise<ImagingStudy | undefined> {
  const r = await fhirFetch(`${server.fhir}/ImagingStudy?identifier=urn:dicom:uid|urn:oid:${uid}`);
  expect(r.body.total ?? r.body.entry?.length ?? 0).toBeLessThanOrEqual(1);
  return r.body.entry?.[0]?.resource;
}

describe('POST /ingest/dicom (Part 10, header only)', () => {
  it('groups instances sent one file at a time into one study with its series', async () => {
    for (const f of ['ct-thorax-1.dcm', 'ct-thorax-2.dcm', 'ct-abdomen-1.dcm']) {
      const r = await postDicom(await fixture(f));
      expect(r.status, JSON.stringify(r.body)).toBe(201);
    }
    const study = await studyByUid('1.2.826.0.1.3680043.10.1234.100');
    expect(study?.numberOfSeries).toBe(2);
    expect(study?.numberOfInstances).toBe(3);
    expect(study?.series?.map((s) => [s.uid, s.instance?.length, s.bodySite?.code])).toEqual([
      ['1.2.826.0.1.3680043.10.1234.100.1', 2, '43799004'],
      ['1.2.826.0.1.3680043.10.1234.100.2', 1, '818981001'],
    ]);
    expect(study?.subject?.reference).toMatch(/^Patient\//);
    // the same file again is a duplicate and changes nothing
    const again = await postDicom(await fixture('ct-thorax-2.dcm'));
    expect(again.status).toBe(200);
    expect(again.body.results[0].status).toBe('duplicate');
    const search = await fhirFetch(`${server.fhir}/ImagingStudy?patient=${study?.subject?.reference}&modality=CT`);
    expect(search.body.entry).toHaveLength(1);
  });

  it('keeps only the header of a large file and never stores the pixel data', async () => {
    const uid = '1.2.826.0.1.3680043.10.1234.500';
    const pixels = new Uint8Array(3 * 1024 * 1024).fill(7);
    const elements: DicomElement[] = sampleInstance({ studyUid: uid, seriesUid: `${uid}.1`, sopUid: `${uid}.1.1`, modality: 'MR', bodyPart: 'BREAST', issuer: BSN_OID, studyDescription: 'MRI mammae' })
      .map((e) => (e.tag === '7FE00010' ? { ...e, value: pixels } : e));
    const bytes = writeDicomPart10(elements);
    const r = await postDicom(bytes);
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    const entry = await fhirFetch(`${server.url}/ingest/messages/${r.body.results[0].inboxId}`);
    expect(entry.body.size).toBe(64 * 1024);
    expect(entry.body.metadata).toMatchObject({ size: bytes.length, truncated: true });
    const study = await studyByUid(uid);
    expect(study?.modality?.[0]?.code).toBe('MR');
    expect(study?.description).toBe('MRI mammae');
  });

  it('refuses a file without PatientID and a non-DICOM file, keeping both', async () => {
    const noId = await postDicom(await fixture('no-patient-id.dcm'));
    expect(noId.status).toBe(422);
    expect(noId.body.results[0].error.location).toContain('(0010,0020)');
    const raw = await authFetch(`${server.url}/ingest/messages/${noId.body.results[0].inboxId}/raw`);
    expect(Buffer.from(await raw.arrayBuffer()).equals(await fixture('no-patient-id.dcm'))).toBe(true);
    const notDicom = await postDicom(await fixture('not-dicom.dcm'));
    expect(notDicom.status).toBe(422);
    expect(notDicom.body.results[0].error.location).toBe('preamble');
    expect(await studyByUid('1.2.3')).toBeUndefined();
    const wrongType = await fhirFetch(`${server.url}/ingest/dicom`, { method: 'POST', headers: { 'content-type': 'image/png' }, body: new Uint8Array([1, 2, 3]) });
    expect(wrongType.status).toBe(415);
    expect((await fhirFetch(`${server.url}/healthz`)).status).toBe(200);
  });

  it('holds a study of an unknown patient as waiting for that patient, with the reason', async () => {
    const uid = '1.2.826.0.1.3680043.10.1234.600';
    const bytes = writeDicomPart10(sampleInstance({ studyUid: uid, seriesUid: `${uid}.1`, sopUid: `${uid}.1.1`, modality: 'CT', patientId: '000000000', issuer: BSN_OID }));
    const r = await postDicom(bytes);
    expect(r.status).toBe(202);
    expect(r.body.results[0].status).toBe('waiting');
    expect(r.body.results[0].error.message).toMatch(/no known patient has identifier http:\/\/fhir\.nl\/fhir\/NamingSystem\/bsn\|000000000/);
    expect(await studyByUid(uid)).toBeUndefined();
    const waiting = await fhirFetch(`${server.url}/ingest/messages?status=waiting&kind=dicom`);
    expect(waiting.body.entries.map((e: { _id: string }) => e._id)).toContain(r.body.results[0].inboxId);
  });

  it('the CLI sends a folder one file at a time and reports the failures', async () => {
    const cli = fileURLToPath(new URL('../ingestion/cli.ts', import.meta.url));
    const folder = fileURLToPath(new URL('./fixtures/dicom/', import.meta.url));
    const run = promisify(execFile)(process.execPath, [cli, 'dicom', folder, '--server', server.url], { env: { ...process.env, IDR_TOKEN: server.token } });
    const err = (await run.catch((e: unknown) => e)) as { code?: number; stdout?: string };
    expect(err.code).toBe(1);
    expect(err.stdout).toMatch(/total: 7 file\(s\): ok 2, duplicate 3, waiting for their patient 0, failed 2/);
    expect(err.stdout).toMatch(/FAILED .*no-patient-id\.dcm: \(0010,0020\)/);
  });
});
