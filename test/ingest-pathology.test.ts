import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fhirFetch, startTestServer, type TestServer } from './support/server.ts';
import { ingestOk, type Json, patientIdByBsn, searchOf } from './fixtures/ingest/clients.ts';

/** An anatomic pathology report (ORU^R01, OBR-24 SP) through the running service. */

const FIXTURE = path.resolve(import.meta.dirname, 'fixtures', 'hl7v2', 'pathology-breast-biopsy.hl7');
const LOINC = 'http://loinc.org';
let server: TestServer;
let report: Json;
let results: Json[];
let pid: string;

beforeAll(async () => {
  server = await startTestServer();
  const res = await ingestOk(server.url, await readFile(FIXTURE, 'utf8'));
  expect(res.label).toBe('ORU^R01 pathology');
  pid = await patientIdByBsn(server.fhir, '123456782');
  const reports = await searchOf(server.fhir, `DiagnosticReport?subject=Patient/${pid}`);
  expect(reports).toHaveLength(1);
  report = reports[0];
  results = await Promise.all(report.result.map(async (r: Json) => (await fhirFetch(`${server.fhir}/${r.reference}`)).body));
});
afterAll(async () => {
  await server?.close();
});

const byCode = (code: string): Json => {
  const found = results.find((o) => o.code.coding.some((c: Json) => c.code === code));
  if (!found) throw new Error(`no result Observation with code ${code}`);
  return found;
};

describe('pathology report', () => {
  it('is a DiagnosticReport with category pathology, found by category search', async () => {
    expect(report.category.flatMap((c: Json) => c.coding.map((x: Json) => `${x.system}|${x.code}`))).toEqual(
      expect.arrayContaining(['http://terminology.hl7.org/CodeSystem/v2-0074|PAT', `${LOINC}|11526-1`]),
    );
    expect(report.status).toBe('final');
    expect(report.identifier).toContainEqual({ system: 'urn:idr:hl7v2:filler-order', value: 'PATHLIS/T24-01234' });
    const found = await searchOf(server.fhir, `DiagnosticReport?subject=Patient/${pid}&category=http://terminology.hl7.org/CodeSystem/v2-0074|PAT`);
    expect(found.map((r) => r.id)).toEqual([report.id]);
  });

  it('carries the narrative as one text/plain presentedForm with its sections, and the conclusion', () => {
    expect(report.presentedForm).toHaveLength(1);
    const [form] = report.presentedForm;
    expect(form.contentType).toMatch(/^text\/plain/);
    const text = Buffer.from(form.data, 'base64').toString('utf8');
    for (const heading of ['CLINICAL INFORMATION', 'MACROSCOPY', 'MICROSCOPY', 'CONCLUSION']) expect(text).toContain(heading);
    expect(text).toContain('Entirely embedded in cassette A1.');
    expect(text).toContain('Nottingham grade 2 (tubules 3, nuclei 2, mitoses 1).\nNo lymphovascular invasion seen.');
    expect(text.indexOf('MACROSCOPY')).toBeLessThan(text.indexOf('MICROSCOPY'));
    expect(report.conclusion).toBe('Left breast, core biopsy: invasive carcinoma NST, grade 2, ER positive, PR positive, HER2 negative (score 1+).');
  });

  it('codes the diagnosis in conclusionCode with ICD-O-3 morphology and topography', () => {
    const codings = report.conclusionCode.flatMap((c: Json) => c.coding.map((x: Json) => `${x.system}|${x.code}`));
    expect(codings).toEqual(
      expect.arrayContaining(['http://terminology.hl7.org/CodeSystem/icd-o-3|8500/3', 'http://terminology.hl7.org/CodeSystem/icd-o-3|C50.4', 'http://snomed.info/sct|408643008']),
    );
  });

  it('links the synoptic items ER, PR, HER2, Ki-67, pT and pN as result Observations', async () => {
    expect(byCode('16112-5').valueCodeableConcept.coding[0]).toMatchObject({ system: 'http://snomed.info/sct', code: '10828004' });
    expect(byCode('16113-3').valueCodeableConcept.coding[0].code).toBe('10828004');
    expect(byCode('48676-1').valueCodeableConcept.coding[0].code).toBe('260385009');
    expect(byCode('KI67').valueQuantity).toMatchObject({ value: 20, unit: '%' });
    expect(byCode('21899-0').valueCodeableConcept.coding[0].code).toBe('pT1c');
    expect(byCode('21900-6').valueCodeableConcept.coding[0].code).toBe('pNX');
    for (const o of results) expect(o.subject.reference).toBe(`Patient/${pid}`);
    const er = await searchOf(server.fhir, `Observation?subject=Patient/${pid}&code=${LOINC}|16112-5`);
    expect(er.map((o) => o.id)).toEqual([byCode('16112-5').id]);
  });

  it('has a Specimen that the report and its results reference', async () => {
    expect(report.specimen).toHaveLength(1);
    const specimen = (await fhirFetch(`${server.fhir}/${report.specimen[0].reference}`)).body;
    expect(specimen.resourceType).toBe('Specimen');
    expect(specimen.type.coding[0]).toMatchObject({ system: 'http://snomed.info/sct', code: '122737002' });
    expect(specimen.subject.reference).toBe(`Patient/${pid}`);
    expect(byCode('16112-5').specimen.reference).toBe(report.specimen[0].reference);
  });
});
