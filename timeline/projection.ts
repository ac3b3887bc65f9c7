import { randomUUID } from 'node:crypto';
import type { AnyBulkWriteOperation, Collection, Filter } from 'mongodb';
import type { DiagnosticReport, Observation, Provenance, Resource } from '@medplum/fhirtypes';
import type { Database } from '../store/db.ts';
import { COLLECTION_NAMES, loadDoc, resourceOf, type ResourceDoc } from '../schema/collections.ts';
import { compartmentOf, searchKey } from '../schema/search-index.ts';
import type { RequestContext } from '../store/request-context.ts';
import { eventMonth, monthBucket, timelineDocId, type TimelineDoc, type TimelineEvent, type TimelineMonthsDoc } from '../schema/timeline-event.ts';
import { findAnyOf } from '../store/find-any-of.ts';
import { assertPatientVisible } from '../store/access-guard.ts';
import { permits } from '../store/access.ts';
import { buildTimelineEvents } from './map.ts';
import { refKey } from './events.ts';
import { afterCursor, decodeCursor, timelineMongoFilter, validateTimelineRequest, type TimelineFilter, type TimelinePageRequest } from './query.ts';
import { countMatching } from '../store/count.ts';
import { insertOrReplace } from '../store/duplicate-key.ts';
import { SummaryCache } from './summary-cache.ts';

/**
 * The materialised timeline: one document per (patient, event) in the `timeline` collection,
 * `_id` = "<patient>|<anchor>", kept in step with the resources by `project()` (called after
 * every write: by the pipeline's afterWrite hook and by TimelineRepository for other writes).
 * A page is one indexed query on MongoDB ({patient, time, _id}).
 */

export interface TimelinePage {
  events: TimelineDoc[];
  hasNextPage: boolean;
}

type LoadedDoc = Pick<ResourceDoc, '_id' | 'patients' | 'deleted'> & { res?: Resource };

/** A record of more events than this is paged month by month on the embedded store. */
export const MONTH_PAGING_FROM = 500;

export class TimelineStore {
  readonly events: Collection<TimelineDoc>;
  private readonly months: Collection<TimelineMonthsDoc>;
  private readonly resources: Collection<ResourceDoc>;

  private readonly equalityIndexOnly: boolean;
  private readonly database: Database;
  /** What case summaries read, kept per patient while the patient's stamp is current. */
  readonly summaryReads: SummaryCache;

  constructor(database: Database) {
    this.database = database;
    this.events = database.db.collection<TimelineDoc>(COLLECTION_NAMES.timeline);
    this.months = database.db.collection<TimelineMonthsDoc>(COLLECTION_NAMES.timelineMonths);
    this.resources = database.c.resources;
    this.equalityIndexOnly = database.equalityIndexOnly;
    this.summaryReads = new SummaryCache(database, (patient) => this.stamp(patient));
  }

  /**
   * One page of a patient's events, newest first, strictly after the cursor. With `fields`, only
   * those are read (and what every page needs: `_id`, `anchor`, `time`, `patient`); the others are
   * absent from the events. The embedded store decodes every field it reads, so a view that shows
   * time, lane and title reads about half of each event.
   */
  async page(ctx: RequestContext, patient: string, req: TimelinePageRequest, fields?: readonly (keyof TimelineEvent)[]): Promise<TimelinePage> {
    validateTimelineRequest(req);
    await assertPatientVisible(this.database, ctx, patient);
    if (req.first === 0) return { events: [], hasNextPage: false };
    let q = timelineMongoFilter(patient, req);
    const cursor = req.after ? decodeCursor(req.after) : undefined;
    if (cursor) q = afterCursor(patient, q, cursor);
    const months = this.equalityIndexOnly ? await this.monthsToRead(patient, cursor?.time, req.from, req.to) : undefined;
    const projection = projectionOf(fields);
    const docs = months ? await this.pageByMonth(patient, q, months, req.first + 1, projection) : await this.events.find(q, projection ? { projection } : {}).sort({ time: -1, _id: -1 }).limit(req.first + 1).toArray();
    return { events: readable(ctx, docs.slice(0, req.first)), hasNextPage: docs.length > req.first };
  }

