import type { CodeableConcept } from '@medplum/fhirtypes';
import { z } from 'zod';
import { AdapterError } from '../types.ts';
import { DOC_SYSTEMS, DOCUMENT_TYPES, type DocumentKindName } from './constants.ts';

const FHIR_DATE_TIME = /^\d{4}(-(0[1-9]|1[0-2])(-(0[1-9]|[12]\d|3[01])(T([01]\d|2[0-3]):[0-5]\d:([0-5]\d|60)(\.\d{1,9})?(Z|[+-]((0\d|1[0-3]):[0-5]\d|14:00)))?)?)?$/;
const LOINC_CODE = /^\d{1,7}-\d$/;

/** A FHIR date or dateTime that is also a real calendar date (no 31 February). */
function isRealDate(value: string): boolean {
  if (!FHIR_DATE_TIME.test(value)) return false;
  if (value.length < 10) return true;
  const [y, m, d] = value.slice(0, 10).split('-').map(Number) as [number, number, number];
  return d <= new Date(Date.UTC(y, m, 0)).getUTCDate();
}

/** Metadata that comes with an uploaded document (HTTP form fields or CLI flags). */
export const documentMetadataSchema = z.object({
  /** Required for PDF and text (they do not name their patient); for C-CDA and MDM, which do, it must agree with the document. */
  patientIdentifier: z.object({ system: z.string().trim().min(1, 'is required'), value: z.string().trim().min(1, 'is required').refine((v) => !/[|,]/.test(v), 'must not contain "|" or ","') }, { error: 'must be { system, value }' }).optional(),
  /** A LOINC document type code, or one of referral, discharge, consult, mdt, pathology, radiology, progress. */
  type: z.string().trim().refine((t) => t in DOCUMENT_TYPES || LOINC_CODE.test(t), `must be a LOINC code or one of ${Object.keys(DOCUMENT_TYPES).join(', ')}`).optional(),
  /** When the document was written: FHIR date or dateTime with offset. */
  date: z.string().trim().refine(isRealDate, 'must be a FHIR date (YYYY-MM-DD) or dateTime with offset (YYYY-MM-DDThh:mm:ss+01:00)').optional(),
  author: z.string().trim().min(1).optional(),
  custodian: z.string().trim().min(1).optional(),
  title: z.string().trim().min(1).optional(),
});

/** Validated document metadata. */
export type DocumentMetadata = z.output<typeof documentMetadataSchema>;

/** Validates metadata; the first problem is an AdapterError at `metadata.<field>`. */
export function parseMetadata(input: unknown): DocumentMetadata {
  checkPlainText(input);
  const parsed = documentMetadataSchema.safeParse(input ?? {});
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const field = String(issue?.path[0] ?? '');
  const sub = issue && issue.path.length > 1 ? `${issue.path.slice(1).join('.')} ` : '';
  throw new AdapterError(field ? `metadata.${field}` : 'metadata', `${sub}${issue?.message ?? 'invalid'}`);
}

// Control characters (tab excepted) and U+FFFD, which the inbox stores in place of NUL.
// eslint-disable-next-line no-control-regex -- finding control characters is the point
const NOT_PLAIN = /[\u0000-\u0008\u000a-\u001f\u007f\ufffd]/;

/** Refuses a metadata value (or a patientIdentifier part) holding a control character. */
function checkPlainText(input: unknown): void {
  if (!input || typeof input !== 'object') return;
  for (const [field, value] of Object.entries(input)) {
    const parts: [string, unknown][] = value && typeof value === 'object' ? Object.entries(value).map(([k, v]) => [`${field}.${k}`, v]) : [[field, value]];
    for (const [where, v] of parts) {
      const bad = typeof v === 'string' ? NOT_PLAIN.exec(v) : null;
      if (bad) throw new AdapterError(`metadata.${where}`, `contains the control character U+${(bad[0].codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0')} at character ${bad.index + 1}; metadata must be plain text`);
    }
  }
}

/** `metadata.type` -> LOINC CodeableConcept (display from the known list when it is one of ours). */
export function documentType(type: string | undefined): CodeableConcept | undefined {
  if (!type) return undefined;
  const known = (DOCUMENT_TYPES as Record<string, { code: string; display: string }>)[type] ?? Object.values(DOCUMENT_TYPES).find((t) => t.code === type);
  if (known) return { coding: [{ system: DOC_SYSTEMS.loinc, code: known.code, display: known.display }], text: known.display };
  return { coding: [{ system: DOC_SYSTEMS.loinc, code: type }] };
}

/** The LOINC coding of a known document kind. */
export function kindType(kind: DocumentKindName): CodeableConcept {
  return documentType(kind) as CodeableConcept;
}
