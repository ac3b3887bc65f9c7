import type { Bundle, Reference, Patient } from '@medplum/fhirtypes';
import { EntryCollector } from '../hl7v2/bundle.ts';
import { AdapterError, type AdapterContext, type AdapterOutput } from '../types.ts';
import { dicomDateTime } from './dicom-values.ts';
import { addEndpoint, addImagingStudy, addPatient, type SeriesInput, type StudyInput } from './imaging-study.ts';
import { resolveDicomOptions, type DicomAdapterOptions, type ResolvedDicomOptions } from './options.ts';
import type { DicomHeader } from './read-header.ts';

/** Groups instance headers by study and series, keeping the first value of each study-level attribute. */
function groupStudies(headers: DicomHeader[], opts: ResolvedDicomOptions, warnings: string[]): StudyInput[] {
  const studies = new Map<string, StudyInput>();
  const seriesOf = new Map<string, SeriesInput>();
  const seen = new Set<string>();
  for (const h of headers) {
    const where = `study ${h.StudyInstanceUID}`;
    let study = studies.get(h.StudyInstanceUID);
    if (!study) {
      study = { uid: h.StudyInstanceUID, patient: { id: h.PatientID }, series: [] };
      studies.set(h.StudyInstanceUID, study);
    } else if (study.patient.id !== h.PatientID || (study.patient.issuer ?? '') !== (h.IssuerOfPatientID ?? '')) {
      throw new AdapterError(`instance ${h.SOPInstanceUID} (0010,0020)`, `study ${h.StudyInstanceUID} has instances of two patients (${JSON.stringify(study.patient.id)} and ${JSON.stringify(h.PatientID)})`);
    }
    const p = study.patient;
    p.issuer ??= h.IssuerOfPatientID;
    p.name ??= h.PatientName;
    p.birthDate ??= h.PatientBirthDate;
    p.sex ??= h.PatientSex;
    study.accession ??= h.AccessionNumber;
    study.description ??= h.StudyDescription;
    study.referrer ??= h.ReferringPhysicianName;
    study.started ??= dicomDateTime(h.StudyDate, h.StudyTime, h.TimezoneOffsetFromUTC, opts.defaultTimezone, `${where} (0008,0020)`, warnings);

    let series = seriesOf.get(h.SeriesInstanceUID);
    if (!series) {
      series = { uid: h.SeriesInstanceUID, modality: h.Modality, instances: [] };
      seriesOf.set(h.SeriesInstanceUID, series);
      study.series.push(series);
    } else if (!study.series.includes(series)) {
      throw new AdapterError(`instance ${h.SOPInstanceUID} (0020,000E)`, `series ${h.SeriesInstanceUID} appears in two studies`);
    }
    series.number ??= h.SeriesNumber;
    series.description ??= h.SeriesDescription;
    series.bodyPart ??= h.BodyPartExamined;
    series.laterality ??= h.Laterality ?? h.ImageLaterality;
    series.started ??= dicomDateTime(h.SeriesDate, h.SeriesTime, h.TimezoneOffsetFromUTC, opts.defaultTimezone, `${where} (0008,0021)`, warnings);
    if (h.SpecimenIdentifier && !series.specimen) series.specimen = { id: h.SpecimenIdentifier, ...(h.SpecimenIdentifierIssuer ? { issuer: h.SpecimenIdentifierIssuer } : {}) };
    series.container ??= h.ContainerIdentifier;
    if (seen.has(h.SOPInstanceUID)) {
      warnings.push(`instance ${h.SOPInstanceUID}: given twice; counted once`);
      continue;
    }
    seen.add(h.SOPInstanceUID);
    series.instances.push({ uid: h.SOPInstanceUID, sopClass: h.SOPClassUID, ...(h.InstanceNumber !== undefined ? { number: h.InstanceNumber } : {}) });
  }
  return [...studies.values()];
}

/**
 * DICOM Part 10 instance headers (from readDicomHeader) -> one ImagingStudy per study, one Patient
 * per patient and, with `wadoRsBase`, the WADO-RS Endpoint. Counts are those of the instances given:
 * a batch should hold whole studies (a later batch of the same study replaces the series list).
 */
export function dicomInstancesToBundle(headers: DicomHeader[], ctx: AdapterContext, options?: DicomAdapterOptions): AdapterOutput {
  const opts = resolveDicomOptions(options);
  if (headers.length === 0) throw new AdapterError('instances', 'no DICOM instances given');
  const warnings: string[] = [];
  const studies = groupStudies(headers, opts, warnings);
  const entries = new EntryCollector(ctx);
  const endpoint = opts.wadoRsBase ? addEndpoint(opts.wadoRsBase, entries) : undefined;
  const patients = new Map<string, Reference<Patient>>();
  for (const study of studies) {
    const pkey = `${study.patient.issuer ?? ''}|${study.patient.id}`;
    let subject = patients.get(pkey);
    if (!subject) patients.set(pkey, (subject = addPatient(study.patient, ctx, entries, `study ${study.uid}`, warnings)));
    addImagingStudy(study, subject, endpoint, entries, opts, warnings);
  }
  const bundle: Bundle = { resourceType: 'Bundle', type: 'transaction', timestamp: ctx.now().toISOString(), entry: entries.entries };
  const wsi = studies.some((s) => s.series.some((x) => x.modality === 'SM'));
  return { bundle, kind: `DICOM Part 10${wsi ? ' whole-slide' : ''}`, warnings };
}
