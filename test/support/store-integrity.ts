import type { Provenance, Resource } from '@medplum/fhirtypes';
import type { Database } from '../../store/db.ts';
import { COLLECTION_NAMES, resourceOf, type DeriveOutboxDoc } from '../../schema/collections.ts';
import { timelineDocId, type TimelineDoc } from '../../schema/timeline-event.ts';
import { literalReferences } from '../../store/reference-check.ts';
import { buildTimelineEvents } from '../../timeline/map.ts';

/**
 * An integrity check of a whole store, read straight from the database: what a crash must never
 * leave behind. Each list is empty on a sound store.
 */
export interface IntegrityReport {
  /** Journals still pending (a half-applied transaction Bundle nobody rolled back). */
  pendingJournals: string[];
  /** "Type/id.path -> reference" of references to resources that do not exist (or are deleted). */
  danglingReferences: string[];
  /** "Type identifier system|value: id, id" of identifiers carried by two live resources of a type. */
  duplicateIdentifiers: string[];
  /** Current resources without their history version, or whose history version differs. */
  versionMismatches: string[];
  /** Derived-data outbox entries not yet processed. */
  outbox: string[];
  /** "patient: what differs" where the stored timeline differs from one rebuilt from the resources. */
  timelineDifferences: string[];
}

/** Checks the store's integrity (see IntegrityReport). */
export async function checkIntegrity(database: Database): Promise<IntegrityReport> {
  const docs = await database.c.resources.find({}).toArray();
  const live = new Map<string, Resource>();
  for (const d of docs) {
    const r = d.deleted ? undefined : resourceOf(d);
    if (r) live.set(d._id, r);
  }
  const danglingReferences: string[] = [];
  const byIdentifier = new Map<string, string[]>();
  for (const [key, r] of live) {
    for (const ref of literalReferences(r)) {
      const m = /^([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]+)(?:\/_history\/.*)?$/.exec(ref.reference);
      if (m && !live.has(`${m[1]}/${m[2]}`)) danglingReferences.push(`${key} ${ref.path} -> ${ref.reference}`);
    }
    for (const i of (r as { identifier?: { system?: string; value?: string }[] }).identifier ?? []) {
      if (!i.system || !i.value || r.resourceType === 'Provenance') continue;
      const k = `${r.resourceType} identifier ${i.system}|${i.value}`;
      byIdentifier.set(k, [...(byIdentifier.get(k) ?? []), r.id as string]);
    }
  }
  const duplicateIdentifiers = [...byIdentifier].filter(([, ids]) => new Set(ids).size > 1).map(([k, ids]) => `${k}: ${[...new Set(ids)].join(', ')}`);

  const versionMismatches: string[] = [];
  for (const d of docs) {
    const h = await database.c.history.findOne({ _id: `${d._id}/${d.vid}` });
    if (!h) versionMismatches.push(`${d._id} v${d.vid}: no history version`);
    else if (h.deleted !== d.deleted || (h.json !== undefined && d.json !== undefined && h.json !== d.json)) versionMismatches.push(`${d._id} v${d.vid}: history differs from the current version`);
  }

  const pendingJournals = (await database.c.journal.find({}).toArray()).map((j) => j._id);
  const outbox = (await database.db.collection<DeriveOutboxDoc>(COLLECTION_NAMES.deriveOutbox).find({}).toArray()).map((o) => `${o._id} (${o.attempts} attempts${o.lastError ? `: ${o.lastError}` : ''})`);

  const timelineDifferences: string[] = [];
  const events = await database.db.collection<TimelineDoc>(COLLECTION_NAMES.timeline).find({}).toArray();
  const patients = new Set([...docs.filter((d) => d.rt === 'Patient' && !d.deleted).map((d) => d.id), ...events.map((e) => e.patient)]);
  for (const patient of patients) {
    const mine = docs.filter((d) => !d.deleted && d.patients.includes(patient)).map((d) => live.get(d._id)).filter((r): r is Resource => !!r);
    const provenance = mine.filter((r): r is Provenance => r.resourceType === 'Provenance');
    const rebuilt = buildTimelineEvents(mine.filter((r) => r.resourceType !== 'Provenance'), provenance).map((e) => ({ ...e, _id: timelineDocId(patient, e.anchor), patient }));
    const stored = events.filter((e) => e.patient === patient);
    const want = new Map(rebuilt.map((e) => [e._id, comparable(e)]));
    const have = new Map(stored.map((e) => [e._id, comparable(e)]));
    for (const [id, e] of want) {
      const h = have.get(id);
      if (!h) timelineDifferences.push(`${patient}: event ${id} (${e.title}: ${e.summary}) missing`);
      else if (JSON.stringify(h) !== JSON.stringify(e)) timelineDifferences.push(`${patient}: event ${id} stored as ${JSON.stringify(h)}, rebuilt as ${JSON.stringify(e)}`);
    }
    for (const id of have.keys()) if (!want.has(id)) timelineDifferences.push(`${patient}: event ${id} stored but not derived from the resources`);
  }
  return { pendingJournals, danglingReferences, duplicateIdentifiers, versionMismatches, outbox, timelineDifferences };
}

/** What of an event must match a rebuild: all but the bookkeeping (lastUpdated, text index) and source. */
function comparable(e: Pick<TimelineDoc, 'anchor' | 'time' | 'lane' | 'title' | 'summary' | 'abnormal' | 'status' | 'refs' | 'codes'>): Record<string, unknown> {
  return { anchor: e.anchor, time: new Date(e.time).toISOString(), lane: e.lane, title: e.title, summary: e.summary, abnormal: e.abnormal, status: e.status, refs: [...e.refs].sort(), codes: [...e.codes].sort() };
}
