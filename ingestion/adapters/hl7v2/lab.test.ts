import type { DiagnosticReport, Observation, Patient, Specimen } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { hl7v2ToBundle, HL7V2_ADAPTER_VERSION } from './index.ts';
import { patientScope } from './patient-scope.ts';
import { byCode, entryOf, fixture, resolve, resources, testContext } from './testing.ts';

const SCOPE = patientScope({ system: 'http://fhir.nl/fhir/NamingSystem/bsn', value: '123456782' });

const out = hl7v2ToBundle(fixture('lab-breast-fbc-tumour-markers.hl7'), testContext());
const { bundle } = out;
const observations = resources<Observation>(bundle, 'Observation');
const reports = resources<DiagnosticReport>(bundle, 'DiagnosticReport');

describe('lab ORU^R01: bundle contract', () => {
  it('is a transaction of conditional PUTs with urn:uuid fullUrls and no resource ids', () => {
    expect(bundle.resourceType).toBe('Bundle');
    expect(bundle.type).toBe('transaction');
    expect(bundle.timestamp).toBe('2024-06-01T12:00:00.000Z');
    expect(bundle.identifier).toEqual({ system: 'urn:idr:hl7v2:message-control-id', value: 'GLIMS/LAB-20240315-0001' });
    for (const e of bundle.entry ?? []) {
      expect(e.fullUrl).toMatch(/^urn:uuid:00000000-0000-4000-8000-\d{12}$/);
      expect(e.resource?.id).toBeUndefined();
      expect(e.request?.method).toBe('PUT');
      expect(e.request?.url).toMatch(new RegExp(`^${e.resource?.resourceType}\\?identifier=[^|]+\\|[^|,]+$`));
    }
    expect(out.kind).toBe('ORU^R01 lab');
    expect(HL7V2_ADAPTER_VERSION).toMatch(/^hl7v2-oru\/\d+\.\d+\.\d+$/);
  });

  it('has one Patient, three reports (one per OBR), eight observations and one specimen', () => {
    expect(resources(bundle, 'Patient')).toHaveLength(1);
    expect(reports).toHaveLength(3);
    expect(observations).toHaveLength(8);
    expect(resources(bundle, 'Specimen')).toHaveLength(1);
  });

  it('links every reference to an entry of the bundle', () => {
    const patientUrl = entryOf(bundle, resources<Patient>(bundle, 'Patient')[0] as Patient).fullUrl;
    for (const o of observations) expect(o.subject?.reference).toBe(patientUrl);
    for (const r of reports) {
      expect(r.subject?.reference).toBe(patientUrl);
      for (const ref of r.result ?? []) expect(resolve<Observation>(bundle, ref.reference).resourceType).toBe('Observation');
    }
    const fbc = byCode(reports, '58410-2');
    expect((fbc.result ?? []).map((ref) => resolve<Observation>(bundle, ref.reference).code.coding?.[0]?.code)).toEqual(['718-7', '6690-2', '777-3', '26499-4']);
  });

  it('is deterministic: the same message gives the same identities and URLs', () => {
    const again = hl7v2ToBundle(fixture('lab-breast-fbc-tumour-markers.hl7'), testContext()).bundle;
    expect(again).toEqual(bundle);
  });
});

