import type { Bundle, Observation, Patient, Resource } from '@medplum/fhirtypes';
import { fhirFetch } from './server.ts';

/**
 * Realistic oncology resources for the FHIR integration tests (a breast-cancer work-up: biopsy,
 * pathology, imaging, labs, letters, treatment), plus small helpers to create and search them.
 */

export const BSN = 'http://fhir.nl/fhir/NamingSystem/bsn';
export const MRN = 'urn:oid:2.16.840.1.113883.2.4.3.11.999.1';
export const LOINC = 'http://loinc.org';
export const SNOMED = 'http://snomed.info/sct';
export const UCUM = 'http://unitsofmeasure.org';
export const ICD10 = 'http://hl7.org/fhir/sid/icd-10';
const OBS_CAT = 'http://terminology.hl7.org/CodeSystem/observation-category';

/** A Patient with extensions, a primitive extension on birthDate, and several identifiers. */
export function patient(bsn = '999911120', overrides: Record<string, unknown> = {}): Patient {
  return {
    resourceType: 'Patient',
    extension: [
      { url: 'http://hl7.org/fhir/StructureDefinition/patient-nationality', extension: [{ url: 'code', valueCodeableConcept: { coding: [{ system: 'urn:iso:std:iso:3166', code: 'NL' }] } }] },
      { url: 'http://hl7.org/fhir/StructureDefinition/patient-birthPlace', valueAddress: { city: 'Utrecht', country: 'NL' } },
    ],
    identifier: [
      { system: BSN, value: bsn },
      { use: 'usual', system: MRN, value: `MRN-${bsn.slice(-5)}`, type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0203', code: 'MR' }] } },
    ],
    active: true,
    name: [{ use: 'official', family: 'Jansen', given: ['Anna', 'Maria'], prefix: ['Mw.'] }],
    telecom: [{ system: 'phone', value: '+31 30 123 4567', use: 'home' }],
    gender: 'female',
    birthDate: '1968-04-12',
    _birthDate: { extension: [{ url: 'http://hl7.org/fhir/StructureDefinition/patient-birthTime', valueDateTime: '1968-04-12T06:15:00+01:00' }] },
    address: [{ line: ['Oudegracht 12'], city: 'Utrecht', postalCode: '3511 AB', country: 'NL' }],
    maritalStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-MaritalStatus', code: 'M' }] },
    ...overrides,
  } as Patient;
}

/** Everything else a breast-cancer record holds, referring to Patient/`pid`. */
export function oncologyRecord(pid: string): Resource[] {
  const subject = { reference: `Patient/${pid}`, display: 'Anna Jansen' };
  const lab = [{ coding: [{ system: OBS_CAT, code: 'laboratory', display: 'Laboratory' }] }];
  return [
    {
      resourceType: 'Practitioner',
      identifier: [{ system: 'http://fhir.nl/fhir/NamingSystem/uzi-nr-pers', value: '012345678' }],
      name: [{ family: 'de Vries', given: ['Pieter'], prefix: ['Dr.'] }],
      qualification: [{ code: { coding: [{ system: SNOMED, code: '309327003', display: 'Pathologist' }] } }],
    },
    {
      resourceType: 'Organization',
      identifier: [{ system: 'http://fhir.nl/fhir/NamingSystem/agb-z', value: '06010101' }],
      active: true,
      type: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/organization-type', code: 'prov' }] }],
      name: 'Universitair Medisch Centrum Utrecht',
      address: [{ city: 'Utrecht', country: 'NL' }],
    },
    {
      resourceType: 'Encounter',
      status: 'finished',
      class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'AMB', display: 'ambulatory' },
      type: [{ coding: [{ system: SNOMED, code: '11429006', display: 'Consultation' }] }],
      subject,
      period: { start: '2024-03-01T09:00:00+01:00', end: '2024-03-01T09:40:00+01:00' },
      reasonCode: [{ text: 'Palpable mass left breast' }],
    },
    {
      resourceType: 'Condition',
      clinicalStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-clinical', code: 'active' }] },
      verificationStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-ver-status', code: 'confirmed' }] },
      category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-category', code: 'encounter-diagnosis' }] }],
      code: {
        coding: [
          { system: ICD10, code: 'C50.4', display: 'Malignant neoplasm of upper-outer quadrant of breast' },
          { system: SNOMED, code: '254837009', display: 'Malignant neoplasm of breast' },
        ],
        text: 'Invasive ductal carcinoma, left breast',
      },
      bodySite: [{ coding: [{ system: SNOMED, code: '80248007', display: 'Left breast structure' }] }],
      subject,
      onsetDateTime: '2024-03-05',
      stage: [{ summary: { coding: [{ system: SNOMED, code: '1222806003', display: 'AJCC stage IIA' }] } }],
    },
    {
      resourceType: 'Observation',
      status: 'final',
      category: lab,
      code: { coding: [{ system: LOINC, code: '718-7', display: 'Hemoglobin [Mass/volume] in Blood' }], text: 'Hemoglobin' },
      subject,
      effectiveDateTime: '2024-03-01T08:12:00+01:00',
      issued: '2024-03-01T10:02:11.000+01:00',
      valueQuantity: { value: 7.9, unit: 'mmol/L', system: UCUM, code: 'mmol/L' },
      interpretation: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation', code: 'N' }] }],
      referenceRange: [{ low: { value: 7.5, unit: 'mmol/L', system: UCUM, code: 'mmol/L' }, high: { value: 10, unit: 'mmol/L', system: UCUM, code: 'mmol/L' } }],
    },
    {
      resourceType: 'Observation',
      status: 'final',
      category: [{ coding: [{ system: OBS_CAT, code: 'vital-signs' }] }],
      code: { coding: [{ system: LOINC, code: '85354-9', display: 'Blood pressure panel' }] },
      subject,
      effectivePeriod: { start: '2024-03-01T09:05:00+01:00', end: '2024-03-01T09:10:00+01:00' },
      component: [
        { code: { coding: [{ system: LOINC, code: '8480-6' }] }, valueQuantity: { value: 128, unit: 'mmHg', system: UCUM, code: 'mm[Hg]' } },
        { code: { coding: [{ system: LOINC, code: '8462-4' }] }, valueQuantity: { value: 82, unit: 'mmHg', system: UCUM, code: 'mm[Hg]' } },
      ],
    },
    {
      resourceType: 'Specimen',
      identifier: [{ system: 'urn:oid:2.16.840.1.113883.2.4.3.11.999.2', value: 'T24-01234' }],
      status: 'available',
      type: { coding: [{ system: SNOMED, code: '309075004', display: 'Core needle biopsy specimen' }] },
      subject,
      receivedTime: '2024-03-05T11:20:00+01:00',
      collection: { collectedDateTime: '2024-03-05T10:45:00+01:00', bodySite: { coding: [{ system: SNOMED, code: '80248007' }] } },
    },
    {
      resourceType: 'DiagnosticReport',
      contained: [{ resourceType: 'Practitioner', id: 'path1', name: [{ family: 'de Vries', given: ['Pieter'] }] }],
      status: 'final',
      category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0074', code: 'SP', display: 'Surgical Pathology' }] }],
      code: { coding: [{ system: LOINC, code: '60567-5', display: 'Comprehensive pathology report panel' }] },
      subject,
      effectiveDateTime: '2024-03-05T10:45:00+01:00',
      issued: '2024-03-07T15:30:00+01:00',
      performer: [{ reference: '#path1' }],
      conclusion: 'Invasive carcinoma NST, grade 2; ER 90%, PR 60%, HER2 1+.',
      conclusionCode: [{ coding: [{ system: SNOMED, code: '408643008', display: 'Infiltrating duct carcinoma of breast' }] }],
      presentedForm: [{ contentType: 'application/pdf', language: 'nl', title: 'Pathologieverslag T24-01234', data: 'JVBERi0xLjQKJcOkw7zDtsOfCjIgMCBvYmoKPDwvTGVuZ3RoIDMgMCBSPj4Kc3RyZWFtCg==', size: 48, creation: '2024-03-07T15:30:00+01:00' }],
    },
    {
      resourceType: 'ImagingStudy',
      identifier: [{ system: 'urn:dicom:uid', value: 'urn:oid:1.2.826.0.1.3680043.8.498.1' }],
      status: 'available',
      subject,
      started: '2024-03-02T14:00:00+01:00',
      modality: [{ system: 'http://dicom.nema.org/resources/ontology/DCM', code: 'MG' }],
      numberOfSeries: 1,
      numberOfInstances: 2,
      description: 'Mammografie beiderzijds',
      series: [
        {
          uid: '1.2.826.0.1.3680043.8.498.1.1',
          number: 1,
          modality: { system: 'http://dicom.nema.org/resources/ontology/DCM', code: 'MG' },
          bodySite: { system: SNOMED, code: '76752008', display: 'Breast' },
          laterality: { system: SNOMED, code: '7771000', display: 'Left' },
          instance: [
            { uid: '1.2.826.0.1.3680043.8.498.1.1.1', sopClass: { system: 'urn:ietf:rfc:3986', code: 'urn:oid:1.2.840.10008.5.1.4.1.1.1.2' }, number: 1, title: 'L CC' },
            { uid: '1.2.826.0.1.3680043.8.498.1.1.2', sopClass: { system: 'urn:ietf:rfc:3986', code: 'urn:oid:1.2.840.10008.5.1.4.1.1.1.2' }, number: 2, title: 'L MLO' },
          ],
        },
      ],
    },
    {
      resourceType: 'DocumentReference',
      status: 'current',
      docStatus: 'final',
      type: { coding: [{ system: LOINC, code: '57133-1', display: 'Referral note' }] },
      category: [{ coding: [{ system: 'http://hl7.org/fhir/us/core/CodeSystem/us-core-documentreference-category', code: 'clinical-note' }] }],
      subject,
      date: '2024-02-27T16:00:00+01:00',
      description: 'Verwijsbrief huisarts',
      content: [{ attachment: { contentType: 'application/pdf', language: 'nl', url: 'Binary/referral-1', size: 20480, hash: 'MjAyNC0wMi0yNw==', title: 'Verwijzing mammapoli', creation: '2024-02-27' } }],
    },
    {
      resourceType: 'Procedure',
      status: 'completed',
      code: { coding: [{ system: SNOMED, code: '392021009', display: 'Lumpectomy of breast' }] },
      subject,
      performedPeriod: { start: '2024-04-10T08:30:00+02:00', end: '2024-04-10T10:05:00+02:00' },
      bodySite: [{ coding: [{ system: SNOMED, code: '80248007' }] }],
      note: [{ text: 'Wide local excision with sentinel node biopsy.' }],
    },
    {
      resourceType: 'MedicationStatement',
      contained: [{ resourceType: 'Medication', id: 'tam', code: { coding: [{ system: 'http://www.whocc.no/atc', code: 'L02BA01', display: 'tamoxifen' }] } }],
      status: 'active',
      medicationReference: { reference: '#tam' },
      subject,
      effectivePeriod: { start: '2024-06-01' },
      dosage: [{ text: '20 mg once daily', timing: { repeat: { frequency: 1, period: 1, periodUnit: 'd' } }, doseAndRate: [{ doseQuantity: { value: 20, unit: 'mg', system: UCUM, code: 'mg' } }] }],
    },
    {
      resourceType: 'MedicationAdministration',
      status: 'completed',
      medicationCodeableConcept: { coding: [{ system: 'http://www.whocc.no/atc', code: 'L01CD01', display: 'paclitaxel' }] },
      subject,
      effectivePeriod: { start: '2024-05-02T09:00:00+02:00', end: '2024-05-02T10:00:00+02:00' },
      dosage: { route: { coding: [{ system: SNOMED, code: '47625008', display: 'Intravenous route' }] }, dose: { value: 80, unit: 'mg/m2', system: UCUM, code: 'mg/m2' } },
    },
    {
      resourceType: 'AllergyIntolerance',
      clinicalStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical', code: 'active' }] },
      type: 'allergy',
      category: ['medication'],
      criticality: 'high',
      code: { coding: [{ system: SNOMED, code: '764146007', display: 'Penicillin' }] },
      patient: subject,
      reaction: [{ manifestation: [{ coding: [{ system: SNOMED, code: '271807003', display: 'Rash' }] }], severity: 'moderate' }],
    },
    {
      resourceType: 'CarePlan',
      status: 'active',
      intent: 'plan',
      title: 'MDT advies: neoadjuvante chemotherapie gevolgd door lumpectomie',
      subject,
      period: { start: '2024-03-12' },
      activity: [{ detail: { kind: 'ServiceRequest', status: 'scheduled', code: { coding: [{ system: SNOMED, code: '367336001', display: 'Chemotherapy' }] } } }],
    },
    {
      resourceType: 'Endpoint',
      status: 'active',
      connectionType: { system: 'http://terminology.hl7.org/CodeSystem/endpoint-connection-type', code: 'dicom-wado-rs' },
      name: 'PACS DICOMweb',
      payloadType: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/endpoint-payload-type', code: 'DICOM' }] }],
      payloadMimeType: ['application/dicom'],
      address: 'https://pacs.example.org/dicom-web',
    },
    {
      resourceType: 'Provenance',
      target: [subject],
      recorded: '2024-03-07T15:31:00+01:00',
      activity: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-DataOperation', code: 'CREATE' }] },
      agent: [{ type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/provenance-participant-type', code: 'assembler' }] }, who: { display: 'IDR HL7 v2 adapter 0.1.0' } }],
      entity: [{ role: 'source', what: { identifier: { system: 'urn:ietf:rfc:3986', value: 'urn:uuid:7d3a6c9e-2f0b-4c1e-9a57-3c2b1d0e4f11' } } }],
    },
  ] as Resource[];
}

/** A lab Observation for search tests. */
export function labObservation(pid: string, label: string, fields: Record<string, unknown> = {}): Observation {
  return {
    resourceType: 'Observation',
    identifier: [{ system: 'urn:test:label', value: label }],
    status: 'final',
    category: [{ coding: [{ system: OBS_CAT, code: 'laboratory' }] }],
    code: { coding: [{ system: LOINC, code: '718-7', display: 'Hemoglobin' }], text: 'Hemoglobin' },
    subject: { reference: `Patient/${pid}` },
    ...fields,
  } as Observation;
}

/** POSTs a resource and returns it as stored (fails the test on anything but 201). */
export async function create<T extends Resource>(fhir: string, resource: T): Promise<T & { id: string }> {
  const r = await fhirFetch(`${fhir}/${resource.resourceType}`, { method: 'POST', json: resource });
  if (r.status !== 201) throw new Error(`create ${resource.resourceType} -> ${r.status}: ${JSON.stringify(r.body)}`);
  return r.body as T & { id: string };
}

/** GETs a search and returns the Bundle (fails on anything but 200). */
export async function search(fhir: string, query: string): Promise<Bundle> {
  const r = await fhirFetch(`${fhir}/${query}`);
  if (r.status !== 200) throw new Error(`GET ${query} -> ${r.status}: ${JSON.stringify(r.body)}`);
  return r.body as Bundle;
}

/** The `urn:test:label` identifier values of the matches of a search, sorted. */
export async function labels(fhir: string, query: string): Promise<string[]> {
  const bundle = await search(fhir, query);
  return matches(bundle)
    .map((r) => ((r as { identifier?: { system?: string; value?: string }[] }).identifier ?? []).find((i) => i.system === 'urn:test:label')?.value ?? `?${r.id}`)
    .sort();
}

/** The resources of a searchset with search.mode "match". */
export function matches(bundle: Bundle): Resource[] {
  return (bundle.entry ?? []).filter((e) => e.search?.mode === 'match').map((e) => e.resource as Resource);
}

/** Strips id and meta, for comparing a stored resource with what was sent. */
export function withoutMeta(r: Resource): Record<string, unknown> {
  const { id: _id, meta: _meta, ...rest } = r as Resource & Record<string, unknown>;
  return rest;
}