  /**
   * On the embedded store, the months (newest first) a page of a long record reads one by one, or
   * undefined for one query over the whole record. That store sorts in its own process after
   * decoding every event the filter selects, so one query costs the whole record (a patient with
   * 10,000 events: about a second); a month's events are a few dozen, and a page rarely needs more
   * than a few months. Used only for a record of more than MONTH_PAGING_FROM events (a smaller one
   * costs little read whole, in one round trip) whose every event carries its month (records older
   * than the buckets are read whole until rebuilt).
   */
  private async monthsToRead(patient: string, before?: Date, from?: Date, to?: Date): Promise<string[] | undefined> {
    const doc = await this.months.findOne({ _id: patient });
    if (!doc?.complete || doc.events <= MONTH_PAGING_FROM || doc.months.length < 2) return undefined;
    const upper = [before, to].filter((d): d is Date => !!d).map(eventMonth).sort()[0];
    const lower = from ? eventMonth(from) : undefined;
    return [...doc.months].sort().reverse().filter((m) => (!upper || m <= upper) && (!lower || m >= lower));
  }

  /** The first `limit` events of `q`, newest first, read month by month from the newest. */
  private async pageByMonth(patient: string, q: Filter<TimelineDoc>, months: string[], limit: number, projection?: Record<string, number>): Promise<TimelineDoc[]> {
    const out: TimelineDoc[] = [];
    for (const month of months) {
      // `pm` is a top-level equality next to `patient`: the store answers it from its index.
      const docs = await this.events.find({ ...q, pm: `${patient}|${month}` } as Filter<TimelineDoc>, projection ? { projection } : {}).sort({ time: -1, _id: -1 }).limit(limit - out.length).toArray();
      out.push(...docs);
      if (out.length >= limit) break;
    }
    return out;
  }

  /** The number of a patient's events matching a filter. */
  async count(ctx: RequestContext, patient: string, filter: TimelineFilter): Promise<number> {
    await assertPatientVisible(this.database, ctx, patient);
    return countMatching(this.database.db, this.events, timelineMongoFilter(patient, filter));
  }

  /** Events changed (lastUpdated) at or after `since`, newest first; `fields` as for `page`. */
  async changedSince(ctx: RequestContext, patient: string, since: Date, limit: number, fields?: readonly (keyof TimelineEvent)[]): Promise<TimelineDoc[]> {
    await assertPatientVisible(this.database, ctx, patient);
    const projection = projectionOf(fields);
    return readable(ctx, await this.events.find({ patient, lastUpdated: { $gte: since } }, projection ? { projection } : {}).sort({ time: -1, _id: -1 }).limit(limit).toArray());
  }

  /** The events anchored at the given resources (for the FHIR operation and GraphQL lookups). */
  async byAnchors(patient: string, anchors: string[]): Promise<TimelineDoc[]> {
    return findAnyOf(this.events, {}, '_id', anchors.map((a) => timelineDocId(patient, a)));
  }