describe('lab ORU^R01: Patient from PID', () => {
  const patient = resources<Patient>(bundle, 'Patient')[0] as Patient;
  it('keeps every PID-3 identifier with its system and type, and matches on the first', () => {
    expect(patient.identifier).toEqual([
      { system: 'http://fhir.nl/fhir/NamingSystem/bsn', value: '123456782', type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0203', code: 'NI', display: 'National unique individual identifier' }], text: 'NNNLD' } },
      { system: 'urn:idr:assigning-authority:AMC', value: 'MRN0042', type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0203', code: 'MR' }] } },
    ]);
    expect(entryOf(bundle, patient).request?.url).toBe('Patient?identifier=http://fhir.nl/fhir/NamingSystem/bsn|123456782');
  });
  it('maps names (all repetitions), birth date, gender, address and telecom', () => {
    expect(patient.name).toEqual([
      { use: 'official', family: 'de Vries', given: ['Anna', 'M'], prefix: ['Mw.'] },
      { use: 'maiden', family: 'Jansen', given: ['Anna'] },
    ]);
    expect(patient.birthDate).toBe('1968-04-12');
    expect(patient.gender).toBe('female');
    expect(patient.address).toEqual([{ line: ['Keizersgracht 12', '2e etage'], city: 'Amsterdam', postalCode: '1015 CX', country: 'NLD', use: 'home' }]);
    expect(patient.telecom).toEqual([
      { system: 'phone', value: '(20) 5551234', use: 'home' },
      { system: 'email', value: 'anna@example.nl', use: 'home' },
      { system: 'phone', value: '(20) 5559876', use: 'work' },
    ]);
  });
});

describe('lab ORU^R01: DiagnosticReport per OBR', () => {
  const fbc = byCode(reports, '58410-2');
  it('is identified by the patient, the filler order number and OBR-4, with both order numbers kept', () => {
    const key = `${SCOPE}/filler/GLIMS/FL-24-000123/58410-2`;
    expect(fbc.identifier).toEqual([
      { system: 'urn:idr:hl7v2:report', value: key },
      { system: 'urn:idr:hl7v2:filler-order', value: 'GLIMS/FL-24-000123' },
      { system: 'urn:idr:hl7v2:placer-order', value: 'EPIC/PL-1001' },
    ]);
    expect(entryOf(bundle, fbc).request?.url).toBe(`DiagnosticReport?identifier=urn:idr:hl7v2:report|${key}`);
  });
  it('has category LAB plus OBR-24, the LOINC and local codes, status, times and interpreter', () => {
    expect(fbc.category).toEqual([
      { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0074', code: 'LAB', display: 'Laboratory' }] },
      { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0074', code: 'HM' }] },
    ]);
    expect(fbc.code).toEqual({
      coding: [
        { system: 'http://loinc.org', code: '58410-2', display: 'CBC panel - Blood by Automated count' },
        { system: 'urn:idr:hl7v2:code-system:L', code: 'FBC', display: 'Full blood count' },
      ],
      text: 'CBC panel - Blood by Automated count',
    });
    expect(fbc.status).toBe('final');
    expect(fbc.effectiveDateTime).toBe('2024-03-15T08:30:00+01:00');
    expect(fbc.issued).toBe('2024-03-15T10:05:00+01:00');
    expect(fbc.resultsInterpreter).toEqual([{ display: 'Dr. Eva van Dam' }]);
    expect(fbc.specimen).toHaveLength(1);
  });
  it('keeps a local-only OBR-4 code under a system named for its coding system', () => {
    expect(byCode(reports, 'TM').code.coding).toEqual([{ system: 'urn:idr:hl7v2:code-system:L', code: 'TM', display: 'Tumour markers' }]);
  });
});

describe('lab ORU^R01: Observation per OBX', () => {
  const hb = byCode(observations, '718-7');
  it('is identified by its report / OBX-3 / OBX-4', () => {
    const key = `${SCOPE}/filler/GLIMS/FL-24-000123/58410-2/718-7/`;
    expect(hb.identifier).toEqual([{ system: 'urn:idr:hl7v2:observation', value: key }]);
    expect(entryOf(bundle, hb).request?.url).toBe(`Observation?identifier=urn:idr:hl7v2:observation|${key}`);
  });
  it('maps status, category, LOINC + local code, UCUM quantity, range, interpretation, effective, performer', () => {
    expect(hb.status).toBe('final');
    expect(hb.category).toEqual([{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'laboratory', display: 'Laboratory' }] }]);
    expect(hb.code.coding).toEqual([
      { system: 'http://loinc.org', code: '718-7', display: 'Hemoglobin [Mass/volume] in Blood' },
      { system: 'urn:idr:hl7v2:code-system:L', code: 'HB', display: 'Hemoglobine' },
    ]);
    expect(hb.valueQuantity).toEqual({ value: 7.1, unit: 'mmol/L', system: 'http://unitsofmeasure.org', code: 'mmol/L' });
    expect(hb.referenceRange).toEqual([{
      low: { value: 7.5, unit: 'mmol/L', system: 'http://unitsofmeasure.org', code: 'mmol/L' },
      high: { value: 10, unit: 'mmol/L', system: 'http://unitsofmeasure.org', code: 'mmol/L' },
      text: '7.5-10.0',
    }]);
    expect(hb.interpretation).toEqual([{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation', code: 'L' }] }]);
    expect(hb.effectiveDateTime).toBe('2024-03-15T09:00:00+01:00');
    expect(hb.performer).toEqual([{ display: 'AMC Klinisch Chemisch Lab' }]);
    expect(hb.specimen?.reference).toBe(byCode(reports, '58410-2').specimen?.[0]?.reference);
  });
  it('keeps a unit that is not UCUM as text only, with a warning', () => {
    const neut = byCode(observations, '26499-4');
    expect(neut.valueQuantity).toEqual({ value: 1.1, unit: 'x10E9/L' });
    expect(neut.referenceRange?.[0]).toEqual({ low: { value: 1.5, unit: 'x10E9/L' }, text: '>1.5' });
    expect(neut.interpretation?.[0]?.coding?.[0]?.code).toBe('LL');
    expect(out.warnings).toContain('OBX[4]-6: unit "x10E9/L" is not valid UCUM; kept as text');
  });
  it('reads "<x" and "<=x" ranges as high limits', () => {
    expect(byCode(observations, '1742-6').referenceRange?.[0]?.high?.value).toBe(35);
    expect(byCode(observations, '6875-9').referenceRange?.[0]).toMatchObject({ high: { value: 30, code: 'kU/L' }, text: '<=30' });
    expect(byCode(observations, '6875-9').interpretation?.[0]?.coding?.[0]?.code).toBe('H');
  });
  it('puts the NTE after an OBX in Observation.note', () => {
    expect(byCode(observations, '6690-2').note).toEqual([{ text: 'Neutropenia after cycle 3 of chemotherapy; clinician informed.' }]);
    expect(byCode(observations, '6875-9').note?.[0]?.text).toMatch(/^Rising since previous result/);
  });
  it('uses OBR-7 when OBX-14 is empty', () => {
    const otherMsg = fixture('lab-breast-fbc-tumour-markers.hl7').replace('|F|||20240315091500+0100\r', '|F|||\r');
    const creat = byCode(resources<Observation>(hl7v2ToBundle(otherMsg, testContext()).bundle, 'Observation'), '2160-0');
    expect(creat.effectiveDateTime).toBe('2024-03-15T08:30:00+01:00');
  });
});

describe('lab ORU^R01: Specimen from SPM', () => {
  const specimen = resources<Specimen>(bundle, 'Specimen')[0] as Specimen;
  it('maps identifier, type, collection and received time', () => {
    expect(specimen.identifier).toEqual([
      { system: 'urn:idr:hl7v2:specimen-key', value: `${SCOPE}/GLIMS/SP-778899` },
      { system: 'urn:idr:hl7v2:specimen', value: 'GLIMS/SP-778899' },
    ]);
    expect(specimen.type?.coding).toEqual([
      { system: 'http://snomed.info/sct', code: '119297000', display: 'Blood specimen' },
      { system: 'http://terminology.hl7.org/CodeSystem/v2-0487', code: 'BLD', display: 'Blood' },
    ]);
    expect(specimen.collection?.collectedDateTime).toBe('2024-03-15T08:30:00+01:00');
    expect(specimen.receivedTime).toBe('2024-03-15T08:45:00+01:00');
  });
});
