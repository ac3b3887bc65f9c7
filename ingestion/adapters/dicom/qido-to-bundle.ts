import type { Bundle, Patient, Reference } from '@medplum/fhirtypes';
import { EntryCollector } from '../hl7v2/bundle.ts';
import { AdapterError, type AdapterContext, type AdapterOutput } from '../types.ts';
import { dicomDateTime } from './dicom-values.ts';
import { addEndpoint, addImagingStudy, addPatient, type SeriesInput, type StudyInput } from './imaging-study.ts';
import { resolveDicomOptions, type DicomAdapterOptions } from './options.ts';
import { parseDicomJson, qidoSeriesSchema, qidoStudySchema, type QidoSeries, type QidoStudy } from './qido-json.ts';

/**
 * QIDO-RS study and series results (DICOM JSON, PS3.18) -> the same ImagingStudy mapping as Part 10
 * files, plus the WADO-RS Endpoint. `seriesByStudy` is keyed by StudyInstanceUID; a study without
 * series results keeps its study-level counts. Malformed JSON is refused naming the tag.
 * See: https://dicom.nema.org/medical/dicom/current/output/chtml/part18/sect_10.6.html
 */
export function qidoStudiesToBundle(studies: QidoStudy[], seriesByStudy: Record<string, QidoSeries[]>, ctx: AdapterContext, options: DicomAdapterOptions & { wadoRsBase: string }): AdapterOutput {
  const opts = resolveDicomOptions(options);
  if (!opts.wadoRsBase) throw new AdapterError('options.wadoRsBase', 'the WADO-RS base URL is required for QIDO-RS imports');
  if (!Array.isArray(studies)) throw new AdapterError('studies', 'expected a JSON array of QIDO-RS study objects');
  const warnings: string[] = [];
  const entries = new EntryCollector(ctx);
  const endpoint = addEndpoint(opts.wadoRsBase, entries);
  const patients = new Map<string, Reference<Patient>>();
  studies.forEach((raw, i) => {
    const j = parseDicomJson(qidoStudySchema, raw, `studies[${i}]`);
    const uid = j.str('0020000D') as string;
    const where = `study ${uid}`;
    const rawSeries = seriesByStudy[uid] ?? [];
    if (!Array.isArray(rawSeries)) throw new AdapterError(`series[${uid}]`, 'expected a JSON array of QIDO-RS series objects');
    const series: SeriesInput[] = rawSeries.map((r, k) => {
      const s = parseDicomJson(qidoSeriesSchema, r, `series[${uid}][${k}]`);
      const out: SeriesInput = { uid: s.str('0020000E') as string, modality: s.str('00080060') as string, instances: [] };
      const number = s.int('00200011');
      if (number !== undefined) out.number = number;
      const description = s.str('0008103E');
      if (description) out.description = description;
      const bodyPart = s.str('00180015');
      if (bodyPart) out.bodyPart = bodyPart;
      const laterality = s.str('00200060');
      if (laterality) out.laterality = laterality;
      const count = s.int('00201209');
      if (count !== undefined) out.numberOfInstances = count;
      const started = dicomDateTime(s.str('00080021'), s.str('00080031'), j.str('00080201'), opts.defaultTimezone, `${where} series ${out.uid} (0008,0021)`, warnings);
      if (started) out.started = started;
      return out;
    });
    const study: StudyInput = { uid, patient: { id: j.str('00100020') as string }, series };
    const p = study.patient;
    const issuer = j.str('00100021');
    if (issuer) p.issuer = issuer;
    const name = j.name('00100010');
    if (name) p.name = name;
    const birthDate = j.str('00100030');
    if (birthDate) p.birthDate = birthDate;
    const sex = j.str('00100040');
    if (sex) p.sex = sex;
    const accession = j.str('00080050');
    if (accession) study.accession = accession;
    const started = dicomDateTime(j.str('00080020'), j.str('00080030'), j.str('00080201'), opts.defaultTimezone, `${where} (0008,0020)`, warnings);
    if (started) study.started = started;
    const description = j.str('00081030');
    if (description) study.description = description;
    const referrer = j.name('00080090');
    if (referrer) study.referrer = referrer;
    const modalities = j.all('00080061');
    if (modalities.length) study.modalities = modalities;
    const nSeries = j.int('00201206');
    if (nSeries !== undefined) study.numberOfSeries = nSeries;
    const nInstances = j.int('00201208');
    if (nInstances !== undefined) study.numberOfInstances = nInstances;
    if (series.length && nSeries !== undefined && nSeries !== series.length) {
      warnings.push(`${where}: NumberOfStudyRelatedSeries is ${nSeries} but ${series.length} series were returned`);
    }
    const pkey = `${p.issuer ?? ''}|${p.id}`;
    let subject = patients.get(pkey);
    if (!subject) patients.set(pkey, (subject = addPatient(p, ctx, entries, `studies[${i}]`, warnings)));
    addImagingStudy(study, subject, endpoint, entries, opts, warnings);
  });
  const bundle: Bundle = { resourceType: 'Bundle', type: 'transaction', timestamp: ctx.now().toISOString(), entry: entries.entries };
  return { bundle, kind: 'DICOMweb QIDO-RS', warnings };
}
