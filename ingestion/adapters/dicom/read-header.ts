import { TextDecoder } from 'node:util';
import dicomParser, { type DataSet } from 'dicom-parser';
import { AdapterError } from '../types.ts';

/** The header fields of one DICOM instance that the ImagingStudy mapping uses (strings trimmed, absent when empty). */
export interface DicomHeader {
  TransferSyntaxUID?: string;
  SOPClassUID: string;
  SOPInstanceUID: string;
  StudyInstanceUID: string;
  SeriesInstanceUID: string;
  AccessionNumber?: string;
  StudyDate?: string;
  StudyTime?: string;
  SeriesDate?: string;
  SeriesTime?: string;
  /** (0008,0201), e.g. `+0100`: the offset of the dates and times above. */
  TimezoneOffsetFromUTC?: string;
  Modality: string;
  StudyDescription?: string;
  SeriesDescription?: string;
  BodyPartExamined?: string;
  Laterality?: string;
  ImageLaterality?: string;
  PatientID: string;
  IssuerOfPatientID?: string;
  /** DICOM PN, e.g. `Jansen^Anna^M` (alphabetic group only). */
  PatientName?: string;
  PatientBirthDate?: string;
  PatientSex?: string;
  ReferringPhysicianName?: string;
  InstitutionName?: string;
  SeriesNumber?: number;
  InstanceNumber?: number;
  NumberOfFrames?: number;
  /** (0040,0560) SpecimenDescriptionSequence > (0040,0551) SpecimenIdentifier, first item. */
  SpecimenIdentifier?: string;
  /** (0040,0560) > (0040,0562) IssuerOfTheSpecimenIdentifierSequence > (0040,0031) LocalNamespaceEntityID. */
  SpecimenIdentifierIssuer?: string;
  /** (0040,0512) ContainerIdentifier: the slide. */
  ContainerIdentifier?: string;
}

const PIXEL_DATA = 'x7fe00010';
const DEFLATED = '1.2.840.10008.1.2.1.99';
const UID = /^(?:0|[1-9][0-9]*)(?:\.(?:0|[1-9][0-9]*))*$/;
const latin1 = new TextDecoder('latin1');
const utf8 = new TextDecoder('utf-8');

/** `x00100020` -> `(0010,0020)` for error locations. */
function loc(tag: string): string {
  return `(${tag.slice(1, 5).toUpperCase()},${tag.slice(5, 9).toUpperCase()})`;
}

/** Reads one string element, decoded per SpecificCharacterSet (ISO_IR 192 = UTF-8, else Latin-1), trimmed of spaces and NULs. */
function reader(ds: DataSet, decoder: TextDecoder): (tag: string) => string | undefined {
  return (tag) => {
    const el = ds.elements[tag];
    if (!el || el.length === 0 || el.length === 0xffffffff) return undefined;
    const bytes = ds.byteArray.subarray(el.dataOffset, el.dataOffset + el.length);
    // DICOM pads with NUL (UI) or spaces. Trimmed by hand: /[\s\0]+$/ is quadratic on long blank runs.
    const text = trimPadding(decoder.decode(bytes));
    const nul = text.indexOf('\u0000');
    if (nul >= 0) throw new AdapterError(loc(tag), `holds a NUL byte at character ${nul + 1} of the value, inside the text (a corrupt element?)`);
    return text || undefined;
  };
}

/** The text without leading and trailing white space and NULs, in linear time. */
function trimPadding(text: string): string {
  const pad = (c: string | undefined): boolean => c === '\u0000' || (c !== undefined && c.trim() === '');
  let start = 0;
  let end = text.length;
  while (start < end && pad(text[start])) start++;
  while (end > start && pad(text[end - 1])) end--;
  return text.slice(start, end);
}

function integer(text: string | undefined, tag: string, warnings: string[]): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text.split('\\')[0]);
  if (Number.isInteger(n)) return n;
  warnings.push(`${loc(tag)}: expected an integer, got ${JSON.stringify(text)}; ignored`);
  return undefined;
}

/**
 * Parses the header of a DICOM Part 10 file with dicom-parser, stopping at PixelData (7FE0,0010):
 * pixel data is never read or copied. Refuses non-DICOM input and instances without the
 * identifiers the mapping needs. See: https://dicom.nema.org/medical/dicom/current/output/chtml/part10/chapter_7.html
 */
