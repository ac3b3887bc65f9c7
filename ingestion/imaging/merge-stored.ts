import type { Bundle, BundleEntry, ImagingStudy, Patient } from '@medplum/fhirtypes';
import type { Repository } from '../../store/repository.ts';
import type { RequestContext } from '../../store/request-context.ts';
import { AdapterError } from '../adapters/types.ts';
import { mergeImagingStudy } from './merge-study.ts';

/**
 * Replaces each ImagingStudy of a transaction Bundle by its merge with the stored study of the
 * same identifier (see mergeImagingStudy), so a conditional PUT never drops series or instances
 * an earlier batch brought. A StudyInstanceUID is globally unique, so the study is identified by
 * it alone; but a study never moves from one patient to another: when the stored study belongs
 * to a patient the input's patient does not match, the input is refused.
 * Lookups go through the identifier index (`_id` equality).
 * Not atomic with the write: two batches of one study processed at the same moment can race; the
 * CLI and the seed send a folder one file at a time.
 */
export async function mergeWithStoredStudies(repo: Repository, ctx: RequestContext, bundle: Bundle): Promise<Bundle> {
  const entries: BundleEntry[] = [];
  for (const entry of bundle.entry ?? []) {
    const query = entry.request?.url?.split('?')[1];
    if (entry.resource?.resourceType !== 'ImagingStudy' || !query) {
      entries.push(entry);
      continue;
    }
    const incoming = entry.resource as ImagingStudy;
    const [stored] = (await repo.searchByQuery(ctx, 'ImagingStudy', query, 1)) as ImagingStudy[];
    if (stored) await refuseOtherPatient(repo, ctx, bundle, stored, incoming);
    entries.push(stored ? { ...entry, resource: mergeImagingStudy(stored, incoming) } : entry);
  }
  return { ...bundle, entry: entries };
}

/** Throws when the stored study's subject is not one of the stored Patients the incoming study's patient matches. */
async function refuseOtherPatient(repo: Repository, ctx: RequestContext, bundle: Bundle, stored: ImagingStudy, incoming: ImagingStudy): Promise<void> {
  const owner = stored.subject?.reference;
  if (!owner) return;
  const patient = bundle.entry?.find((e) => e.fullUrl === incoming.subject?.reference)?.resource as Patient | undefined;
  const ids = (patient?.identifier ?? []).filter((i) => i.system && i.value);
  const query = `identifier=${ids.map((i) => `${encodeURIComponent(i.system as string)}|${encodeURIComponent(i.value as string)}`).join(',')}`;
  const matches = ids.length ? await repo.searchByQuery(ctx, 'Patient', query, 10) : [];
  if (matches.some((m) => `Patient/${m.id}` === owner)) return;
  const uid = stored.identifier?.find((i) => i.value?.startsWith('urn:oid:'))?.value ?? stored.identifier?.[0]?.value ?? '';
  const shown = ids.map((i) => `${i.system}|${i.value}`).join(', ') || '(no identifier)';
  throw new AdapterError('(0020,000D)', `study ${uid} is already filed under ${owner}, not under the patient of this input (${shown}); a study never moves between patients — check PatientID (0010,0020) and IssuerOfPatientID (0010,0021) at the source, or correct the stored study first`);
}
