import type { Bundle, BundleEntry, BundleLink } from '@medplum/fhirtypes';
import type { Repository } from '../store/repository.ts';
import type { RequestContext } from '../store/request-context.ts';
import type { TimelineStore } from '../timeline/projection.ts';
import type { Lane } from '../schema/timeline-event.ts';
import { encodeCursor, type TimelineFilter } from '../timeline/query.ts';
import { badRequest } from '@medplum/core';
import { fail } from '../schema/outcomes.ts';

/**
 * Patient/{id}/$timeline: the resources behind the patient's timeline events, newest event first,
 * as a searchset Bundle. Each event's anchor resource is a `match` entry, followed by the
 * resources folded into it (report results, linked radiology report) as `include` entries.
 * Parameters: lane, code (repeated or comma-separated), from, to, _text, _count (default 20,
 * max 200), cursor (from the `next` link: keyset paging, stable while new events arrive).
 */
export async function patientTimeline(
  deps: { repo: Repository; timeline: TimelineStore },
  ctx: RequestContext,
  options: { baseUrl: string; patient: string; query: URLSearchParams },
): Promise<Bundle> {
  const { repo, timeline } = deps;
  const { baseUrl, patient, query } = options;
  await repo.read(ctx, 'Patient', patient);
  const list = (k: string): string[] => query.getAll(k).flatMap((v) => v.split(',')).map((v) => v.trim()).filter(Boolean);
  const date = (k: string): Date | undefined => {
    const v = query.get(k);
    if (v === null) return undefined;
    const d = new Date(v);
    if (!/^\d{4}/.test(v) || Number.isNaN(d.getTime())) fail(badRequest(`${k} must be a date or dateTime, got "${v}"`, k));
    return d;
  };
  const countText = query.get('_count') ?? '20';
  if (!/^\d+$/.test(countText)) fail(badRequest(`_count must be a non-negative integer, got "${countText}"`, '_count'));
  const filter: TimelineFilter = {};
  const lanes = list('lane');
  const codes = list('code');
  const from = date('from');
  const to = date('to');
  if (lanes.length) filter.lanes = lanes as Lane[];
  if (codes.length) filter.codes = codes;
  if (from) filter.from = from;
  if (to) filter.to = to;
  if (query.get('_text')) filter.text = query.get('_text') as string;
  const cursor = query.get('cursor') ?? undefined;
  const page = await timeline.page(ctx, patient, { ...filter, first: Number(countText), ...(cursor ? { after: cursor } : {}) });
  const [resources, total] = await Promise.all([repo.readMany(ctx, page.events.flatMap((e) => e.refs)), timeline.count(ctx, patient, filter)]);

  const entries: BundleEntry[] = [];
  const seen = new Set<string>();
  for (const e of page.events) {
    for (const [i, key] of e.refs.entries()) {
      const r = resources.get(key);
      if (!r || seen.has(key)) continue;
      seen.add(key);
      entries.push({ fullUrl: `${baseUrl}/${key}`, resource: r, search: { mode: i === 0 ? 'match' : 'include' } });
    }
  }
  const link = (after?: string): string => {
    const q = new URLSearchParams(query);
    q.delete('cursor');
    if (after) q.set('cursor', after);
    return `${baseUrl}/Patient/${patient}/$timeline${q.size ? `?${q.toString()}` : ''}`;
  };
  const links: BundleLink[] = [{ relation: 'self', url: link(cursor) }, { relation: 'first', url: link() }];
  const last = page.events.at(-1);
  if (page.hasNextPage && last) links.push({ relation: 'next', url: link(encodeCursor(last)) });
  return { resourceType: 'Bundle', type: 'searchset', total, link: links, ...(entries.length ? { entry: entries } : {}) };
}
