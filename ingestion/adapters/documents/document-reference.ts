import type { Attachment, CodeableConcept, DocumentReference, Identifier, Patient, Reference } from '@medplum/fhirtypes';
import { DOC_SYSTEMS, DOCUMENT_CLASSES, TEXT_CONTENT_TYPE } from './constants.ts';
import { sha1Base64, sha256Hex } from './hash.ts';
import { identifierValue } from '../hl7v2/bundle.ts';

/** What every document path (upload, C-CDA, MDM) knows about one document. */
export interface DocumentFacts {
  subject: Reference<Patient>;
  /** The patient scope (patientScope of the Patient's key identifier): every document identity starts with it. */
  scope: string;
  /** What identifies the document within the patient's record, e.g. ['hl7v2', '<TXA-12 value>']; default ['sha256', '<hex of the bytes>']. */
  identity?: string[];
  /** The original bytes: described (size, hash), never inlined; the pipeline stores them and sets attachment.url. */
  bytes: Uint8Array;
  contentType: string;
  /** Extracted text (empty when there is none). */
  text: string;
  /** Extra identifiers (e.g. the C-CDA id, TXA-12); the SHA-256 identifier is always added. */
  identifiers?: Identifier[];
  type?: CodeableConcept;
  docStatus?: DocumentReference['docStatus'];
  /** FHIR instant. */
  date?: string;
  /** FHIR dateTime of the document's creation (attachment.creation). */
  creation?: string;
  author?: DocumentReference['author'];
  custodian?: string;
  title?: string;
  /** Further content, e.g. ED attachments of an MDM message (inlined: they exist only inside the message). */
  attachments?: Attachment[];
  related?: Reference[];
}

/** The SHA-256 identity of a document's bytes. */
export function contentIdentifier(bytes: Uint8Array): Identifier {
  return { system: DOC_SYSTEMS.sha256, value: sha256Hex(bytes) };
}

/** UTF-8 text as an inline attachment (content type text/plain; charset=utf-8). */
export function textAttachment(text: string, title: string): Attachment {
  const data = Buffer.from(text, 'utf8');
  return { contentType: TEXT_CONTENT_TYPE, data: data.toString('base64'), size: data.length, hash: sha1Base64(data), title };
}

/**
 * One DocumentReference, identified (key) by the patient scope and `identity` (default: the SHA-256
 * of the bytes), so the same document filed for two patients stays two documents: status current, docStatus, type, category (the type's LOINC document class), date, author,
 * custodian, subject; content[0] describes the original (size, SHA-1 hash, title, creation, no
 * data), content[1] carries the extracted text inline. See: https://hl7.org/fhir/R4/documentreference.html
 */
export function buildDocumentReference(f: DocumentFacts): { resource: DocumentReference; key: Identifier } {
  const sha = contentIdentifier(f.bytes);
  const key: Identifier = { system: DOC_SYSTEMS.documentKey, value: identifierValue(f.scope, ...(f.identity ?? ['sha256', sha.value as string])) };
  const original: Attachment = { contentType: f.contentType, size: f.bytes.length, hash: sha1Base64(f.bytes) };
  if (f.title) original.title = f.title;
  if (f.creation) original.creation = f.creation;
  const content: DocumentReference['content'] = [{ attachment: original }];
  if (f.text) content.push({ attachment: textAttachment(f.text, `${f.title ?? 'Document'} (extracted text)`) });
  for (const a of f.attachments ?? []) content.push({ attachment: a });
  const doc: DocumentReference = {
    resourceType: 'DocumentReference',
    identifier: [key, sha, ...(f.identifiers ?? [])],
    status: 'current',
    docStatus: f.docStatus ?? 'final',
    subject: f.subject,
    content,
  };
  if (f.type) doc.type = f.type;
  const docClass = f.type?.coding?.find((c) => c.system === DOC_SYSTEMS.loinc && c.code && DOCUMENT_CLASSES[c.code]);
  if (docClass?.code) doc.category = [{ coding: [{ system: DOC_SYSTEMS.loinc, ...DOCUMENT_CLASSES[docClass.code] }] }];
  if (f.date) doc.date = f.date;
  if (f.author?.length) doc.author = f.author;
  if (f.custodian) doc.custodian = { display: f.custodian };
  if (f.title) doc.description = f.title;
  if (f.related?.length) doc.context = { related: f.related };
  return { resource: doc, key };
}
