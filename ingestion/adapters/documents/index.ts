/**
 * Document adapters: uploaded letters and reports (PDF, plain text, C-CDA) and HL7 v2 MDM messages
 * in, FHIR R4 transaction Bundle (Patient, DocumentReference, for radiology also DiagnosticReport)
 * out. Pure: no I/O; time and ids come from the context.
 */
export { DOCUMENT_ADAPTER_VERSION, DOC_SYSTEMS, DOCUMENT_TYPES, TXA_DOCUMENT_TYPES, DOCUMENT_CLASSES } from './constants.ts';
export { detectDocumentKind, type DocumentKind } from './detect.ts';
export { pdfToText, type PdfText } from './pdf-text.ts';
export { documentToBundle, type DocumentInput, type DocumentOutput } from './document-to-bundle.ts';
export { documentMetadataSchema, type DocumentMetadata } from './metadata.ts';
export { ccdaToBundle, type CcdaOutput } from './ccda-to-bundle.ts';
export { mdmToBundle, type MdmOptions, type MdmOutput } from './mdm-to-bundle.ts';
