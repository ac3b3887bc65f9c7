import type { Filter } from 'mongodb';
import { LANES, timelineDocId, type Lane, type TimelineDoc, type TimelineEvent } from '../schema/timeline-event.ts';
import { normalizeString } from '../schema/search-index.ts';
import { badRequest } from '@medplum/core';
import { fail } from '../schema/outcomes.ts';

/**
 * Timeline filters, keyset cursors and their translation to a MongoDB filter (materialised) or a
 * predicate (compute-on-read). Order: time descending, then anchor descending; a cursor is the
 * (time, anchor) of the last event seen, so events added while paging neither repeat nor shift.
 */

export interface TimelineFilter {
  lanes?: Lane[];
  from?: Date;
  to?: Date;
  /** "code" or "system|code" of the event or any of its members. */
  codes?: string[];
  text?: string;
}

export interface TimelinePageRequest extends TimelineFilter {
  first: number;
  after?: string;
}

export interface Cursor {
  time: Date;
  anchor: string;
}

export const MAX_PAGE = 200;
const LANE_SET = new Set<string>(Object.values(LANES));

/** Encodes a cursor as opaque base64url text. */
export function encodeCursor(e: Pick<TimelineEvent, 'time' | 'anchor'>): string {
  return Buffer.from(JSON.stringify([e.time.getTime(), e.anchor]), 'utf8').toString('base64url');
}

/** Decodes a cursor; a malformed one is a 400 naming the parameter. */
export function decodeCursor(cursor: string, param = 'after'): Cursor {
  try {
    const v = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown;
    if (Array.isArray(v) && v.length === 2 && Number.isFinite(v[0]) && typeof v[1] === 'string' && /^[A-Z][A-Za-z]+\/[A-Za-z0-9\-.]{1,64}$/.test(v[1])) {
      return { time: new Date(v[0] as number), anchor: v[1] };
    }
  } catch {
    // fall through
  }
  return fail(badRequest(`${param}: not a cursor returned by this timeline`, param));
}

/** Checks lanes, date order and page size; throws a 400 OperationOutcome naming the input. */
export function validateTimelineRequest(req: TimelinePageRequest): void {
  for (const lane of req.lanes ?? []) if (!LANE_SET.has(lane)) fail(badRequest(`lanes: unknown lane "${lane}" (one of ${[...LANE_SET].join(', ')})`, 'lanes'));
  for (const [k, d] of [['from', req.from], ['to', req.to]] as const) if (d && Number.isNaN(d.getTime())) fail(badRequest(`${k}: not a valid date`, k));
  if (req.from && req.to && req.from > req.to) fail(badRequest(`from (${req.from.toISOString()}) is after to (${req.to.toISOString()})`, 'from'));
  if (!Number.isInteger(req.first) || req.first < 0 || req.first > MAX_PAGE) fail(badRequest(`first must be an integer between 0 and ${MAX_PAGE}`, 'first'));
  if (req.after) decodeCursor(req.after);
}

function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** The MongoDB filter of a patient's events (without the cursor). */
export function timelineMongoFilter(patient: string, f: TimelineFilter): Filter<TimelineDoc> {
  const q: Filter<TimelineDoc> = { patient };
  if (f.lanes?.length) q.lane = { $in: f.lanes };
  if (f.from || f.to) q.time = { ...(f.from ? { $gte: f.from } : {}), ...(f.to ? { $lte: f.to } : {}) };
  if (f.codes?.length) q.codes = { $in: f.codes };
  if (f.text?.trim()) q.text = { $regex: escapeRegex(normalizeString(f.text)) };
  return q;
}

/** Adds "strictly after the cursor" to a filter. */
export function afterCursor(patient: string, q: Filter<TimelineDoc>, c: Cursor): Filter<TimelineDoc> {
  // `patient` stays a top-level equality (the embedded store's index serves only those).
  return { ...q, $and: [{ $or: [{ time: { $lt: c.time } }, { time: c.time, _id: { $lt: timelineDocId(patient, c.anchor) } }] }] } as Filter<TimelineDoc>;
}

/** The same filter as a predicate, for events computed on read. */
export function matchesTimelineFilter(e: TimelineEvent & { text: string }, f: TimelineFilter): boolean {
  if (f.lanes?.length && !f.lanes.includes(e.lane)) return false;
  if (f.from && e.time < f.from) return false;
  if (f.to && e.time > f.to) return false;
  if (f.codes?.length && !f.codes.some((c) => e.codes.includes(c))) return false;
  if (f.text?.trim() && !e.text.includes(normalizeString(f.text))) return false;
  return true;
}

/** True when event `e` comes strictly after cursor `c` in timeline order. */
export function isAfterCursor(e: Pick<TimelineEvent, 'time' | 'anchor'>, c: Cursor): boolean {
  return e.time < c.time || (e.time.getTime() === c.time.getTime() && e.anchor < c.anchor);
}
