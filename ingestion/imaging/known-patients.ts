import type { Bundle, Patient } from '@medplum/fhirtypes';
import type { Repository } from '../../store/repository.ts';
import type { RequestContext } from '../../store/request-context.ts';
import { AdapterError } from '../adapters/types.ts';

/**
 * An input about a patient IDR does not know yet: not a failure. The pipeline holds it as
 * "waiting" for these identifiers ("system|value") and files it once a Patient with one of them
 * is written, by any way in.
 */
export class PatientNotKnownError extends AdapterError {
  readonly identifiers: string[];

  constructor(location: string, identifiers: string[], hint: string) {
    super(location, `no known patient has identifier ${identifiers.join(', ')}; ${hint}`);
    this.name = 'PatientNotKnownError';
    this.identifiers = identifiers;
  }
}

/**
 * Requires every Patient entry of a Bundle to match a stored Patient (by any identifier). Imaging
 * and uploaded letters only name the patient (an id in a DICOM header, a form field): IDR files
 * them under a patient it already knows, and otherwise holds the input until that patient is
 * written (PatientNotKnownError), so a typo in a PatientID never creates a phantom patient. A
 * Patient entry without any identifier is refused outright. `where` names the input field.
 */
export async function requireKnownPatients(repo: Repository, ctx: RequestContext, bundle: Bundle, where: string, hint: string): Promise<void> {
  for (const entry of bundle.entry ?? []) {
    if (entry.resource?.resourceType !== 'Patient') continue;
    const ids = ((entry.resource as Patient).identifier ?? []).filter((i) => i.system && i.value);
    if (!ids.length) throw new AdapterError(where, `no known patient has identifier (no identifier); ${hint}`);
    const query = `identifier=${ids.map((i) => `${encodeURIComponent(escapeValue(i.system as string))}|${encodeURIComponent(escapeValue(i.value as string))}`).join(',')}`;
    const found = await repo.searchByQuery(ctx, 'Patient', query, 1);
    if (!found.length) throw new PatientNotKnownError(where, ids.map((i) => `${i.system}|${i.value}`), hint);
  }
}

/** Escapes the search separators `\` and `,` in a token part. See: https://hl7.org/fhir/R4/search.html#escaping */
function escapeValue(s: string): string {
  return s.replace(/([\\,])/g, '\\$1');
}
