import DataLoader from 'dataloader';
import type { DiagnosticReport, Resource } from '@medplum/fhirtypes';
import type { Repository } from '../../store/repository.ts';
import type { RequestContext } from '../../store/request-context.ts';
import { reportsForStudies } from '../../timeline/lookups.ts';

/**
 * Per-request DataLoaders, so a page of events costs the same number of queries whatever its
 * size: every `resource`/`resources`/`results` field of a page is read in one batch.
 */
export interface Loaders {
  /** "Type/id" -> the current resource, or null when missing or deleted. */
  resource: DataLoader<string, Resource | null>;
  /** "ImagingStudy/id" -> its radiology reports, latest first. */
  studyReports: DataLoader<string, DiagnosticReport[]>;
}

/** Creates the loaders of one request. */
export function createLoaders(repo: Repository, ctx: RequestContext): Loaders {
  return {
    resource: new DataLoader(async (keys) => {
      const found = await repo.readMany(ctx, [...keys]);
      return keys.map((k) => found.get(k) ?? null);
    }, { maxBatchSize: 1000 }),
    studyReports: new DataLoader(async (keys) => {
      const found = await reportsForStudies(repo, ctx, keys);
      return keys.map((k) => found.get(k) ?? []);
    }, { maxBatchSize: 1000 }),
  };
}
