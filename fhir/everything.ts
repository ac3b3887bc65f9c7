import type { Resource } from '@medplum/fhirtypes';
import type { Repository } from '../store/repository.ts';
import type { RequestContext } from '../store/request-context.ts';
import type { SearchResult } from '../store/repository-search.ts';
import { DEFAULT_COUNT, MAX_COUNT } from '../store/search-to-mongo.ts';
import { resourceOf } from '../schema/collections.ts';
import { guardedDoc, keepVisible } from '../store/access-guard.ts';

/**
 * Patient/$everything: the Patient and every resource in its compartment, one page at a time
 * (the Patient first, then the rest; AuditEvents are left out).
 * The page is read in storage order and the total is given on the last page: ordering or counting
 * the whole compartment on every page means reading all of it each time, so a page of 50 would cost
 * as much as the whole record. A record that fits in one page comes ordered by type and last update.
 * The operation leaves the order to the server. See: https://hl7.org/fhir/R4/patient-operation-everything.html
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
  const found = limit > 0 ? await c.find(filter, { projection: { json: 1, patients: 1, rt: 1, lu: 1 } }).skip(skip).limit(limit + 1).toArray() : [];
  // With no room on the first page (_count=1) there is more exactly when the compartment is not empty.
  const hasMore = limit > 0 ? found.length > limit : (await c.find(filter, { projection: { _id: 1 } }).limit(1).toArray()).length > 0;
  const matched = found.slice(0, limit);
  if (!hasMore && offset === 0) matched.sort((a, b) => (a.rt < b.rt ? -1 : a.rt > b.rt ? 1 : 0) || b.lu.getTime() - a.lu.getTime() || (a._id < b._id ? -1 : 1));
  // Types the caller's scopes do not cover are left out (the position in the list still counts them).
  const visible = await keepVisible(repo.database, ctx, matched, guardedDoc);
  const withheld = matched.length - visible.length;
  const resources: Resource[] = [...(offset === 0 ? [patient] : []), ...visible.map((d) => resourceOf(d) as Resource)];
  // The last page knows how many there are: everything before it, and what it holds.
  const last = !hasMore && (offset === 0 || found.length > 0);
  const total = last ? offset + (offset === 0 ? 1 : 0) + matched.length : undefined;
  return { resources, included: [], ...(withheld || total === undefined ? {} : { total }), hasMore, offset, count, ignored: [], withheld };
}
