/**
 * The DICOM JSON model (PS3.18 F.2) as QIDO-RS returns it, and small pure readers for it.
 * No network here, so adapters may use these too.
 */

/** One attribute: `{ vr, Value? }` (or BulkDataURI / InlineBinary for binary VRs). */
export interface DicomJsonAttribute {
  vr: string;
  Value?: unknown[];
  BulkDataURI?: string;
  InlineBinary?: string;
}

/** One QIDO-RS result: attributes keyed by 8-hex-digit tag ("0020000D"). */
export type DicomJsonDataset = Record<string, DicomJsonAttribute>;

/** DICOM tags used by the ImagingStudy mapping, as QIDO-RS keys. */
export const Tag = {
  SpecificCharacterSet: '00080005',
  SOPClassUID: '00080016',
  SOPInstanceUID: '00080018',
  StudyDate: '00080020',
  SeriesDate: '00080021',
  StudyTime: '00080030',
  SeriesTime: '00080031',
  AccessionNumber: '00080050',
  InstanceAvailability: '00080056',
  Modality: '00080060',
  ModalitiesInStudy: '00080061',
  ReferringPhysicianName: '00080090',
  TimezoneOffsetFromUTC: '00080201',
  StudyDescription: '00081030',
  SeriesDescription: '0008103E',
  RetrieveURL: '00081190',
  PatientName: '00100010',
  PatientID: '00100020',
  IssuerOfPatientID: '00100021',
  PatientBirthDate: '00100030',
  PatientSex: '00100040',
  BodyPartExamined: '00180015',
  StudyInstanceUID: '0020000D',
  SeriesInstanceUID: '0020000E',
  StudyID: '00200010',
  SeriesNumber: '00200011',
  InstanceNumber: '00200013',
  Laterality: '00200060',
  NumberOfStudyRelatedSeries: '00201206',
  NumberOfStudyRelatedInstances: '00201208',
  NumberOfSeriesRelatedInstances: '00201209',
  PerformedProcedureStepStartDate: '00400244',
  PerformedProcedureStepStartTime: '00400245',
  ContainerIdentifier: '00400512',
  SpecimenDescriptionSequence: '00400560',
  SpecimenIdentifier: '00400551',
} as const;
export type TagName = keyof typeof Tag;

function values(ds: DicomJsonDataset | undefined, tag: string): unknown[] {
  const v = ds?.[tag.toUpperCase()]?.Value;
  return Array.isArray(v) ? v : [];
}

/** The first value of a string-like attribute (trimmed), or undefined when absent/empty. */
export function dicomString(ds: DicomJsonDataset | undefined, tag: string): string | undefined {
  return dicomStrings(ds, tag)[0];
}

/** All values of a multi-valued string attribute (e.g. ModalitiesInStudy), trimmed, empties dropped. */
export function dicomStrings(ds: DicomJsonDataset | undefined, tag: string): string[] {
  const out: string[] = [];
  for (const v of values(ds, tag)) {
    if (typeof v === 'string') {
      const t = v.trim();
      if (t) out.push(t);
    } else if (typeof v === 'number' && Number.isFinite(v)) {
      out.push(String(v));
    } else if (v && typeof v === 'object' && 'Alphabetic' in v && typeof v.Alphabetic === 'string') {
      const t = v.Alphabetic.trim();
      if (t) out.push(t);
    }
  }
  return out;
}

/** The first value of a numeric attribute (IS/DS/US/...: number or numeric string). */
export function dicomNumber(ds: DicomJsonDataset | undefined, tag: string): number | undefined {
  for (const v of values(ds, tag)) {
    const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
    if (Number.isFinite(n)) return n;
  }
  return undefined;
}

/** The Alphabetic form of the first person name (PN), e.g. "DOE^JANE". */
export function dicomPersonName(ds: DicomJsonDataset | undefined, tag: string): string | undefined {
  for (const v of values(ds, tag)) {
    if (v && typeof v === 'object' && 'Alphabetic' in v && typeof v.Alphabetic === 'string' && v.Alphabetic.trim()) {
      return v.Alphabetic.trim();
    }
    if (typeof v === 'string' && v.trim()) return v.trim();
  }
  return undefined;
}

/** The items of a sequence (SQ) attribute. */
export function dicomSequence(ds: DicomJsonDataset | undefined, tag: string): DicomJsonDataset[] {
  return values(ds, tag).filter((v): v is DicomJsonDataset => !!v && typeof v === 'object' && !Array.isArray(v));
}

const TAG_KEY = /^[0-9A-Fa-f]{8}$/;

/**
 * Why `x` is not a DICOM JSON dataset (an object whose keys are 8-hex-digit tags and whose
 * values are objects with a string `vr`), or null when it is one.
 */
export function dicomJsonDatasetProblem(x: unknown): string | null {
  if (!x || typeof x !== 'object' || Array.isArray(x)) return `expected an object, got ${describe(x)}`;
  for (const [key, attr] of Object.entries(x)) {
    if (!TAG_KEY.test(key)) return `key ${JSON.stringify(key.slice(0, 40))} is not a DICOM tag (8 hex digits)`;
    if (!attr || typeof attr !== 'object' || Array.isArray(attr)) return `attribute ${key} is ${describe(attr)}, not an object`;
    const a = attr as { vr?: unknown; Value?: unknown };
    if (typeof a.vr !== 'string') return `attribute ${key} has no string "vr"`;
    if (a.Value !== undefined && !Array.isArray(a.Value)) return `attribute ${key} has a "Value" that is not an array`;
  }
  return null;
}

export function isDicomJsonDataset(x: unknown): x is DicomJsonDataset {
  return dicomJsonDatasetProblem(x) === null;
}

function describe(x: unknown): string {
  if (x === null) return 'null';
  if (Array.isArray(x)) return 'an array';
  return typeof x === 'object' ? 'an object' : `a ${typeof x}`;
}
