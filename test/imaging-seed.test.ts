import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DiagnosticReport, ImagingStudy } from '@medplum/fhirtypes';
import { fhirFetch, startTestServer, type TestServer } from './support/server.ts';
import { loadDemoData } from '../seed/load-demo.ts';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server?.close();
});

describe('seed imaging and letters through the pipeline', () => {
  it('loads DICOM files and letters for the demo patients, links them, and a second load writes nothing', async () => {
    // one (breast cancer) patient: FerretDB makes every write a few ms, so the test stays small
    const first = await loadDemoData(server.services, { patients: 1 });
    expect(first.failures).toEqual([]);
    expect(first.dicomFiles).toBe(9);
    expect(first.letters).toBe(4);
    const patients = (await fhirFetch(`${server.fhir}/Patient`)).body.entry.map((e: { resource: { id: string } }) => e.resource.id);
    expect(patients).toHaveLength(1);
    const studies = (await fhirFetch(`${server.fhir}/ImagingStudy?_count=100`)).body.entry.map((e: { resource: ImagingStudy }) => e.resource) as ImagingStudy[];
    const modalities = new Set(studies.flatMap((s) => s.modality?.map((m) => m.code)));
    expect([...modalities].sort()).toEqual(['CT', 'MG', 'MR', 'SM']);
    // every pathology report (2 per patient) sees its whole-slide image
    const path = (await fhirFetch(`${server.fhir}/DiagnosticReport?category=http://terminology.hl7.org/CodeSystem/v2-0074|PAT&_count=50`)).body.entry.map((e: { resource: DiagnosticReport }) => e.resource) as DiagnosticReport[];
    expect(path).toHaveLength(2);
    const sm = new Set(studies.filter((s) => s.modality?.some((m) => m.code === 'SM')).map((s) => `ImagingStudy/${s.id}`));
    for (const r of path) expect(r.imagingStudy?.some((ref) => sm.has(ref.reference ?? ''))).toBe(true);
    const rad = (await fhirFetch(`${server.fhir}/DiagnosticReport?category=http://terminology.hl7.org/CodeSystem/v2-0074|RAD`)).body.entry;
    expect(rad).toHaveLength(1);
    for (const e of rad) expect(e.resource.imagingStudy.every((ref: { reference?: string }) => ref.reference?.startsWith('ImagingStudy/'))).toBe(true);
    const mdt = await fhirFetch(`${server.fhir}/DocumentReference?_content=behandelend%20oncoloog&_count=10`);
    expect(mdt.body.entry).toHaveLength(1);
    const second = await loadDemoData(server.services, { patients: 1 });
    expect(second.duplicate).toBe(second.messages);
  }, 400_000);
});