  /**
   * Re-derives every event that the given resources ("Type/id" or "Type/id/_history/n") take part
   * in: upserts the events that exist now and deletes those that no longer do (deleted or
   * entered-in-error resources, observations now folded into a report). Idempotent.
   * `known`: versions the caller has just written, by "Type/id" (see `load`).
   */
  async project(written: string[], known?: ReadonlyMap<string, Resource>): Promise<{ upserted: number; deleted: number }> {
    const touched = [...new Set(written.map((w) => refKey({ reference: w })).filter((k): k is string => !!k && !k.startsWith('Provenance/')))];
    if (!touched.length) return { upserted: 0, deleted: 0 };
    // A resource the caller has just created (version 1) is in no event yet: events refer only to
    // resources that exist, and one deleted and created again continues its versions. Only the
    // others are looked up (a group of lab messages creates hundreds, and updates a few).
    const created = (key: string): boolean => known?.get(key)?.meta?.versionId === '1';
    const asked = new Set(touched.filter((k) => !created(k)));
    const related = await findAnyOf(this.events, {}, 'refs', [...asked], { projection: { refs: 1, anchor: 1, source: 1 } });
    const bag = new Set([...touched, ...related.flatMap((e) => e.refs)]);
    const docs = await this.load([...bag], known);
    const more = referencedKeys(docs).filter((k) => !bag.has(k));
    if (more.length) {
      for (const k of more) bag.add(k);
      docs.push(...(await this.load(more, known)));
    }
    const live = docs.filter((d) => !d.deleted && d.res);
    const provenance = await this.provenanceFor(written, [...bag], known);
    const built = buildTimelineEvents(live.map((d) => d.res as Resource), provenance);
    const patientsOf = new Map(live.map((d) => [d._id, d.patients]));
    const next: TimelineDoc[] = built.flatMap((e) => (patientsOf.get(e.anchor) ?? []).map((patient) => ({ ...e, _id: timelineDocId(patient, e.anchor), patient, pm: monthBucket(patient, e.time) })));
    const keep = new Set(next.map((d) => d._id));
    // The events that hold anything in the bag: those found above (they hold a touched resource),
    // and those holding the rest of the bag, asked for only once.
    const others = await findAnyOf(this.events, {}, 'refs', [...bag].filter((k) => !asked.has(k) && !created(k)), { projection: { anchor: 1, source: 1 } });
    const existing = [...new Map([...related, ...others].map((e) => [e._id, e])).values()];
    const stale = existing.filter((e) => bag.has(e.anchor) && !keep.has(e._id)).map((e) => e._id);
    // An event re-derived only because a related resource changed keeps the source it had, when
    // no Provenance targets it now.
    const previousSource = new Map(existing.filter((e) => e.source).map((e) => [e._id, e.source]));
    for (const d of next) {
      const prev = previousSource.get(d._id);
      if (!d.source && prev) d.source = prev;
    }
    // New events are inserted (most of what a message adds), the others replaced.
    const before = new Set(existing.map((e) => e._id));
    await insertOrReplace(
      this.events,
      next.filter((d) => !before.has(d._id)),
    );
    const ops: AnyBulkWriteOperation<TimelineDoc>[] = next.filter((d) => before.has(d._id)).map((d) => ({ replaceOne: { filter: { _id: d._id }, replacement: d, upsert: true } }));
    for (const id of stale) ops.push({ deleteOne: { filter: { _id: id } } });
    if (ops.length) await this.events.bulkWrite(ops, { ordered: false });
    const affected = new Set([...docs.flatMap((d) => d.patients ?? []), ...existing.map((e) => e._id.slice(0, e._id.indexOf('|')))]);
    // (One set of what the events hold: a correction of a 5,000-result report updates 5,000 resources its one event holds.)
    const inEvents = new Set(related.flatMap((e) => e.refs));
    for (const p of await this.formerPatients(docs.filter((d) => asked.has(d._id) && !inEvents.has(d._id)))) affected.add(p);
    await this.recordMonths(next, next.filter((d) => !before.has(d._id)), stale, affected);
    return { upserted: next.length, deleted: stale.length };
  }

  /**
   * The patients whose compartments held the previous versions of these updated resources. A
   * resource in an event names its former patients through the event (its `_id`); only one in
   * none (e.g. a result no report lists) is looked up in the history, so that a resource moved to
   * another patient changes the stamp of the patient it left too.
   */
  private async formerPatients(docs: LoadedDoc[]): Promise<string[]> {
    const previous = docs.flatMap((d) => {
      const vid = Number(d.res?.meta?.versionId);
      return !d.deleted && vid > 1 ? [`${d._id}/${vid - 1}`] : [];
    });
    if (!previous.length) return [];
    const versions = await findAnyOf(this.database.c.history, {}, '_id', previous, { projection: { json: 1 } });
    return versions.flatMap((h) => {
      const res = resourceOf(h);
      return res ? compartmentOf(res) : [];
    });
  }

