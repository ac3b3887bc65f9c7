import type { Attachment, Bundle, CodeableConcept, DiagnosticReport, DocumentReference, Identifier, ImagingStudy, Reference } from '@medplum/fhirtypes';
import { EntryCollector, identifierValue } from '../hl7v2/bundle.ts';
import { IDR_SYSTEMS } from '../hl7v2/constants.ts';
import { coding } from '../hl7v2/codes.ts';
import { DateConverter } from '../hl7v2/dates.ts';
import { parseMessage } from '../hl7v2/parse.ts';
import { mapPatient } from '../hl7v2/patient.ts';
import { performerRefs } from '../hl7v2/performers.ts';
import type { Segment } from '../hl7v2/segment.ts';
import { AdapterError, type AdapterContext, type AdapterOutput } from '../types.ts';
import { DOC_SYSTEMS, TXA_DOCUMENT_TYPES } from './constants.ts';
import { buildDocumentReference, textAttachment } from './document-reference.ts';
import { sha1Base64 } from './hash.ts';
import { patientScope } from '../hl7v2/patient-scope.ts';
import { kindType } from './metadata.ts';

/** Options of the MDM adapter. */
export interface MdmOptions {
  /** TXA-2 document types that are radiology reports (also OBX-3 LOINC 18748-4). */
  radiologyTypes?: string[];
  /** Zone for HL7 times without an offset. */
  defaultTimezone?: string;
}

/** AdapterOutput plus the document text. */
export interface MdmOutput extends AdapterOutput {
  text: string;
}

/** Triggers that carry document content (T02 original, T04 status change, T06 addendum, T08 edit, T10 replacement). */
const WITH_CONTENT = new Set(['T02', 'T04', 'T06', 'T08', 'T10']);
/** DICOM codes (DCM) whose OBX value is a StudyInstanceUID: 113014 "DICOM Study", 110180 "Study Instance UID". */
const STUDY_UID_CODES = new Set(['113014', '110180']);
const RADIOLOGY_LOINC = '18748-4';
const TEXT_TYPES = new Set(['TX', 'FT', 'ST']);
const converters = new Map<string, DateConverter>();

function checkMessageType(msh: Segment): string {
  const type = msh.get(9, 1).toUpperCase();
  const trigger = msh.get(9, 2).toUpperCase();
  const label = trigger ? `${type}^${trigger}` : type || '(empty)';
  if (type !== 'MDM') throw new AdapterError(msh.loc(9), `${label} is not an MDM document message (MDM^T02 expected)`);
  if (!WITH_CONTENT.has(trigger)) throw new AdapterError(msh.loc(9), `${label} is a notification without document content; only MDM^T02, T04, T06, T08 and T10 carry a document`);
  return trigger;
}

/** TXA-17 (HL7 table 0271) and the trigger -> DocumentReference.docStatus. */
function docStatus(txa: Segment, trigger: string): DocumentReference['docStatus'] {
  const s = txa.get(17).toUpperCase();
  const final = s === 'AU' || s === 'LA' || s === '';
  if (!final) return 'preliminary';
  return trigger === 'T08' || trigger === 'T10' ? 'amended' : 'final';
}

/** ED (OBX-5: source ^ type ^ subtype ^ encoding ^ data) -> inline attachment; undefined (with a warning) without data. */
function edAttachment(obx: Segment, warnings: string[]): Attachment | undefined {
  const data = obx.get(5, 5);
  const type = [obx.get(5, 2), obx.get(5, 3)].filter(Boolean).join('/').toLowerCase() || 'application/octet-stream';
  if (!data) {
    warnings.push(`${obx.loc(5)}: ED without data; not mapped`);
    return undefined;
  }
  const encoding = obx.get(5, 4).toUpperCase();
  let bytes: Buffer;
  if (encoding === 'BASE64') {
    if (!/^[A-Za-z0-9+/\s]*={0,2}$/.test(data)) throw new AdapterError(obx.loc(5), 'ED data is not valid Base64');
    bytes = Buffer.from(data, 'base64');
  } else if (encoding === 'HEX') bytes = Buffer.from(data, 'hex');
  else bytes = Buffer.from(data, 'utf8');
  const contentType = type === 'application/pdf' || type.includes('/') ? type : `application/${type}`;
  return { contentType, data: bytes.toString('base64'), size: bytes.length, hash: sha1Base64(bytes), title: obx.get(3, 2) || obx.get(3, 1) || 'Attachment' };
}

