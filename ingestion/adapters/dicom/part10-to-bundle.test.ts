import { readFileSync } from 'node:fs';
import type { Endpoint, ImagingStudy, Patient } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { resolve, resources, testContext } from '../hl7v2/testing.ts';
import { AdapterError } from '../types.ts';
import { dicomInstancesToBundle } from './part10-to-bundle.ts';
import { readDicomHeader, type DicomHeader } from './read-header.ts';
import { sampleInstance } from './testing/sample-instances.ts';
import { writeDicomPart10 } from './testing/write-dicom.ts';

const FIXTURES = new URL('../../../test/fixtures/dicom/', import.meta.url);
const header = (name: string): DicomHeader => readDicomHeader(new Uint8Array(readFileSync(new URL(name, FIXTURES))));
const WADO = 'http://127.0.0.1:8042/dicom-web';
const BSN = 'http://fhir.nl/fhir/NamingSystem/bsn';

describe('dicomInstancesToBundle', () => {
  const ct = ['ct-thorax-1.dcm', 'ct-thorax-2.dcm', 'ct-abdomen-1.dcm'].map(header);

  it('groups instances into one ImagingStudy with two series', () => {
    const { bundle, kind, warnings } = dicomInstancesToBundle(ct, testContext(), { wadoRsBase: WADO });
    expect(kind).toBe('DICOM Part 10');
    expect(warnings).toEqual([]);
    const [study] = resources<ImagingStudy>(bundle, 'ImagingStudy');
    expect(resources(bundle, 'ImagingStudy')).toHaveLength(1);
    expect(study?.identifier?.[0]).toEqual({ system: 'urn:dicom:uid', value: 'urn:oid:1.2.826.0.1.3680043.10.1234.100' });
    expect(study?.identifier?.[1]).toEqual({ type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0203', code: 'ACSN' }] }, system: 'urn:idr:accession', value: 'RAD24-000123' });
    expect(study).toMatchObject({
      status: 'available', started: '2024-03-12T09:30:15.123+01:00', description: 'CT thorax-abdomen met contrast',
      numberOfSeries: 2, numberOfInstances: 3, referrer: { display: 'Dr. Pieter de Vries' },
      modality: [{ system: 'http://dicom.nema.org/resources/ontology/DCM', code: 'CT' }],
    });
    const [thorax, abdomen] = study?.series ?? [];
    expect(thorax).toMatchObject({ uid: '1.2.826.0.1.3680043.10.1234.100.1', number: 1, numberOfInstances: 2, description: 'Thorax 1.0 mm', bodySite: { system: 'http://snomed.info/sct', code: '43799004', display: 'Chest' } });
    expect(thorax?.instance?.map((i) => i.number)).toEqual([1, 2]);
    expect(thorax?.instance?.[0]?.sopClass).toEqual({ system: 'urn:ietf:rfc:3986', code: 'urn:oid:1.2.840.10008.5.1.4.1.1.2' });
    expect(abdomen).toMatchObject({ number: 2, numberOfInstances: 1, bodySite: { code: '818981001' } });
  });

  it('makes conditional updates keyed by identifiers and links subject and endpoint by urn:uuid', () => {
    const { bundle } = dicomInstancesToBundle(ct, testContext(), { wadoRsBase: WADO });
    for (const e of bundle.entry ?? []) {
      expect(e.fullUrl).toMatch(/^urn:uuid:/);
      expect(e.resource?.id).toBeUndefined();
      expect(e.request?.method).toBe('PUT');
    }
    expect(bundle.type).toBe('transaction');
    const urls = (bundle.entry ?? []).map((e) => e.request?.url);
    expect(urls).toContain(`Patient?identifier=${BSN}|999911120`);
    expect(urls).toContain('ImagingStudy?identifier=urn:dicom:uid|urn:oid:1.2.826.0.1.3680043.10.1234.100');
    expect(urls).toContain(`Endpoint?identifier=urn:idr:dicomweb:endpoint|${WADO}`);
    const [study] = resources<ImagingStudy>(bundle, 'ImagingStudy');
    const patient = resolve<Patient>(bundle, study?.subject?.reference);
    expect(patient).toMatchObject({ name: [{ family: 'Jansen', given: ['Anna', 'Maria'] }], birthDate: '1964-05-23', gender: 'female' });
    const endpoint = resolve<Endpoint>(bundle, study?.endpoint?.[0]?.reference);
    expect(endpoint).toMatchObject({ status: 'active', address: WADO, connectionType: { system: 'http://terminology.hl7.org/CodeSystem/endpoint-connection-type', code: 'dicom-wado-rs' } });
    expect(endpoint.payloadType?.[0]?.coding?.[0]?.code).toBe('any');
  });

  it('adds no Endpoint without wadoRsBase', () => {
    const { bundle } = dicomInstancesToBundle(ct, testContext());
    expect(resources(bundle, 'Endpoint')).toHaveLength(0);
    expect(resources<ImagingStudy>(bundle, 'ImagingStudy')[0]?.endpoint).toBeUndefined();
  });

  it('maps laterality and breast body site of a mammogram', () => {
    const { bundle } = dicomInstancesToBundle([header('mg-left-cc.dcm')], testContext());
    const series = resources<ImagingStudy>(bundle, 'ImagingStudy')[0]?.series?.[0];
    expect(series?.laterality).toEqual({ system: 'http://snomed.info/sct', code: '7771000', display: 'Left' });
    expect(series?.bodySite).toEqual({ system: 'http://snomed.info/sct', code: '76752008', display: 'Breast' });
  });

  it('keeps an unknown body part as display text', () => {
    const h = readDicomHeader(writeDicomPart10(sampleInstance({ studyUid: '1.2.9', seriesUid: '1.2.9.1', sopUid: '1.2.9.1.1', modality: 'CT', bodyPart: 'ELBOWX' })));
    const { bundle } = dicomInstancesToBundle([h], testContext());
    expect(resources<ImagingStudy>(bundle, 'ImagingStudy')[0]?.series?.[0]?.bodySite).toEqual({ display: 'ELBOWX' });
  });

  it('links a whole-slide image to the pathology specimen by the HL7 v2 specimen identifier', () => {
    const { bundle, kind } = dicomInstancesToBundle([header('sm-slide.dcm')], testContext());
    expect(kind).toBe('DICOM Part 10 whole-slide');
    const study = resources<ImagingStudy>(bundle, 'ImagingStudy')[0];
    expect(study?.identifier?.[1]?.value).toBe('T24-01234');
    const ext = study?.series?.[0]?.extension ?? [];
    expect(ext[0]).toEqual({
      url: 'http://hl7.org/fhir/5.0/StructureDefinition/extension-ImagingStudy.series.specimen',
      valueReference: { type: 'Specimen', identifier: { system: 'urn:idr:hl7v2:specimen', value: 'PATHLAB/T24-01234-A1' }, display: 'Specimen T24-01234-A1' },
    });
    expect(ext[1]).toEqual({ url: 'urn:idr:fhir:extension:dicom-container-identifier', valueIdentifier: { system: 'urn:idr:dicom:container', value: 'T24-01234-A1-1' } });
    expect(resources(bundle, 'Specimen')).toHaveLength(0);
  });

  it('uses specimenNamespace for a specimen without issuer, and warns when there is none', () => {
    const h = readDicomHeader(writeDicomPart10(sampleInstance({ studyUid: '1.2.8', seriesUid: '1.2.8.1', sopUid: '1.2.8.1.1', modality: 'SM', specimenId: 'S1' })));
    const withNs = dicomInstancesToBundle([h], testContext(), { specimenNamespace: 'PATHLAB' });
    expect(resources<ImagingStudy>(withNs.bundle, 'ImagingStudy')[0]?.series?.[0]?.extension?.[0]?.valueReference?.identifier?.value).toBe('PATHLAB/S1');
    const without = dicomInstancesToBundle([h], testContext());
    expect(without.warnings.join()).toMatch(/no issuer/);
  });

  it('makes one Patient per patient across studies', () => {
    const other = readDicomHeader(writeDicomPart10(sampleInstance({ studyUid: '1.2.7', seriesUid: '1.2.7.1', sopUid: '1.2.7.1.1', modality: 'MR', patientId: 'P2', issuer: 'NWZ' })));
    const { bundle } = dicomInstancesToBundle([...ct, header('mg-left-cc.dcm'), other], testContext());
    const patients = resources<Patient>(bundle, 'Patient');
    expect(patients.map((p) => p.identifier?.[0])).toEqual([{ system: BSN, value: '999911120' }, { system: 'urn:idr:assigning-authority:NWZ', value: 'P2' }]);
    expect(resources(bundle, 'ImagingStudy')).toHaveLength(3);
  });

  it('counts a repeated instance once, with a warning', () => {
    const { bundle, warnings } = dicomInstancesToBundle([ct[0] as DicomHeader, ct[0] as DicomHeader], testContext());
    expect(resources<ImagingStudy>(bundle, 'ImagingStudy')[0]?.numberOfInstances).toBe(1);
    expect(warnings[0]).toMatch(/given twice/);
  });

  it('refuses a study whose instances name two patients, and an empty batch', () => {
    const wrong = { ...(ct[1] as DicomHeader), PatientID: 'OTHER' };
    expect(() => dicomInstancesToBundle([ct[0] as DicomHeader, wrong], testContext())).toThrow(AdapterError);
    expect(() => dicomInstancesToBundle([], testContext())).toThrow(/no DICOM instances/);
  });

  it('warns and drops a malformed study date instead of refusing', () => {
    const h = { ...(ct[0] as DicomHeader), StudyDate: '20241399' };
    const { bundle, warnings } = dicomInstancesToBundle([h], testContext());
    expect(resources<ImagingStudy>(bundle, 'ImagingStudy')[0]?.started).toBeUndefined();
    expect(warnings[0]).toMatch(/\(0008,0020\)/);
  });

  it('refuses an invalid wadoRsBase option naming it', () => {
    expect(() => dicomInstancesToBundle(ct, testContext(), { wadoRsBase: 'not a url' })).toThrow(/options.wadoRsBase/);
  });
});