  /**
   * The stamp of the patient's record: it changes with every write that re-derives anything of the
   * patient (see TimelineMonthsDoc.stamp); null when the patient has none yet.
   */
  async stamp(patient: string): Promise<string | null> {
    const doc = await this.months.findOne({ _id: patient }, { projection: { stamp: 1 } });
    if (doc && !doc.stamp) {
      // A list written before stamps existed gets one; what is read under it is kept from the next read on.
      await this.months.updateOne({ _id: patient, stamp: { $exists: false } }, { $set: { stamp: randomUUID() } });
      return null;
    }
    return doc?.stamp ?? null;
  }

  /**
   * Adds the months of these events to their patients' month lists, and gives the list of every
   * affected patient (those of the events and those in `affected`) a new stamp. A patient's list
   * is created `complete` only when none of its events predates the month buckets; otherwise its
   * pages read the whole record until rebuildPatient (make reindex) writes the list afresh. A
   * month whose events have all gone stays listed: a page reads it and finds nothing.
   */
  private async recordMonths(events: TimelineDoc[], added: TimelineDoc[], removed: string[], affected: Iterable<string>): Promise<void> {
    const byPatient = new Map<string, { months: Set<string>; delta: number }>();
    const of = (patient: string) => byPatient.get(patient) ?? byPatient.set(patient, { months: new Set(), delta: 0 }).get(patient)!;
    for (const p of affected) of(p);
    for (const e of events) of(e.patient).months.add(eventMonth(e.time));
    for (const e of added) of(e.patient).delta++;
    for (const id of removed) of(id.slice(0, id.indexOf('|'))).delta--;
    if (!byPatient.size) return;
    // Every patient's list in one command (a group of messages names dozens of patients). A list
    // created here starts incomplete, and is marked complete after when none of the patient's
    // events predates the buckets (a second creator's upsert only adds to the first's list).
    const result = await this.months.bulkWrite(
      [...byPatient].map(([patient, { months, delta }]) => ({ updateOne: { filter: { _id: patient }, update: { $addToSet: { months: { $each: [...months] } }, $inc: { events: delta }, $set: { stamp: randomUUID() }, $setOnInsert: { complete: false } }, upsert: true } })),
      { ordered: false },
    );
    const created = Object.values(result.upsertedIds).map(String);
    if (!created.length) return;
    const older = new Set((await findAnyOf(this.events, { pm: { $exists: false } } as Filter<TimelineDoc>, 'patient', created, { projection: { patient: 1 } })).map((e) => e.patient));
    const complete = created.filter((p) => !older.has(p));
    if (complete.length) await this.months.updateMany({ _id: { $in: complete } }, { $set: { complete: true } });
  }

  /**
   * Rebuilds the events of one patient from scratch (repair, or after a mapping change): one read
   * of the patient's compartment, the events built in memory, the old ones replaced. Linear in the
   * record.
   */
  async rebuildPatient(patient: string): Promise<number> {
    const docs = await this.resources.find({ patients: patient, deleted: false }, { projection: { json: 1 } }).toArray();
    const all = docs.map((d) => resourceOf(d)).filter((r): r is Resource => !!r);
    const provenance = all.filter((r): r is Provenance => r.resourceType === 'Provenance');
    const next: TimelineDoc[] = buildTimelineEvents(all.filter((r) => r.resourceType !== 'Provenance'), provenance).map((e) => ({ ...e, _id: timelineDocId(patient, e.anchor), patient, pm: monthBucket(patient, e.time) }));
    await this.events.deleteMany({ patient });
    for (let i = 0; i < next.length; i += 500) await this.events.insertMany(next.slice(i, i + 500), { ordered: false });
    await this.months.replaceOne({ _id: patient }, { months: [...new Set(next.map((e) => eventMonth(e.time)))], complete: true, events: next.length, stamp: randomUUID() }, { upsert: true });
    return next.length;
  }