function conclusionOf(text: string): string {
  const m = /(?:^|\n)\s*(?:impression|conclusion|conclusie)\s*:?\s*\n?([\s\S]+)$/i.exec(text);
  return (m?.[1] ?? text).trim();
}

/**
 * HL7 v2 MDM^T02 (and T04/T06/T08/T10) -> Patient (PID, as the ORU adapter maps it) and one
 * DocumentReference from TXA (type TXA-2, date TXA-4, author TXA-5, id TXA-12, status TXA-17) with
 * the TX/FT/ST OBX lines as text and ED OBX as attachments. Radiology reports also become a
 * DiagnosticReport (category RAD) carrying the accession number and the StudyInstanceUID.
 */
export function mdmToBundle(raw: string, ctx: AdapterContext, options: MdmOptions = {}): MdmOutput {
  const warnings: string[] = [];
  const { segments, msh } = parseMessage(raw, warnings);
  const trigger = checkMessageType(msh);
  const tz = options.defaultTimezone ?? 'Europe/Amsterdam';
  let dates = converters.get(tz);
  if (!dates) converters.set(tz, (dates = new DateConverter(tz)));
  const pid = segments.find((s) => s.name === 'PID');
  if (!pid) throw new AdapterError('PID', 'PID segment missing');
  const txa = segments.find((s) => s.name === 'TXA');
  if (!txa) throw new AdapterError('TXA', 'TXA segment missing (document metadata)');
  const obr = segments.find((s) => s.name === 'OBR');
  const obxs = segments.filter((s) => s.name === 'OBX');

  const lines: string[] = [];
  const attachments: Attachment[] = [];
  let studyUid: string | undefined;
  let radiologyCode = false;
  for (const obx of obxs) {
    const vt = obx.get(2).toUpperCase();
    if (obx.get(3, 1) === RADIOLOGY_LOINC) radiologyCode = true;
    if (STUDY_UID_CODES.has(obx.get(3, 1))) {
      studyUid = obx.get(5, 1);
      continue;
    }
    if (TEXT_TYPES.has(vt)) lines.push(...obx.texts(5));
    else if (vt === 'ED') {
      const a = edAttachment(obx, warnings);
      if (a) attachments.push(a);
    } else warnings.push(`${obx.label}: value type ${vt || '(empty)'} not mapped`);
  }
  const text = lines.join('\n');
  if (!text.trim() && attachments.length === 0) {
    const why = warnings.length ? ` (${warnings.join('; ')})` : '';
    throw new AdapterError('OBX', `the document has no content: no TX/FT/ST text and no ED data${why}`);
  }

  const entries = new EntryCollector(ctx);
  const { patient, key: patientKey } = mapPatient(pid, ctx, dates);
  const subject = entries.add(patient, patientKey);
  const scope = patientScope(patientKey);
  const docNumber = txa.get(12, 1);
  const identifiers: Identifier[] = docNumber ? [{ system: DOC_SYSTEMS.hl7v2Document, value: identifierValue(txa.get(12, 2) || msh.get(3, 1), docNumber) }] : [];
  const txaType = txa.get(2).toUpperCase();
  const kind = TXA_DOCUMENT_TYPES[txaType];
  const type: CodeableConcept | undefined = kind
    ? { ...kindType(kind), coding: [...(kindType(kind).coding ?? []), { system: DOC_SYSTEMS.v2Table('0270'), code: txaType }] }
    : txaType ? { coding: [{ system: DOC_SYSTEMS.v2Table('0270'), code: txaType }], text: txaType } : undefined;
  const date = dates.instant(txa.get(4), txa.loc(4)) ?? dates.instant(txa.get(6), txa.loc(6)) ?? dates.instant(msh.get(7), msh.loc(7));
  const creation = dates.dateTime(txa.get(6), txa.loc(6)) ?? dates.dateTime(txa.get(4), txa.loc(4));
  const author = performerRefs(txa, 5);
  if (!author.length && txa.get(9)) author.push({ display: txa.get(9) });
  const studyRef: Reference | undefined = studyUid ? { type: 'ImagingStudy', identifier: { system: DOC_SYSTEMS.dicomUid, value: `urn:oid:${studyUid}` } } : undefined;
  const bytes = new TextEncoder().encode(text || attachments.map((a) => a.data).join(''));
  const title = [type?.text ?? type?.coding?.[0]?.display, docNumber].filter(Boolean).join(' ') || 'HL7 v2 document';
  const status = docStatus(txa, trigger);
  // The DocumentReference describes the document text (its hash is the identity); ED content is inline.
  const { resource, key } = buildDocumentReference({
    subject, scope, bytes, contentType: 'text/plain; charset=utf-8', text: '', identifiers, docStatus: status, title,
    ...(identifiers[0] ? { identity: ['hl7v2', identifiers[0].value as string] } : {}),
    ...(type ? { type } : {}), ...(date ? { date } : {}), ...(creation ? { creation } : {}),
    ...(author.length ? { author } : {}), attachments: text ? [textAttachment(text, `${title} (text)`), ...attachments] : attachments,
    ...(studyRef ? { related: [studyRef] } : {}),
  });
  // The document number (TXA-12), else the text's hash, under the patient scope: the key of the
  // DocumentReference and of the radiology DiagnosticReport.
  const docKey = key;
  entries.add(resource, docKey);

  const radiology = radiologyCode || (options.radiologyTypes ?? ['DI', 'RAD', 'RR']).includes(txaType);
  if (radiology) {
    const accession = (obr?.get(18) || obr?.get(3, 1) || txa.get(15, 1)) ?? '';
    const reportIds: Identifier[] = [docKey, ...identifiers];
    if (accession) reportIds.push({ type: { coding: [{ system: DOC_SYSTEMS.v2Table('0203'), code: 'ACSN' }] }, system: DOC_SYSTEMS.accession, value: accession });
    const filler = obr?.get(3, 1);
    if (filler) reportIds.push({ system: IDR_SYSTEMS.fillerOrder, value: identifierValue(obr?.get(3, 2) || msh.get(3, 1), filler) });
    const report: DiagnosticReport = {
      resourceType: 'DiagnosticReport',
      identifier: reportIds,
      status: status === 'preliminary' ? 'preliminary' : status === 'amended' ? 'amended' : 'final',
      category: [{ coding: [{ system: DOC_SYSTEMS.v2Table('0074'), code: 'RAD', display: 'Radiology' }] }],
      code: { coding: [{ system: DOC_SYSTEMS.loinc, code: RADIOLOGY_LOINC, display: 'Diagnostic imaging study' }, ...(obr ? [coding(obr.get(4, 1), obr.get(4, 2), obr.get(4, 3) || 'L')].filter((c) => c !== undefined) : [])], text: obr?.get(4, 2) || 'Diagnostic imaging study' },
      subject,
      presentedForm: text ? [textAttachment(text, title), ...attachments] : attachments,
    };
    const effective = obr ? dates.dateTime(obr.get(7), obr.loc(7)) : undefined;
    if (effective ?? creation) report.effectiveDateTime = (effective ?? creation) as string;
    if (date) report.issued = date;
    if (author.length) report.resultsInterpreter = author as DiagnosticReport['resultsInterpreter'];
    if (text) report.conclusion = conclusionOf(text);
    if (studyRef) report.imagingStudy = [studyRef as Reference<ImagingStudy>];
    else if (!accession) warnings.push('radiology report without accession number or study UID: it cannot be linked to an ImagingStudy');
    entries.add(report, docKey);
  }
  const bundle: Bundle = { resourceType: 'Bundle', type: 'transaction', timestamp: ctx.now().toISOString(), entry: entries.entries };
  return { bundle, kind: `MDM^${trigger}${radiology ? ' radiology' : ''}`, warnings, text };
}
