import type { Coding, Endpoint, Extension, Identifier, ImagingStudy, ImagingStudySeries, Patient, Reference } from '@medplum/fhirtypes';
import { identifierValue, type EntryCollector } from '../hl7v2/bundle.ts';
import { AdapterError, type AdapterContext } from '../types.ts';
import { BODY_PART_SNOMED, DICOM_EXTENSIONS, DICOM_SYSTEMS, LATERALITY_SNOMED, WSI_MODALITY } from './constants.ts';
import { dicomDate, patientGender, personName } from './dicom-values.ts';

/** The patient as DICOM describes it (Part 10 header or QIDO-RS attributes). */
export interface PatientInput {
  id: string;
  issuer?: string;
  name?: string;
  birthDate?: string;
  sex?: string;
}

/** One instance of a series (Part 10 only; QIDO-RS studies carry counts instead). */
export interface InstanceInput {
  uid: string;
  sopClass: string;
  number?: number;
  frames?: number;
}

/** One series, normalised from either source. */
export interface SeriesInput {
  uid: string;
  modality: string;
  number?: number;
  description?: string;
  bodyPart?: string;
  laterality?: string;
  started?: string;
  numberOfInstances?: number;
  instances: InstanceInput[];
  /** Whole-slide images: the specimen (and its issuer) and the slide the series shows. */
  specimen?: { id: string; issuer?: string };
  container?: string;
}

/** One study, normalised from either source; times are already FHIR dateTimes. */
export interface StudyInput {
  uid: string;
  patient: PatientInput;
  accession?: string;
  started?: string;
  description?: string;
  referrer?: string;
  /** ModalitiesInStudy when the source gives it; otherwise the series modalities are used. */
  modalities?: string[];
  numberOfSeries?: number;
  numberOfInstances?: number;
  series: SeriesInput[];
}

/** Builder options shared by the Part 10 and QIDO-RS entry points. */
export interface StudyBuildOptions {
  /** Namespace for specimen identifiers that arrive without IssuerOfTheSpecimenIdentifier (e.g. the LIS application name used in SPM-2). */
  specimenNamespace?: string;
}

/** `urn:oid:<uid>`: the ImagingStudy identifier value of a StudyInstanceUID. */
export function studyIdentifier(uid: string): Identifier {
  return { system: DICOM_SYSTEMS.dicomUid, value: `urn:oid:${uid}` };
}

/** Adds the Patient entry (conditional on PatientID in the issuer's system) and returns the reference. */
export function addPatient(p: PatientInput, ctx: AdapterContext, entries: EntryCollector, where: string, warnings: string[]): Reference<Patient> {
  if (/[|,]/.test(p.id)) throw new AdapterError(where, `PatientID ${JSON.stringify(p.id)} contains "|" or ",", which a conditional reference cannot carry`);
  const key: Identifier = { system: ctx.identifierSystem(p.issuer || undefined), value: p.id };
  const patient: Patient = { resourceType: 'Patient', identifier: [key] };
  const name = personName(p.name);
  if (name) patient.name = [name];
  const birthDate = dicomDate(p.birthDate, `${where} (0010,0030)`, warnings);
  if (birthDate) patient.birthDate = birthDate;
  const gender = patientGender(p.sex);
  if (gender) patient.gender = gender;
  return entries.add(patient, key);
}

/** Adds the WADO-RS Endpoint (keyed by its base URL) and returns the reference. See: https://hl7.org/fhir/R4/endpoint.html */
export function addEndpoint(wadoRsBase: string, entries: EntryCollector): Reference<Endpoint> {
  const key: Identifier = { system: DICOM_SYSTEMS.endpoint, value: wadoRsBase };
  const endpoint: Endpoint = {
    resourceType: 'Endpoint',
    identifier: [key],
    status: 'active',
    connectionType: { system: DICOM_SYSTEMS.endpointConnectionType, code: 'dicom-wado-rs' },
    name: 'DICOMweb WADO-RS',
    payloadType: [{ coding: [{ system: DICOM_SYSTEMS.endpointPayloadType, code: 'any' }], text: 'DICOM' }],
    payloadMimeType: ['application/dicom'],
    address: wadoRsBase,
  };
  return entries.add(endpoint, key);
}

function modalityCoding(code: string): Coding {
  return { system: DICOM_SYSTEMS.dcm, code };
}

function bodySite(term: string): Coding {
  const hit = BODY_PART_SNOMED[term.toUpperCase().replace(/[^A-Z0-9]/g, '')];
  return hit ? { system: DICOM_SYSTEMS.snomed, code: hit.code, display: hit.display } : { display: term };
}

