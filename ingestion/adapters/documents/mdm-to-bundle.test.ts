import { patientScope } from '../hl7v2/patient-scope.ts';
import type { DiagnosticReport, DocumentReference, Patient } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { resolve, resources, testContext } from '../hl7v2/testing.ts';
import { mdmToBundle } from './mdm-to-bundle.ts';
import { decode, fixtureBytes, refusal } from './testing/helpers.ts';

const radiology = new TextDecoder().decode(fixtureBytes('radiology-report-mdm.hl7'));

describe('mdmToBundle', () => {
  it('maps a radiology MDM^T02 to a DocumentReference and a DiagnosticReport linked to the study', () => {
    const out = mdmToBundle(radiology, testContext());
    expect(out.kind).toBe('MDM^T02 radiology');
    expect(out.warnings).toEqual([]);
    const doc = resources<DocumentReference>(out.bundle, 'DocumentReference')[0];
    expect(doc).toMatchObject({
      status: 'current', docStatus: 'final', date: '2024-03-04T12:00:00+01:00',
      type: { coding: [{ system: 'http://loinc.org', code: '18748-4' }, { system: 'http://terminology.hl7.org/CodeSystem/v2-0270', code: 'DI' }] },
      author: [{ display: 'Dr. Pieter de Vries' }],
      context: { related: [{ type: 'ImagingStudy', identifier: { system: 'urn:dicom:uid', value: 'urn:oid:1.2.826.0.1.3680043.10.1234.200' } }] },
    });
    expect(doc?.identifier).toContainEqual({ system: 'urn:idr:hl7v2:document', value: 'RIS/RAD-DOC-777' });
    expect(decode(doc?.content[1]?.attachment.data)).toBe(out.text);
    expect(out.text).toContain('irregular mass of 23 mm');
    expect(doc?.content[2]?.attachment).toMatchObject({ contentType: 'application/pdf', title: 'Report PDF' });
    const report = resources<DiagnosticReport>(out.bundle, 'DiagnosticReport')[0];
    expect(report).toMatchObject({
      status: 'final', category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0074', code: 'RAD' }] }],
      conclusion: 'Suspicious mass left breast, BI-RADS 5. Biopsy advised.', effectiveDateTime: '2024-03-04T09:30:15+01:00',
      imagingStudy: [{ identifier: { system: 'urn:dicom:uid', value: 'urn:oid:1.2.826.0.1.3680043.10.1234.200' } }],
    });
    expect(report?.identifier).toContainEqual(expect.objectContaining({ system: 'urn:idr:accession', value: 'RAD24-000123' }));
    // OBR-4 as sent, with its coding system (L: local), beside the LOINC code: no Coding without a system.
    expect(report?.code.coding).toEqual([
      { system: 'http://loinc.org', code: '18748-4', display: 'Diagnostic imaging study' },
      { system: 'urn:idr:hl7v2:code-system:L', code: 'MAMMO', display: 'Mammografie bilateraal' },
    ]);
    expect(decode(report?.presentedForm?.[0]?.data)).toBe(out.text);
    const patient = resolve<Patient>(out.bundle, report?.subject?.reference);
    expect(patient.identifier?.[0]).toEqual({ system: 'http://fhir.nl/fhir/NamingSystem/bsn', value: '999911120', type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0203', code: 'NI', display: 'National unique individual identifier' }], text: 'NNNLD' } });
    const scope = patientScope({ system: 'http://fhir.nl/fhir/NamingSystem/bsn', value: '999911120' });
    expect((out.bundle.entry ?? []).map((e) => e.request?.url)).toEqual([
      'Patient?identifier=http://fhir.nl/fhir/NamingSystem/bsn|999911120',
      `DocumentReference?identifier=urn:idr:document:key|${scope}/hl7v2/RIS/RAD-DOC-777`,
      `DiagnosticReport?identifier=urn:idr:document:key|${scope}/hl7v2/RIS/RAD-DOC-777`,
    ]);
  });

  it('makes no DiagnosticReport for a non-radiology document, and honours radiologyTypes', () => {
    const discharge = radiology.replace('TXA|1|DI|', 'TXA|1|DS|').replace(/18748-4\^Diagnostic imaging study\^LN/g, 'TEXT^Text^L');
    const out = mdmToBundle(discharge, testContext());
    expect(resources(out.bundle, 'DiagnosticReport')).toHaveLength(0);
    expect(resources<DocumentReference>(out.bundle, 'DocumentReference')[0]?.type?.coding?.[0]?.code).toBe('18842-5');
    const custom = mdmToBundle(discharge.replace('TXA|1|DS|', 'TXA|1|XRAY|'), testContext(), { radiologyTypes: ['XRAY'] });
    expect(resources(custom.bundle, 'DiagnosticReport')).toHaveLength(1);
  });

  it('refuses messages without content, with the reason', async () => {
    const err = await refusal(() => mdmToBundle(radiology.split('\r').filter((l) => !l.startsWith('OBX')).join('\r'), testContext()));
    expect(err.location).toBe('OBX');
    expect((await refusal(() => mdmToBundle(radiology.replace('MDM^T02^MDM_T02', 'MDM^T01^MDM_T01'), testContext()))).location).toBe('MSH-9');
    expect((await refusal(() => mdmToBundle(radiology.replace(/\rTXA[^\r]*/, ''), testContext()))).location).toBe('TXA');
  });
});
