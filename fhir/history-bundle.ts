import type { Bundle, BundleEntry, BundleLink } from '@medplum/fhirtypes';
import type { HistoryPage } from '../store/repository.ts';
import { fhirUrl } from './request.ts';
import { resourceOf } from '../schema/collections.ts';

/**
 * A history Bundle: newest version first, each entry with the request that produced it and a
 * response status; deletions carry no resource.
 * See: https://hl7.org/fhir/R4/http.html#history
 */
export function historyBundle(baseUrl: string, path: string, query: URLSearchParams, page: HistoryPage, paging: { count: number; offset: number }): Bundle {
  const link = (offset: number): string => {
    const q = new URLSearchParams(query);
    q.set('_count', String(paging.count));
    if (offset > 0) q.set('_offset', String(offset));
    else q.delete('_offset');
    return `${fhirUrl({ baseUrl }, path)}?${q.toString()}`;
  };
  const links: BundleLink[] = [{ relation: 'self', url: link(paging.offset) }];
  if (paging.offset + page.entries.length < page.total) links.push({ relation: 'next', url: link(paging.offset + paging.count) });
  if (paging.offset > 0) links.push({ relation: 'previous', url: link(Math.max(0, paging.offset - paging.count)) });
  const entry: BundleEntry[] = page.entries.map((h) => ({
    fullUrl: fhirUrl({ baseUrl }, `${h.rt}/${h.id}`),
    ...(h.json ? { resource: resourceOf(h) } : {}),
    request: { method: h.method, url: h.method === 'POST' ? h.rt : `${h.rt}/${h.id}` },
    response: { status: h.method === 'POST' ? '201 Created' : h.method === 'DELETE' ? '204 No Content' : '200 OK', etag: `W/"${h.vid}"`, lastModified: h.lu.toISOString() },
  }));
  return { resourceType: 'Bundle', type: 'history', total: page.total, link: links, ...(entry.length ? { entry } : {}) };
}
