import { createHash } from 'node:crypto';

/** SHA-1 as base64: FHIR Attachment.hash. See: https://hl7.org/fhir/R4/datatypes.html#Attachment */
export function sha1Base64(bytes: Uint8Array): string {
  return createHash('sha1').update(bytes).digest('base64');
}

/** SHA-256 as lowercase hex: the document identity. */
export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}