export function readDicomHeader(bytes: Uint8Array, warnings: string[] = []): DicomHeader {
  if (bytes.length < 132 || latin1.decode(bytes.subarray(128, 132)) !== 'DICM') {
    throw new AdapterError('preamble', 'not a DICOM Part 10 file: no "DICM" marker at byte 128');
  }
  let ds: DataSet;
  try {
    ds = dicomParser.parseDicom(bytes, { untilTag: PIXEL_DATA });
  } catch (err) {
    // dicom-parser throws strings as well as Errors.
    const why = err instanceof Error ? err.message : String((err as { exception?: string }).exception ?? err);
    if (why.includes('deflate')) throw new AdapterError('(0002,0010)', 'deflated transfer syntax is not supported');
    // ... and the elements read before the failure, so the message can say where it stopped.
    const read = (err as { dataSet?: DataSet }).dataSet?.elements ?? {};
    const last = Object.keys(read).at(-1);
    const after = last ? ` (the last readable element is ${loc(last)}, its value at byte ${read[last]?.dataOffset})` : '';
    throw new AdapterError('dataset', `not a readable DICOM data set: ${why}${after}`);
  }
  const charset = reader(ds, latin1)('x00080005') ?? '';
  const str = reader(ds, charset.includes('ISO_IR 192') ? utf8 : latin1);
  const transferSyntax = str('x00020010');
  if (transferSyntax === DEFLATED) throw new AdapterError('(0002,0010)', 'deflated transfer syntax is not supported');

  const required = (tag: string, name: string, fallback?: string): string => {
    const v = str(tag) ?? (fallback ? str(fallback) : undefined);
    if (!v) throw new AdapterError(loc(tag), `${name} is missing`);
    return v;
  };
  const uid = (tag: string, name: string, fallback?: string): string => {
    const v = required(tag, name, fallback);
    if (v.length > 64 || !UID.test(v)) throw new AdapterError(loc(tag), `${name} is not a valid UID: ${JSON.stringify(v)}`);
    return v;
  };
  const header: DicomHeader = {
    PatientID: required('x00100020', 'PatientID'),
    StudyInstanceUID: uid('x0020000d', 'StudyInstanceUID'),
    SeriesInstanceUID: uid('x0020000e', 'SeriesInstanceUID'),
    SOPInstanceUID: uid('x00080018', 'SOPInstanceUID', 'x00020003'),
    SOPClassUID: uid('x00080016', 'SOPClassUID', 'x00020002'),
    Modality: required('x00080060', 'Modality'),
  };
  const optional: [keyof DicomHeader, string][] = [
    ['TransferSyntaxUID', 'x00020010'], ['AccessionNumber', 'x00080050'], ['StudyDate', 'x00080020'], ['StudyTime', 'x00080030'],
    ['SeriesDate', 'x00080021'], ['SeriesTime', 'x00080031'], ['TimezoneOffsetFromUTC', 'x00080201'],
    ['StudyDescription', 'x00081030'], ['SeriesDescription', 'x0008103e'], ['BodyPartExamined', 'x00180015'],
    ['Laterality', 'x00200060'], ['ImageLaterality', 'x00200062'], ['IssuerOfPatientID', 'x00100021'],
    ['PatientName', 'x00100010'], ['PatientBirthDate', 'x00100030'], ['PatientSex', 'x00100040'],
    ['ReferringPhysicianName', 'x00080090'], ['InstitutionName', 'x00080080'], ['ContainerIdentifier', 'x00400512'],
  ];
  const out = header as unknown as Record<string, string | number | undefined>;
  for (const [key, tag] of optional) {
    const v = str(tag);
    if (v !== undefined) out[key] = v;
  }
  const numbers: [keyof DicomHeader, string][] = [['SeriesNumber', 'x00200011'], ['InstanceNumber', 'x00200013'], ['NumberOfFrames', 'x00280008']];
  for (const [key, tag] of numbers) {
    const n = integer(str(tag), tag, warnings);
    if (n !== undefined) out[key] = n;
  }
  // Issuer of Patient ID Qualifiers Sequence: its Universal Entity ID (an OID when ISO) names the
  // issuer unambiguously, so it wins over the local name in Issuer of Patient ID (0010,0021).
  const qualifiers = ds.elements.x00100024?.items?.[0]?.dataSet;
  const universal = qualifiers ? reader(qualifiers, latin1)('x00400032') : undefined;
  if (universal) header.IssuerOfPatientID = universal;
  const specimen = ds.elements.x00400560?.items?.[0]?.dataSet;
  if (specimen) {
    const s = reader(specimen, charset.includes('ISO_IR 192') ? utf8 : latin1);
    const id = s('x00400551');
    if (id) header.SpecimenIdentifier = id;
    const issuer = specimen.elements.x00400562?.items?.[0]?.dataSet;
    const ns = issuer ? reader(issuer, latin1)('x00400031') : undefined;
    if (ns) header.SpecimenIdentifierIssuer = ns;
  }
  for (const w of ds.warnings ?? []) warnings.push(`dataset: ${w}`);
  return header;
}
