import type { Resource } from '@medplum/fhirtypes';
import type { Repository } from '../store/repository.ts';
import type { RequestContext } from '../store/request-context.ts';
import type { SearchResult } from '../store/repository-search.ts';
import { DEFAULT_COUNT, MAX_COUNT } from '../store/search-to-mongo.ts';
import { resourceOf } from '../schema/collections.ts';

/**
 * Patient/$everything: the Patient and every resource in its compartment, one page at a time
 * (the Patient first, then the rest ordered by type and last update).
 * See: https://hl7.org/fhir/R4/patient-operation-everything.html
 */
export async function patientEverything(repo: Repository, ctx: RequestContext, id: string, page: { count?: number; offset?: number; since?: Date }): Promise<SearchResult> {
  const patient = await repo.read(ctx, 'Patient', id);
  const count = Math.min(Math.max(page.count ?? DEFAULT_COUNT, 1), MAX_COUNT);
  const offset = Math.max(page.offset ?? 0, 0);
  const filter: Record<string, unknown> = { patients: id, deleted: false, rt: { $ne: 'Patient' } };
  if (page.since) filter.lu = { $gte: page.since };
  const c = repo.database.c.resources;
  // The Patient occupies position 0 of the overall list.
  const skip = Math.max(offset - 1, 0);
  const limit = offset === 0 ? count - 1 : count;
  const [docs, others] = await Promise.all([
    limit > 0 ? c.find(filter, { projection: { json: 1 } }).sort({ rt: 1, lu: -1, _id: 1 }).skip(skip).limit(limit + 1).toArray() : Promise.resolve([]),
    c.countDocuments(filter),
  ]);
  const resources: Resource[] = [...(offset === 0 ? [patient] : []), ...docs.slice(0, limit).map((d) => resourceOf(d) as Resource)];
  const hasMore = offset + resources.length < others + 1;
  return { resources, included: [], total: others + 1, hasMore, offset, count, ignored: [] };
}
