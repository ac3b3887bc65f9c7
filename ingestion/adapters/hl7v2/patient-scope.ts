import { createHash } from 'node:crypto';
import type { Identifier } from '@medplum/fhirtypes';

/**
 * The patient scope of the identifiers IDR derives from source ids (order numbers, specimen ids,
 * document and entry ids): `p-` and the first 16 hex digits of SHA-256 over `<system>|<value>` of
 * the patient's key identifier. Source systems reuse their ids across patients (a C-CDA entry id,
 * a newborn-screening order number); with the scope in the derived identifier, an input about one
 * patient can never match, update or move a resource of another. A hash, not the patient id
 * itself, so a derived identifier carries no BSN or MRN.
 */
export function patientScope(patientKey: Identifier): string {
  const hash = createHash('sha256').update(`${patientKey.system ?? ''}|${patientKey.value ?? ''}`).digest('hex');
  return `p-${hash.slice(0, 16)}`;
}
