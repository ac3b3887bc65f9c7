import type { Resource } from '@medplum/fhirtypes';
import type { Repository } from '../store/repository.ts';
import type { RequestContext } from '../store/request-context.ts';
import type { SearchResult } from '../store/repository-search.ts';
import { DEFAULT_COUNT, MAX_COUNT } from '../store/search-to-mongo.ts';
import { resourceOf } from '../schema/collections.ts';
import { guardedDoc, keepVisible } from '../store/access-guard.ts';

/**
 * Patient/$everything: the Patient and every resource in its compartment, one page at a time
 * (the Patient first, then the rest ordered by type and last update; AuditEvents are left out).
 * See: https://hl7.org/fhir/R4/patient-operation-everything.html
 */
export async function patientEverything(repo: Repository, ctx: RequestContext, id: string, page: { count?: number; offset?: number; since?: Date }): Promise<SearchResult> {
  const patient = await repo.read(ctx, 'Patient', id);
  const count = Math.min(Math.max(page.count ?? DEFAULT_COUNT, 1), MAX_COUNT);
  const offset = Math.max(page.offset ?? 0, 0);
  // The access audit is about the record, not part of it: its AuditEvents are searched for, never bundled here.
  const filter: Record<string, unknown> = { patients: id, deleted: false, rt: { $nin: ['Patient', 'AuditEvent'] } };
  if (page.since) filter.lu = { $gte: page.since };
  const c = repo.database.c.resources;
  // The Patient occupies position 0 of the overall list.
  const skip = Math.max(offset - 1, 0);
  const limit = offset === 0 ? count - 1 : count;
  const [docs, others] = await Promise.all([
    limit > 0 ? c.find(filter, { projection: { json: 1, patients: 1 } }).sort({ rt: 1, lu: -1, _id: 1 }).skip(skip).limit(limit + 1).toArray() : Promise.resolve([]),
    c.countDocuments(filter),
  ]);
  const matched = docs.slice(0, limit);
  // Types the caller's scopes do not cover are left out (the position in the list still counts them).
  const visible = await keepVisible(repo.database, ctx, matched, guardedDoc);
  const withheld = matched.length - visible.length;
  const resources: Resource[] = [...(offset === 0 ? [patient] : []), ...visible.map((d) => resourceOf(d) as Resource)];
  const hasMore = offset + (offset === 0 ? 1 : 0) + matched.length < others + 1;
  return { resources, included: [], ...(withheld ? {} : { total: others + 1 }), hasMore, offset, count, ignored: [], withheld };
}
