import type { Bundle, BundleEntry, ImagingStudy } from '@medplum/fhirtypes';
import type { Repository } from '../../store/repository.ts';
import type { RequestContext } from '../../store/request-context.ts';
import { mergeImagingStudy } from './merge-study.ts';

/**
 * Replaces each ImagingStudy of a transaction Bundle by its merge with the stored study of the
 * same identifier (see mergeImagingStudy), so a conditional PUT never drops series or instances
 * an earlier batch brought. Lookups go through the identifier index (`_id` equality).
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
    const [stored] = (await repo.searchByQuery(ctx, 'ImagingStudy', query, 1)) as ImagingStudy[];
    entries.push(stored ? { ...entry, resource: mergeImagingStudy(stored, entry.resource as ImagingStudy) } : entry);
  }
  return { ...bundle, entry: entries };
}