  /**
   * The current documents of these keys. A version in `known` (what the caller has just written)
   * is used as it is when no later version of it has been claimed since: one query on the history
   * for the next version numbers, which finds nothing in the usual case and so decodes nothing.
   * The rest are read from the store. (A 5,000-result message: its results are not read back.)
   */
  private async load(keys: string[], known?: ReadonlyMap<string, Resource>): Promise<LoadedDoc[]> {
    if (!keys.length) return [];
    const fresh = new Map<string, LoadedDoc>();
    const candidates = known?.size
      ? keys.flatMap((key) => {
          const res = known.get(key);
          const vid = Number(res?.meta?.versionId);
          return res && Number.isInteger(vid) && vid > 0 ? [{ key, res, next: `${key}/${vid + 1}` }] : [];
        })
      : [];
    if (candidates.length) {
      const later = new Set((await findAnyOf(this.database.c.history, {}, '_id', candidates.map((c) => c.next), { projection: { _id: 1 } })).map((h) => h._id));
      for (const c of candidates) if (!later.has(c.next)) fresh.set(c.key, { _id: c.key, res: c.res, patients: compartmentOf(c.res), deleted: false });
    }
    const rest = keys.filter((k) => !fresh.has(k));
    const docs = rest.length ? await findAnyOf(this.resources, {}, '_id', rest, { projection: { json: 1, patients: 1, deleted: 1 } }) : [];
    return [...fresh.values(), ...docs.map((d) => loadDoc(d))];
  }

  /**
   * The Provenance of the resources in `bag`: the Provenance written with them (the ingestion
   * pipeline passes it in `written`), and for what that does not cover, the Provenance found by
   * target. (One Provenance of a large message targets thousands of resources: reading it once by
   * id is far cheaper than finding it again with each chunk of targets.)
   */
  private async provenanceFor(written: string[], bag: string[], known?: ReadonlyMap<string, Resource>): Promise<Provenance[]> {
    const listed = [...new Set(written.map((w) => refKey({ reference: w })).filter((k): k is string => !!k && k.startsWith('Provenance/')))];
    const own = (await this.load(listed, known)).filter((d) => !d.deleted && d.res).map((d) => d.res as Provenance);
    const covered = new Set(own.flatMap((p) => p.target.map((t) => refKey(t)).filter((k): k is string => !!k)));
    const rest = bag.filter((b) => !covered.has(b));
    const found = rest.length ? await findAnyOf(this.resources, { rt: 'Provenance', deleted: false }, 'keys', rest.map((b) => searchKey('target', b)), { projection: { json: 1 } }) : [];
    const ownIds = new Set(listed);
    return [...own, ...found.filter((d) => !ownIds.has(d._id)).map((d) => resourceOf<Provenance>(d) as Provenance)];
  }
}

/** Keys a loaded report or panel points at that belong to its event (results, members, studies). */
function referencedKeys(docs: LoadedDoc[]): string[] {
  const out = new Set<string>();
  for (const d of docs) {
    const r = d.res;
    if (!r || d.deleted) continue;
    const refs = r.resourceType === 'DiagnosticReport' ? [...((r as DiagnosticReport).result ?? []), ...((r as DiagnosticReport).imagingStudy ?? [])] : r.resourceType === 'Observation' ? ((r as Observation).hasMember ?? []) : [];
    for (const ref of refs) {
      const k = refKey(ref);
      if (k) out.add(k);
    }
  }
  return [...out];
}

/** The projection reading `fields` and what every read of events needs (the id, anchor, time and patient); undefined: all. */
function projectionOf(fields: readonly (keyof TimelineEvent)[] | undefined): Record<string, 1> | undefined {
  return fields ? Object.fromEntries(['_id', 'anchor', 'time', 'patient', ...fields].map((f) => [f, 1 as const])) : undefined;
}

/** The events whose anchor resource type the caller may read (a scope limited to some types sees only their events). */
function readable(ctx: RequestContext, events: TimelineDoc[]): TimelineDoc[] {
  if (ctx.access.unrestricted) return events;
  return events.filter((e) => {
    const type = e.anchor.split('/')[0] ?? '';
    const ok = permits(ctx.access, type, 'r');
    if (ok) ctx.seen?.add(type, e.anchor.slice(type.length + 1), [e.patient]);
    else if (ctx.seen) ctx.seen.withheld++;
    return ok;
  });
}
