import type { Bundle, Patient } from '@medplum/fhirtypes';
import { TextDecoder } from 'node:util';
import { EntryCollector } from '../hl7v2/bundle.ts';
import { DateConverter } from '../hl7v2/dates.ts';
import { AdapterError, type AdapterContext, type AdapterOutput } from '../types.ts';
import { ccdaToBundle } from './ccda-to-bundle.ts';
import { detectDocumentKind, hasPdfHeader, isText } from './detect.ts';
import { buildDocumentReference } from './document-reference.ts';
import { documentType, parseMetadata, type DocumentMetadata } from './metadata.ts';
import { pdfToText, type PdfLimits } from './pdf-text.ts';
import { patientScope } from '../hl7v2/patient-scope.ts';

/** An uploaded document with its metadata (see README for the HTTP form). */
export interface DocumentInput {
  bytes: Uint8Array;
  contentType: string;
  filename?: string;
  /** Validated with zod: patientIdentifier { system, value } (required for PDF and text), type, date, author, custodian, title. */
  metadata: unknown;
  /** Limits of PDF text extraction (default DEFAULT_PDF_LIMITS). */
  pdfLimits?: PdfLimits;
}

/** AdapterOutput plus the extracted text (for the full-text index). */
export interface DocumentOutput extends AdapterOutput {
  text: string;
}

const XML_TYPES = new Set(['application/xml', 'text/xml', 'application/hl7-cda+xml', 'application/cda+xml']);
const utf8 = new TextDecoder('utf-8');
const amsterdam = new DateConverter('Europe/Amsterdam');

/** metadata.date -> FHIR instant (a date alone is midnight, Europe/Amsterdam). */
function instantOf(date: string | undefined): string | undefined {
  if (!date) return undefined;
  if (date.includes('T')) return date;
  return amsterdam.instant(date.replace(/-/g, ''), 'metadata.date');
}

function checkContentType(contentType: string, bytes: Uint8Array): void {
  const found = detectDocumentKind(bytes);
  if (contentType === 'application/pdf' && !hasPdfHeader(bytes)) {
    throw new AdapterError('contentType', `says application/pdf but the file does not start with %PDF- (looks like: ${found})`);
  }
  if ((contentType === 'text/plain' || XML_TYPES.has(contentType)) && !isText(bytes)) {
    throw new AdapterError('contentType', `says ${contentType} but the file is not UTF-8 text (NUL bytes or invalid UTF-8; looks like: ${found})`);
  }
  if (contentType === 'text/plain' && found === 'pdf') throw new AdapterError('contentType', 'says text/plain but the file is a PDF');
}

/**
 * An uploaded letter or report (PDF, plain text or C-CDA XML) plus metadata -> Patient (a C-CDA
 * names its own in recordTarget; PDF and text need metadata.patientIdentifier) and one
 * DocumentReference keyed by the patient scope and the SHA-256 of the bytes.
 * The bytes are described, not inlined; the extracted text is content[1] and is returned as `text`.
 */
export async function documentToBundle(input: DocumentInput, ctx: AdapterContext): Promise<DocumentOutput> {
  if (!input.bytes || input.bytes.length === 0) throw new AdapterError('file', 'empty file');
  const meta = parseMetadata(input.metadata);
  const contentType = (input.contentType ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
  if (contentType.includes('hl7-v2')) {
    throw new AdapterError('contentType', `says ${contentType} (an HL7 v2 MDM message) but the file does not start with an MSH segment (looks like: ${detectDocumentKind(input.bytes)})`);
  }
  if (contentType !== 'application/pdf' && contentType !== 'text/plain' && !XML_TYPES.has(contentType)) {
    throw new AdapterError('contentType', `unsupported content type ${JSON.stringify(input.contentType)}: expected application/pdf, text/plain or application/xml (C-CDA)`);
  }
  checkContentType(contentType, input.bytes);
  if (XML_TYPES.has(contentType)) return ccdaUpload(input, meta, ctx);
  if (!meta.patientIdentifier) {
    throw new AdapterError('metadata.patientIdentifier', 'is required for a PDF or text document, which does not name its patient (patient=<system>|<value>)');
  }

  const warnings: string[] = [];
  let text: string;
  let title = meta.title ?? input.filename;
  let creation = meta.date;
  let author = meta.author;
  if (contentType === 'application/pdf') {
    const pdf = await pdfToText(input.bytes, input.pdfLimits);
    warnings.push(...pdf.warnings);
    text = pdf.text;
    title ??= pdf.title;
    creation ??= pdf.creationDate;
    author ??= pdf.author;
  } else {
    text = utf8.decode(input.bytes).replace(/^\uFEFF/, '');
    if (!text.trim()) throw new AdapterError('file', 'the text file holds only whitespace');
  }
  const type = documentType(meta.type);
  if (!type) warnings.push('metadata.type not given: the document has no type');
  const entries = new EntryCollector(ctx);
  const patientKey = { system: meta.patientIdentifier.system, value: meta.patientIdentifier.value };
  const subject = entries.add<Patient>({ resourceType: 'Patient', identifier: [patientKey] }, patientKey);
  const { resource, key } = buildDocumentReference({
    subject, scope: patientScope(patientKey), bytes: input.bytes, contentType: input.contentType, text,
    ...(type ? { type } : {}), ...(instantOf(meta.date ?? creation) ? { date: instantOf(meta.date ?? creation) as string } : {}),
    ...(creation ? { creation } : {}), ...(author ? { author: [{ display: author }] } : {}),
    ...(meta.custodian ? { custodian: meta.custodian } : {}), ...(title ? { title } : {}),
  });
  entries.add(resource, key);
  const bundle: Bundle = { resourceType: 'Bundle', type: 'transaction', timestamp: ctx.now().toISOString(), entry: entries.entries };
  return { bundle, kind: contentType === 'application/pdf' ? 'PDF document' : 'text document', warnings, text };
}

/**
 * A C-CDA upload: the patient is the document's recordTarget. Metadata may name the patient too
 * (then it must be one of the recordTarget ids: a contradiction is refused, never filed under
 * either patient).
 */
function ccdaUpload(input: DocumentInput, meta: DocumentMetadata, ctx: AdapterContext): DocumentOutput {
  const out = ccdaToBundle(utf8.decode(input.bytes), ctx);
  const ids = out.patientIdentifiers;
  const p = meta.patientIdentifier;
  if (p && !ids.some((i) => i.system === p.system && i.value === p.value)) {
    const found = ids.map((i) => `${i.system}|${i.value}`).join(', ');
    throw new AdapterError('metadata.patientIdentifier', `${p.system}|${p.value} is not a patient id of this C-CDA document (recordTarget ids: ${found})`);
  }
  return { bundle: out.bundle, kind: out.kind, warnings: out.warnings, text: out.text };
}
