import type { DiagnosticReport, Observation, Patient, Specimen } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { hl7v2ToBundle } from './index.ts';
import { patientScope } from './patient-scope.ts';
import { byCode, entryOf, fixture, resources, testContext } from './testing.ts';

describe('corrections (OBR-25 C, OBX-11 C)', () => {
  const original = hl7v2ToBundle(fixture('lab-breast-fbc-tumour-markers.hl7'), testContext()).bundle;
  const correction = hl7v2ToBundle(fixture('lab-breast-correction.hl7'), testContext()).bundle;
  const urls = (b: typeof original, type: string): string[] => (b.entry ?? []).filter((e) => e.resource?.resourceType === type).map((e) => e.request?.url ?? '');

  it('targets the same DiagnosticReport, Observations and Patient as the original (a new version, not a duplicate)', () => {
    const [dr] = urls(correction, 'DiagnosticReport');
    expect(urls(original, 'DiagnosticReport')).toContain(dr);
    for (const url of urls(correction, 'Observation')) expect(urls(original, 'Observation')).toContain(url);
    expect(urls(correction, 'Patient')).toEqual(urls(original, 'Patient'));
  });
  it('carries the corrected statuses and value', () => {
    const dr = resources<DiagnosticReport>(correction, 'DiagnosticReport')[0] as DiagnosticReport;
    expect(dr.status).toBe('corrected');
    const ca153 = byCode(resources<Observation>(correction, 'Observation'), '6875-9');
    expect(ca153.status).toBe('corrected');
    expect(ca153.valueQuantity?.value).toBe(38);
    expect(ca153.note?.[0]?.text).toBe('Corrected: calibration error on analyser 2.');
    expect(byCode(resources<Observation>(correction, 'Observation'), '2039-6').status).toBe('final');
  });
  it('gives repeated OBX-3/OBX-4 pairs distinct, stable identities', () => {
    const msg = fixture('lab-breast-correction.hl7').replace('OBX|2|NM|6875-9', 'OBX|2|NM|2039-6');
    const ids = resources<Observation>(hl7v2ToBundle(msg, testContext()).bundle, 'Observation').map((o) => o.identifier?.[0]?.value);
    const report = `${patientScope({ system: 'http://fhir.nl/fhir/NamingSystem/bsn', value: '123456782' })}/filler/GLIMS/FL-24-000125/TM`;
    expect(ids).toEqual([`${report}/2039-6/`, `${report}/2039-6//2`]);
  });
});

describe('HL7 v2.3 with \\n separators, a BOM and OBR-15', () => {
  const out = hl7v2ToBundle(fixture('lab-v23-lf-bom.hl7'), testContext());
  it('parses (BOM stripped, \\n accepted) and keeps non-ASCII names', () => {
    expect(fixture('lab-v23-lf-bom.hl7').charCodeAt(0)).toBe(0xfeff);
    expect(out.warnings).toEqual([]);
    const patient = resources<Patient>(out.bundle, 'Patient')[0] as Patient;
    expect(patient.name?.[0]).toEqual({ use: 'official', family: 'Müller', given: ['Jürgen'] });
    expect(entryOf(out.bundle, patient).request?.url).toBe('Patient?identifier=urn:idr:assigning-authority:RIJNSTATE|7654321');
  });
  it('maps OBR-15 specimen source to a Specimen when there is no SPM', () => {
    const specimen = resources<Specimen>(out.bundle, 'Specimen')[0] as Specimen;
    const scope = patientScope({ system: 'urn:idr:assigning-authority:RIJNSTATE', value: '7654321' });
    expect(specimen.identifier).toEqual([{ system: 'urn:idr:hl7v2:specimen', value: `${scope}/filler/LABSYS/LAB-88/2951-2/specimen` }]);
    expect(specimen.type).toEqual({ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0070', code: 'SER', display: 'Serum' }], text: 'Serum' });
    expect(specimen.collection?.bodySite?.coding?.[0]?.code).toBe('LA');
    expect(specimen.collection?.method?.text).toBe('VENIP');
  });
  it('reads times without offset in the default zone Europe/Amsterdam (summer time +02:00)', () => {
    const dr = resources<DiagnosticReport>(out.bundle, 'DiagnosticReport')[0] as DiagnosticReport;
    expect(dr.effectiveDateTime).toBe('2024-07-15T08:15:00+02:00');
    expect(dr.issued).toBe('2024-07-15T09:25:00+02:00');
    expect(byCode(resources<Observation>(out.bundle, 'Observation'), '2951-2').effectiveDateTime).toBe('2024-07-15T09:00:00+02:00');
  });
  it('uses the defaultTimezone option when given', () => {
    const utc = hl7v2ToBundle(fixture('lab-v23-lf-bom.hl7'), testContext(), { defaultTimezone: 'Z' });
    expect(resources<DiagnosticReport>(utc.bundle, 'DiagnosticReport')[0]?.effectiveDateTime).toBe('2024-07-15T08:15:00Z');
    const ny = hl7v2ToBundle(fixture('lab-v23-lf-bom.hl7'), testContext(), { defaultTimezone: 'America/New_York' });
    expect(resources<DiagnosticReport>(ny.bundle, 'DiagnosticReport')[0]?.effectiveDateTime).toBe('2024-07-15T08:15:00-04:00');
    expect(() => hl7v2ToBundle(fixture('lab-v23-lf-bom.hl7'), testContext(), { defaultTimezone: 'Mars/Olympus' })).toThrow(/IANA time zone/);
  });
  it('maps the same message with \\r\\n separators identically', () => {
    const crlf = fixture('lab-v23-lf-bom.hl7').replace(/\n/g, '\r\n');
    expect(hl7v2ToBundle(crlf, testContext()).bundle).toEqual(out.bundle);
  });
});

describe('HL7 versions', () => {
  const base = fixture('lab-escapes.hl7');
  it('accepts 2.3 to 2.5.1 silently', () => {
    for (const v of ['2.3', '2.3.1', '2.4', '2.5', '2.5.1']) {
      expect(hl7v2ToBundle(base.replace('|P|2.5\r', `|P|${v}\r`), testContext()).warnings).toEqual([]);
    }
  });
  it('accepts 2.6+ with a warning unless acceptNewerVersions is false', () => {
    const v28 = base.replace('|P|2.5\r', '|P|2.8\r');
    expect(hl7v2ToBundle(v28, testContext()).warnings).toContain('MSH-12: version 2.8 mapped with the 2.5.1 rules');
    expect(() => hl7v2ToBundle(v28, testContext(), { acceptNewerVersions: false })).toThrow('MSH-12: version "2.8"; HL7 v2.3 to 2.5.1 expected');
  });
});