function specimenExtensions(s: SeriesInput, opts: StudyBuildOptions, where: string, warnings: string[]): Extension[] {
  const out: Extension[] = [];
  if (s.specimen) {
    const ns = s.specimen.issuer || opts.specimenNamespace;
    if (!ns) warnings.push(`${where}: specimen ${JSON.stringify(s.specimen.id)} has no issuer and no specimenNamespace is configured; linked by the bare id`);
    const value = ns ? identifierValue(ns, s.specimen.id) : s.specimen.id;
    out.push({ url: DICOM_EXTENSIONS.seriesSpecimenR5, valueReference: { type: 'Specimen', identifier: { system: DICOM_SYSTEMS.specimen, value }, display: `Specimen ${s.specimen.id}` } });
  }
  if (s.container) out.push({ url: DICOM_EXTENSIONS.containerIdentifier, valueIdentifier: { system: DICOM_SYSTEMS.container, value: s.container } });
  return out;
}

function buildSeries(s: SeriesInput, opts: StudyBuildOptions, where: string, warnings: string[]): ImagingStudySeries {
  const series: ImagingStudySeries = { uid: s.uid, modality: modalityCoding(s.modality) };
  if (s.number !== undefined) series.number = s.number;
  if (s.description) series.description = s.description;
  const count = s.numberOfInstances ?? (s.instances.length || undefined);
  if (count !== undefined) series.numberOfInstances = count;
  if (s.bodyPart) series.bodySite = bodySite(s.bodyPart);
  const lat = s.laterality ? LATERALITY_SNOMED[s.laterality.toUpperCase()] : undefined;
  if (lat) series.laterality = { system: DICOM_SYSTEMS.snomed, ...lat };
  if (s.started) series.started = s.started;
  if (s.instances.length) {
    series.instance = [...s.instances]
      .sort((a, b) => (a.number ?? 0) - (b.number ?? 0))
      .map((i) => ({ uid: i.uid, sopClass: { system: DICOM_SYSTEMS.sopClass, code: `urn:oid:${i.sopClass}` }, ...(i.number !== undefined ? { number: i.number } : {}) }));
  }
  if (s.modality === WSI_MODALITY || s.specimen || s.container) {
    const ext = specimenExtensions(s, opts, `${where} series ${s.uid}`, warnings);
    if (ext.length) series.extension = ext;
  }
  return series;
}

/**
 * One ImagingStudy per study: identifiers (StudyInstanceUID as urn:oid, accession number typed
 * ACSN), status available, modalities, subject, started, referrer, endpoint, counts, description
 * and series with body site, laterality and instances. Used for Part 10 files and QIDO-RS alike.
 * See: https://hl7.org/fhir/R4/imagingstudy.html
 */
export function addImagingStudy(study: StudyInput, subject: Reference<Patient>, endpoint: Reference<Endpoint> | undefined, entries: EntryCollector, opts: StudyBuildOptions, warnings: string[]): Reference<ImagingStudy> {
  const where = `study ${study.uid}`;
  const key = studyIdentifier(study.uid);
  const identifier: Identifier[] = [key];
  if (study.accession) {
    identifier.push({ type: { coding: [{ system: DICOM_SYSTEMS.v2Table0203, code: 'ACSN' }] }, system: DICOM_SYSTEMS.accession, value: study.accession });
  }
  const series = study.series.map((s) => buildSeries(s, opts, where, warnings)).sort((a, b) => (a.number ?? 0) - (b.number ?? 0));
  const modalities = [...new Set(study.modalities?.length ? study.modalities : study.series.map((s) => s.modality))];
  const is: ImagingStudy = { resourceType: 'ImagingStudy', identifier, status: 'available', subject };
  if (modalities.length) is.modality = modalities.map(modalityCoding);
  if (study.started) is.started = study.started;
  if (study.referrer) {
    const name = personName(study.referrer);
    if (name?.text) is.referrer = { display: name.text };
  }
  if (endpoint) is.endpoint = [endpoint];
  const numberOfSeries = study.numberOfSeries ?? (series.length || undefined);
  if (numberOfSeries !== undefined) is.numberOfSeries = numberOfSeries;
  const numberOfInstances = study.numberOfInstances ?? (series.reduce((n, s) => n + (s.numberOfInstances ?? 0), 0) || undefined);
  if (numberOfInstances !== undefined) is.numberOfInstances = numberOfInstances;
  if (study.description) is.description = study.description;
  if (series.length) is.series = series;
  return entries.add(is, key);
}
