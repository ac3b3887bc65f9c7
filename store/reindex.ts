import type { Resource } from '@medplum/fhirtypes';
import type { Database } from './db.ts';
import { COLLECTION_NAMES, type ResourceDoc } from '../schema/collections.ts';
import { computeSearchKeys } from '../schema/search-index.ts';

/**
 * Re-derives what IDR stores beside each resource (search values, sort keys, compartment, exact
 * keys) from the resource itself, after a change to the mapping or to the search parameters, and
 * brings documents written by an older IDR to the current shape. The resource, its version and
 * its history stay as they are: this is derived data, not a new version.
 *
 * Stored documents carry the shape version they were written with (`STORE_SHAPE_VERSION` in the
 * `store_meta` collection). Start-up compares it with the code's and says when a reindex is due.
 */

/**
 * The shape of stored resource documents. Bump it, with a line here, whenever what is stored
 * beside a resource changes, so existing stores are re-derived:
 *  1. resource as a nested document `res`; every search value in `sp`.
 *  2. resource as JSON text `json`; exact values (token, reference, uri) in the top-level `keys`.
 *  3. `keys` holds the type in each patient compartment ("_compartment=Observation|<patient>").
 */
export const STORE_SHAPE_VERSION = 3;

interface StoreMetaDoc {
  _id: 'shape';
  version: number;
  reindexedAt?: Date;
}

export interface ReindexProgress {
  done: number;
  total: number;
  changed: number;
}

/** A document as an older IDR may have written it. */
type AnyShapeDoc = ResourceDoc & { res?: Resource };

/** The shape version the store was last written or reindexed with (0: unknown, an older IDR). */
export async function storedShapeVersion(database: Database): Promise<number> {
  const meta = database.db.collection<StoreMetaDoc>(COLLECTION_NAMES.storeMeta);
  const doc = await meta.findOne({ _id: 'shape' });
  if (doc) return doc.version;
  // A store with no resources yet is of the current shape: record it.
  if (!(await database.c.resources.findOne({}, { projection: { _id: 1 } }))) {
    await meta.replaceOne({ _id: 'shape' }, { version: STORE_SHAPE_VERSION }, { upsert: true });
    return STORE_SHAPE_VERSION;
  }
  return 0;
}

/**
 * Re-derives every resource document, streaming over the collection (bounded memory), one `_id`
 * replace per document whose derived values changed. Idempotent: a second run changes nothing.
 */
export async function reindexResources(database: Database, onProgress?: (p: ReindexProgress) => void): Promise<ReindexProgress> {
  const c = database.c.resources;
  const total = await c.countDocuments({});
  const progress: ReindexProgress = { done: 0, total, changed: 0 };
  const cursor = c.find({}).sort({ _id: 1 }).batchSize(500) as unknown as AsyncIterable<AnyShapeDoc>;
  for await (const doc of cursor) {
    const next = rederive(doc);
    if (next) {
      // Only the version read: a write that happened meanwhile derived its own values already.
      const r = await c.replaceOne({ _id: doc._id, vid: doc.vid }, next);
      if (r.matchedCount) progress.changed++;
    }
    progress.done++;
    if (progress.done % 500 === 0) onProgress?.({ ...progress });
  }
  await database.db.collection<StoreMetaDoc>(COLLECTION_NAMES.storeMeta).replaceOne({ _id: 'shape' }, { version: STORE_SHAPE_VERSION, reindexedAt: new Date() }, { upsert: true });
  onProgress?.({ ...progress });
  return progress;
}

/** The current shape of a document, or undefined when it is current already. */
export function rederive(doc: AnyShapeDoc): ResourceDoc | undefined {
  const json = doc.json ?? (doc.res ? JSON.stringify(doc.res) : undefined);
  const base = { _id: doc._id, rt: doc.rt, id: doc.id, vid: doc.vid, lu: doc.lu, deleted: doc.deleted, ...(doc.tx ? { tx: doc.tx } : {}) };
  const next: ResourceDoc = json
    ? { ...base, ...derived(JSON.parse(json) as Resource), json }
    : { ...base, patients: doc.patients ?? [], keys: [], sp: {}, so: {} };
  return sameDoc(doc, next) ? undefined : next;
}

function derived(resource: Resource): Pick<ResourceDoc, 'patients' | 'keys' | 'sp' | 'so'> {
  const k = computeSearchKeys(resource);
  return { patients: k.patients, keys: k.keys, sp: k.sp, so: k.so };
}

function sameDoc(a: AnyShapeDoc, b: ResourceDoc): boolean {
  if (a.res !== undefined) return false;
  return canonical(a) === canonical(b);
}

/** JSON with sorted keys and Dates as ISO text, to compare documents read back with new ones. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => {
    if (v && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Date)) {
      return Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([x], [y]) => (x < y ? -1 : 1)));
    }
    return v;
  });
}
