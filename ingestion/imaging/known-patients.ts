import type { Bundle, Patient } from '@medplum/fhirtypes';
import type { Repository } from '../../store/repository.ts';
import type { RequestContext } from '../../store/request-context.ts';
import { AdapterError } from '../adapters/types.ts';

/**
 * Refuses a Bundle whose Patient entries match no stored Patient (by any identifier). Imaging
 * and uploaded letters only name the patient (an id in a DICOM header or a form field): IDR
 * files them under a patient it already knows, and keeps the input as failed otherwise, so a
 * typo in a PatientID never creates a phantom patient. `where` names the input field.
 */
export async function requireKnownPatients(repo: Repository, ctx: RequestContext, bundle: Bundle, where: string, hint: string): Promise<void> {
  for (const entry of bundle.entry ?? []) {
    if (entry.resource?.resourceType !== 'Patient') continue;
    const ids = ((entry.resource as Patient).identifier ?? []).filter((i) => i.system && i.value);
    const query = `identifier=${ids.map((i) => `${encodeURIComponent(i.system as string)}|${encodeURIComponent(i.value as string)}`).join(',')}`;
    const found = ids.length ? await repo.searchByQuery(ctx, 'Patient', query, 1) : [];
    if (!found.length) {
      const shown = ids.map((i) => `${i.system}|${i.value}`).join(', ') || '(no identifier)';
      throw new AdapterError(where, `no known patient has identifier ${shown}; ${hint}`);
    }
  }
}
