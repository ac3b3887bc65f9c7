import type { Bundle, BundleEntry, DiagnosticReport, Observation, Reference } from '@medplum/fhirtypes';
import type { Repository } from '../store/repository.ts';
import type { WriteScope } from '../store/version-store.ts';
import type { RequestContext } from '../store/request-context.ts';

/**
 * A message carries the results it carries: a correction that re-sends one OBX of an order, or a
 * follow-up that adds a late result, must not withdraw the results the report already had. For
 * every DiagnosticReport entry that updates a stored report (conditional PUT by identifier), the
 * stored `result` references are kept and the message's are added after them.
 * `scope`: lookups a caller has read ahead (a WriteBatch's prefetch), consulted before the store.
 */
export async function mergeReportResults(repo: Repository, ctx: RequestContext, bundle: Bundle, scope?: WriteScope): Promise<Bundle> {
  const entries: BundleEntry[] = [];
  for (const entry of bundle.entry ?? []) {
    const url = entry.request?.url ?? '';
    if (entry.resource?.resourceType !== 'DiagnosticReport' || entry.request?.method !== 'PUT' || !url.startsWith('DiagnosticReport?')) {
      entries.push(entry);
      continue;
    }
    const [stored] = (await repo.searchByQuery(ctx, 'DiagnosticReport', url.slice(url.indexOf('?') + 1), 1, scope)) as DiagnosticReport[];
    const incoming = entry.resource as DiagnosticReport;
    if (!stored?.result?.length) {
      entries.push(entry);
      continue;
    }
    // The message's results point at its own entries (urn:uuid); find which stored results they are.
    const storedKeyOf = new Map<string, string>();
    for (const r of incoming.result ?? []) {
      const target = r.reference ? bundle.entry?.find((e) => e.fullUrl === r.reference) : undefined;
      const turl = target?.request?.url ?? '';
      const type = target?.resource?.resourceType;
      if (!type || !turl.startsWith(`${type}?`)) continue;
      const [match] = await repo.searchByQuery(ctx, type, turl.slice(turl.indexOf('?') + 1), 1, scope);
      if (match?.id) storedKeyOf.set(r.reference as string, `${type}/${match.id}`);
    }
    const replacedBy = new Map([...storedKeyOf].map(([urn, key]) => [key, urn]));
    const result: Reference<Observation>[] = stored.result.map((r) => (r.reference && replacedBy.has(r.reference) ? { ...r, reference: replacedBy.get(r.reference) as string } : r));
    const present = new Set(result.map((r) => r.reference));
    for (const r of incoming.result ?? []) if (!present.has(r.reference)) result.push(r);
    entries.push({ ...entry, resource: { ...incoming, result } });
  }
  return { ...bundle, entry: entries };
}
