/** URIs, codes and fixed values the document adapters write into FHIR resources. */

/** Version of the document adapters, recorded in Provenance by the pipeline. Bump on any mapping change. */
export const DOCUMENT_ADAPTER_VERSION = 'documents/2.1.0';

/** Identifier and code systems. */
export const DOC_SYSTEMS = {
  /** SHA-256 (hex) of a document's original bytes, kept on every DocumentReference. */
  sha256: 'urn:idr:document:sha256',
  /**
   * DocumentReference identity (the conditional update's key): `<patient scope>/sha256/<hex>` (the
   * same bytes for the same patient are one document), or `<patient scope>/hl7v2/<TXA-12 value>`.
   */
  documentKey: 'urn:idr:document:key',
  /** HL7 v2 TXA-12 unique document number, value `<namespace or MSH-3>/<id>`. */
  hl7v2Document: 'urn:idr:hl7v2:document',
  /**
   * Identity of a resource converted from a C-CDA entry, always scoped by the patient:
   * `<patient scope>/<type>/<entry identifier system>/<value>`, else `<patient scope>/<type>/<entry id>`,
   * else `<patient scope>/<document sha256 prefix>/<type>/<n>`.
   */
  ccdaEntry: 'urn:idr:ccda:entry',
  /** Accession number, shared with the DICOM adapter (ImagingStudy.identifier). */
  accession: 'urn:idr:accession',
  /** StudyInstanceUID as on ImagingStudy: value `urn:oid:<uid>`. */
  dicomUid: 'urn:dicom:uid',
  loinc: 'http://loinc.org',
  v2Table: (table: string): string => `http://terminology.hl7.org/CodeSystem/v2-${table}`,
} as const;

/** Document kinds accepted as `metadata.type`, with their LOINC document type (LOINC Document Ontology). */
export const DOCUMENT_TYPES = {
  referral: { code: '57133-1', display: 'Referral note' },
  discharge: { code: '18842-5', display: 'Discharge summary' },
  consult: { code: '11488-4', display: 'Consult note' },
  mdt: { code: '85232-7', display: 'Tumor board Consult note' },
  pathology: { code: '11526-1', display: 'Pathology study' },
  radiology: { code: '18748-4', display: 'Diagnostic imaging study' },
  progress: { code: '11506-3', display: 'Progress note' },
} as const;

/** A key of DOCUMENT_TYPES. */
export type DocumentKindName = keyof typeof DOCUMENT_TYPES;

/** HL7 v2 table 0270 (TXA-2 document type) -> one of DOCUMENT_TYPES; other values are kept as a v2-0270 coding only. */
export const TXA_DOCUMENT_TYPES: Readonly<Record<string, DocumentKindName>> = {
  CN: 'consult', DI: 'radiology', DS: 'discharge', PR: 'progress', SP: 'pathology', RAD: 'radiology', RR: 'radiology',
};

/**
 * DocumentReference.category: the LOINC document class (R4 value set document-classcodes) of each
 * LOINC document type IDR writes. A document of another type gets no category.
 * See: https://hl7.org/fhir/R4/valueset-document-classcodes.html
 */
export const DOCUMENT_CLASSES: Readonly<Record<string, { code: string; display: string }>> = {
  '57133-1': { code: '57133-1', display: 'Referral note' },
  '18842-5': { code: '18842-5', display: 'Discharge summary' },
  '11488-4': { code: '11488-4', display: 'Consult note' },
  '85232-7': { code: '11488-4', display: 'Consult note' },
  '11526-1': { code: '27898-6', display: 'Pathology studies (set)' },
  '18748-4': { code: '18726-0', display: 'Radiology studies (set)' },
  '11506-3': { code: '11506-3', display: 'Progress note' },
};

/** Content type of the extracted-text attachment (content[1]). */
export const TEXT_CONTENT_TYPE = 'text/plain; charset=utf-8';
