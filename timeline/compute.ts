import type { Provenance, Resource } from '@medplum/fhirtypes';
import type { Database } from '../store/db.ts';
import { buildTimelineEvents, compareEvents, EVENT_TYPES, type BuiltEvent } from './map.ts';
import { decodeCursor, isAfterCursor, matchesTimelineFilter, validateTimelineRequest, type TimelinePageRequest } from './query.ts';
import { resourceOf } from '../schema/collections.ts';

/**
 * Compute-on-read: derive a patient's timeline from the resources at request time (no timeline
 * collection). Kept for the benchmark that decided against it (docs/timeline.md) and as a
 * reference that the materialised timeline must equal.
 */
export async function computeTimelinePage(database: Database, patient: string, req: TimelinePageRequest): Promise<{ events: BuiltEvent[]; hasNextPage: boolean; totalCount: number }> {
  validateTimelineRequest(req);
  const docs = await database.c.resources
    .find({ patients: patient, deleted: false, rt: { $in: [...EVENT_TYPES, 'Provenance'] } }, { projection: { json: 1, rt: 1 } })
    .toArray();
  const resources = docs.filter((d) => d.rt !== 'Provenance').map((d) => resourceOf(d) as Resource);
  const provenance = docs.filter((d) => d.rt === 'Provenance').map((d) => resourceOf<Provenance>(d) as Provenance);
  const cursor = req.after ? decodeCursor(req.after) : undefined;
  const matching = buildTimelineEvents(resources, provenance).filter((e) => matchesTimelineFilter(e, req)).sort(compareEvents);
  const after = cursor ? matching.filter((e) => isAfterCursor(e, cursor)) : matching;
  return { events: after.slice(0, req.first), hasNextPage: after.length > req.first, totalCount: matching.length };
}
