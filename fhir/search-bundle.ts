import type { Bundle, BundleEntry, BundleLink, Resource } from '@medplum/fhirtypes';
import type { SearchResult } from '../store/repository-search.ts';
import { subsetResource, type Summary } from './elements.ts';
import { fhirUrl } from './request.ts';

/**
 * Builds a searchset Bundle with self/first/next/previous links that repeat the original query
 * (so a client following them gets the next page of the same search).
 * See: https://hl7.org/fhir/R4/http.html#paging
 */
export function searchsetBundle(options: {
  baseUrl: string;
  path: string;
  query: URLSearchParams;
  result: SearchResult;
  elements?: string[];
  summary?: Summary;
}): Bundle {
  const { baseUrl, path, query, result } = options;
  const link = (offset: number): string => {
    const q = new URLSearchParams(query);
    q.delete('_offset');
    q.set('_count', String(result.count));
    if (offset > 0) q.set('_offset', String(offset));
    return `${fhirUrl({ baseUrl }, path)}?${q.toString()}`;
  };
  const links: BundleLink[] = [{ relation: 'self', url: link(result.offset) }];
  if (result.count > 0) {
    links.push({ relation: 'first', url: link(0) });
    if (result.hasMore) links.push({ relation: 'next', url: link(result.offset + result.count) });
    if (result.offset > 0) links.push({ relation: 'previous', url: link(Math.max(0, result.offset - result.count)) });
  }
  const entry = (r: Resource, mode: 'match' | 'include'): BundleEntry => ({
    fullUrl: fhirUrl({ baseUrl }, `${r.resourceType}/${r.id}`),
    resource: options.elements || options.summary ? subsetResource(r, { ...(options.elements ? { elements: options.elements } : {}), ...(options.summary ? { summary: options.summary } : {}) }) : r,
    search: { mode },
  });
  const bundle: Bundle = {
    resourceType: 'Bundle',
    type: 'searchset',
    ...(result.total !== undefined ? { total: result.total } : {}),
    link: links,
  };
  const entries = [...result.resources.map((r) => entry(r, 'match')), ...result.included.map((r) => entry(r, 'include'))];
  if (entries.length) bundle.entry = entries;
  if (result.ignored.length) {
    bundle.entry = [
      ...(bundle.entry ?? []),
      {
        resource: {
          resourceType: 'OperationOutcome',
          issue: result.ignored.map((p) => ({ severity: 'warning' as const, code: 'not-supported' as const, details: { text: `Search parameter ignored: ${p}` } })),
        },
        search: { mode: 'outcome' },
      },
    ];
  }
  return bundle;
}
