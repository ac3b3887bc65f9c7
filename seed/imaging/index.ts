/**
 * Synthetic imaging for the seed patients, as DICOM Part 10 files (headers plus a token pixel
 * element): mammography and breast MRI for breast cancer, CT thorax/abdomen and MRI for
 * colorectal cancer, and a whole-slide image (SM) for every pathology specimen, carrying the
 * same specimen id (SPM-2) and accession (filler order number) as the pathology report.
 * Deterministic: fixed UIDs and dates from the patient's pathway.
 */
import { writeDicomPart10 } from '../../ingestion/adapters/dicom/testing/write-dicom.ts';
import { sampleInstance } from '../../ingestion/adapters/dicom/testing/sample-instances.ts';
import { ASSIGNING_AUTHORITIES, pathologyReports, type SeedPatient } from '../hl7v2/index.ts';

/** UID root of the seed's studies (`<root>.<patient>.<study>.<series>.<instance>`). */
export const SEED_UID_ROOT = '1.2.826.0.1.3680043.10.5432';

/** One generated file. */
export interface SeedDicomFile {
  name: string;
  bytes: Uint8Array;
}

/** One study the seed writes (also used by seed/letters for the radiology report). */
export interface SeedStudy {
  patient: SeedPatient;
  uid: string;
  accession: string;
  /** YYYYMMDD */
  date: string;
  modality: 'MG' | 'MR' | 'CT' | 'SM';
  description: string;
  series: { description: string; bodyPart: string; laterality?: string; instances: number }[];
  specimen?: { id: string; issuer: string };
}

const compact = (iso: string): string => iso.slice(0, 10).replace(/-/g, '');
function daysBefore(iso: string, days: number): string {
  const d = new Date(`${iso.slice(0, 10)}T12:00:00Z`);
  d.setUTCDate(d.getUTCDate() - days);
  return d.toISOString().slice(0, 10);
}

/** The studies of one patient. */
export function seedStudies(patient: SeedPatient): SeedStudy[] {
  const uid = (n: number): string => `${SEED_UID_ROOT}.${patient.index + 1}.${n}`;
  const acc = (n: number): string => `RAD25-${String((patient.index + 1) * 100 + n).padStart(5, '0')}`;
  const { biopsy } = patient.pathway;
  const studies: SeedStudy[] = [];
  if (patient.tumour.kind === 'breast') {
    const side = patient.tumour.laterality === 'left' ? 'L' : 'R';
    studies.push({ patient, uid: uid(1), accession: acc(1), date: compact(daysBefore(biopsy, 8)), modality: 'MG', description: 'Mammografie bilateraal', series: [{ description: 'R CC', bodyPart: 'BREAST', laterality: 'R', instances: 1 }, { description: 'L CC', bodyPart: 'BREAST', laterality: 'L', instances: 1 }] });
    studies.push({ patient, uid: uid(2), accession: acc(2), date: compact(daysBefore(biopsy, -6)), modality: 'MR', description: 'MRI mammae met contrast', series: [{ description: `T1 dyn ${side}`, bodyPart: 'BREAST', laterality: side, instances: 2 }] });
    studies.push({ patient, uid: uid(3), accession: acc(3), date: compact(daysBefore(biopsy, -9)), modality: 'CT', description: 'CT thorax-abdomen (stadiëring)', series: [{ description: 'Thorax 1.0 mm', bodyPart: 'CHEST', instances: 2 }, { description: 'Abdomen 3.0 mm', bodyPart: 'ABDOMEN', instances: 1 }] });
  } else {
    studies.push({ patient, uid: uid(1), accession: acc(1), date: compact(daysBefore(biopsy, -5)), modality: 'CT', description: 'CT thorax-abdomen met contrast', series: [{ description: 'Thorax 1.0 mm', bodyPart: 'CHEST', instances: 2 }, { description: 'Abdomen 3.0 mm', bodyPart: 'ABDOMEN', instances: 2 }] });
    studies.push({ patient, uid: uid(2), accession: acc(2), date: compact(daysBefore(biopsy, -8)), modality: 'MR', description: 'MRI lever', series: [{ description: 'T2 axiaal', bodyPart: 'ABDOMEN', instances: 2 }] });
  }
  pathologyReports(patient).forEach((report, i) => {
    const taken = new Date(Number(report.collectedAt)).toISOString();
    studies.push({ patient, uid: uid(10 + i), accession: report.filler, date: compact(daysBefore(taken, -2)), modality: 'SM', description: `Whole-slide image H&E ${report.filler}-A`, series: [{ description: 'H&E 40x', bodyPart: patient.tumour.kind === 'breast' ? 'BREAST' : 'COLON', instances: 1 }], specimen: { id: `${report.filler}-A`, issuer: 'UMCX_PA' } });
  });
  return studies;
}

/** The Part 10 files of one study, one per instance. */
export function studyFiles(study: SeedStudy): SeedDicomFile[] {
  const p = study.patient;
  const files: SeedDicomFile[] = [];
  study.series.forEach((s, si) => {
    for (let n = 1; n <= s.instances; n++) {
      const seriesUid = `${study.uid}.${si + 1}`;
      const elements = sampleInstance({
        patientId: p.bsn,
        issuer: ASSIGNING_AUTHORITIES.bsn,
        patientName: `${p.name.family}^${p.name.given}`,
        studyUid: study.uid,
        seriesUid,
        sopUid: `${seriesUid}.${n}`,
        modality: study.modality,
        accession: study.accession,
        studyDate: study.date,
        studyTime: '101500',
        seriesNumber: si + 1,
        instanceNumber: n,
        studyDescription: study.description,
        seriesDescription: s.description,
        bodyPart: s.bodyPart,
        ...(s.laterality ? { laterality: s.laterality } : {}),
        ...(study.specimen ? { specimenId: study.specimen.id, specimenIssuer: study.specimen.issuer, containerId: `${study.specimen.id}-1` } : {}),
      });
      // the patient's own birth date and sex (the sample header has fixed ones)
      const bytes = writeDicomPart10(elements.map((e) => (e.tag === '00100030' ? { ...e, value: compact(p.birthDate) } : e.tag === '00100040' ? { ...e, value: p.sex } : e)));
      files.push({ name: `${p.key}-${study.modality.toLowerCase()}-${study.date}-s${si + 1}-i${n}.dcm`, bytes });
    }
  });
  return files;
}

/** Every seed DICOM file of the given patients. */
export function seedDicomFiles(patients: SeedPatient[]): SeedDicomFile[] {
  return patients.flatMap((p) => seedStudies(p).flatMap(studyFiles));
}
