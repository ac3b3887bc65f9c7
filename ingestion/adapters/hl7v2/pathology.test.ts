import type { DiagnosticReport, Observation, Specimen } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { hl7v2ToBundle } from './index.ts';
import { byCode, fixture, resolve, resources, testContext } from './testing.ts';

const out = hl7v2ToBundle(fixture('pathology-breast-biopsy.hl7'), testContext());
const report = resources<DiagnosticReport>(out.bundle, 'DiagnosticReport')[0] as DiagnosticReport;
const observations = resources<Observation>(out.bundle, 'Observation');
const text = Buffer.from(report.presentedForm?.[0]?.data ?? '', 'base64').toString('utf8');

describe('pathology report (OBR-24 SP)', () => {
  it('is recognised and categorised as pathology, keeping OBR-24 and both OBR-4 codings', () => {
    expect(out.kind).toBe('ORU^R01 pathology');
    expect(report.category?.[0]?.coding).toEqual([
      { system: 'http://terminology.hl7.org/CodeSystem/v2-0074', code: 'PAT', display: 'Pathology (gross & histopath, not surgical)' },
      { system: 'http://loinc.org', code: '11526-1', display: 'Pathology study' },
    ]);
    expect(report.category?.[1]?.coding?.[0]?.code).toBe('SP');
    expect(report.code.coding?.map((c) => `${c.system}|${c.code}`)).toEqual(['http://www.ama-assn.org/go/cpt|88305', 'urn:idr:hl7v2:code-system:L|HISTO']);
    expect(report.status).toBe('final');
    expect(report.resultsInterpreter).toEqual([{ identifier: { value: 'PA01' }, display: 'Dr. Joost Smit' }]);
  });

  it('turns the narrative OBX lines into one text/plain presentedForm with section headings in order', () => {
    const form = report.presentedForm?.[0];
    expect(form?.contentType).toBe('text/plain; charset=utf-8');
    expect(form?.title).toBe('Surgical pathology, breast core biopsy — PATHLIS/T24-01234');
    expect(form?.creation).toBe('2024-03-20T14:25:00+01:00');
    const headings = ['CLINICAL INFORMATION', 'MACROSCOPY', 'MICROSCOPY', 'CONCLUSION', 'CODED FINDINGS', 'COMMENTS'];
    const positions = headings.map((h) => text.indexOf(`\n${h}\n`));
    expect(positions.every((p) => p > 0)).toBe(true);
    expect([...positions].sort((a, b) => a - b)).toEqual(positions);
    expect(text).toContain('MACROSCOPY\nThree core biopsies, 12, 14 and 15 mm long, white-grey.\nEntirely embedded in cassette A1.\n');
    expect(text).toContain('Invasive carcinoma of no special type.\nNottingham grade 2 (tubules 3, nuclei 2, mitoses 1).\n');
    expect(text).toContain('- Ki-67 proliferation index: 20 %');
    expect(text).toContain('COMMENTS\nCase discussed at the breast MDT on 2024-03-21.');
  });

  it('takes the final diagnosis section as conclusion', () => {
    expect(report.conclusion).toBe('Left breast, core biopsy: invasive carcinoma NST, grade 2, ER positive, PR positive, HER2 negative (score 1+).');
  });

  it('puts ICD-O-3 morphology (with its SNOMED CT coding) and topography in conclusionCode, not receptor results', () => {
    expect(report.conclusionCode).toEqual([
      {
        coding: [
          { system: 'http://terminology.hl7.org/CodeSystem/icd-o-3', code: '8500/3', display: 'Infiltrating duct carcinoma, NOS' },
          { system: 'http://snomed.info/sct', code: '408643008', display: 'Infiltrating duct carcinoma of breast' },
        ],
        text: 'Infiltrating duct carcinoma, NOS',
      },
      { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/icd-o-3', code: 'C50.4', display: 'Upper-outer quadrant of breast' }], text: 'Upper-outer quadrant of breast' },
    ]);
  });

  it('maps the synoptic items (ER, PR, HER2, Ki-67, size, grade, pT, pN, M, margin) to Observations linked as results', () => {
    const linked = (report.result ?? []).map((r) => resolve<Observation>(out.bundle, r.reference));
    expect(linked).toHaveLength(14);
    expect(observations).toHaveLength(14);
    expect(byCode(linked, '16112-5').valueCodeableConcept?.coding?.[0]).toEqual({ system: 'http://snomed.info/sct', code: '10828004', display: 'Positive' });
    expect(byCode(linked, '16113-3').valueCodeableConcept?.coding?.[0]?.code).toBe('10828004');
    expect(byCode(linked, '48676-1').valueCodeableConcept?.coding?.[0]?.display).toBe('Negative');
    expect(byCode(linked, 'HER2IHC').valueString).toBe('1+');
    expect(byCode(linked, 'KI67').valueQuantity).toEqual({ value: 20, unit: '%', system: 'http://unitsofmeasure.org', code: '%' });
    expect(byCode(linked, '21889-1').valueQuantity).toMatchObject({ value: 14, code: 'mm' });
    expect(byCode(linked, 'GRADE').valueCodeableConcept?.text).toBe('Grade 2');
    expect(byCode(linked, '21899-0').valueCodeableConcept?.coding?.[0]).toEqual({ system: 'urn:idr:hl7v2:code-system:AJCC8', code: 'pT1c', display: 'pT1c' });
    expect(byCode(linked, '21900-6').valueCodeableConcept?.coding?.[0]?.code).toBe('pNX');
    expect(byCode(linked, '21901-4').valueCodeableConcept?.coding?.[0]?.code).toBe('cM0');
    expect(byCode(linked, 'MARGIN').valueCodeableConcept?.coding?.[0]?.code).toBe('NA');
    for (const o of linked) expect(o.category?.[0]?.coding?.[0]?.code).toBe('laboratory');
  });

  it('does not turn narrative lines into Observations, yet loses none of their text', () => {
    expect(observations.some((o) => o.code.coding?.some((c) => ['22634-0', '22635-7', '22636-5'].includes(c.code ?? '')))).toBe(false);
    for (const line of ['Palpable mass left breast', 'BI-RADS 5', 'No lymphovascular invasion seen.', 'HER2 negative (score 1+)']) expect(text).toContain(line);
  });

  it('maps SPM to the Specimen with type, body site, method, collection time and description', () => {
    const specimen = resources<Specimen>(out.bundle, 'Specimen')[0] as Specimen;
    expect(report.specimen?.[0]?.reference).toBe(out.bundle.entry?.find((e) => e.resource === specimen)?.fullUrl);
    expect(specimen.identifier?.[0]?.system).toBe('urn:idr:hl7v2:specimen-key');
    expect(specimen.identifier?.[1]).toEqual({ system: 'urn:idr:hl7v2:specimen', value: 'PATHLIS/T24-01234-A' });
    expect(specimen.type?.coding?.[0]).toEqual({ system: 'http://snomed.info/sct', code: '122737002', display: 'Core needle biopsy specimen' });
    expect(specimen.collection?.bodySite?.coding?.[0]?.code).toBe('76365002');
    expect(specimen.collection?.method?.coding?.[0]?.code).toBe('129300006');
    expect(specimen.collection?.collectedDateTime).toBe('2024-03-18T10:00:00+01:00');
    expect(specimen.note).toEqual([{ text: 'Three cores, formalin fixed' }]);
  });

  it('recognises pathology by a configured OBR-4 service id, and puts an ED report into presentedForm', () => {
    const msg = fixture('lab-ed-rp.hl7');
    expect(hl7v2ToBundle(msg, testContext()).kind).toBe('ORU^R01 lab');
    const path = hl7v2ToBundle(msg, testContext(), { pathologyServiceIds: ['11502-2'] });
    expect(path.kind).toBe('ORU^R01 pathology');
    const dr = resources<DiagnosticReport>(path.bundle, 'DiagnosticReport')[0] as DiagnosticReport;
    expect(dr.presentedForm?.map((a) => a.contentType)).toEqual(['text/plain; charset=utf-8', 'application/pdf', 'text/plain']);
    expect(resources<Observation>(path.bundle, 'Observation').map((o) => o.code.coding?.[0]?.code)).toEqual(['SLIDE']);
  });
});
