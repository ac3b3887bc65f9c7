import type { AnyBulkWriteOperation, Collection, OptionalUnlessRequiredId } from 'mongodb';
import type { Resource } from '@medplum/fhirtypes';
import { conflict } from '@medplum/core';
import { fail } from '../schema/outcomes.ts';
import { findAnyOf } from './find-any-of.ts';
import { loadDoc, type Collections, type HistoryDoc, type IdentifierKeyDoc, type LoadedResourceDoc, type ResourceDoc, type UndoStep } from '../schema/collections.ts';
import { failedIndexes } from './duplicate-key.ts';
import { EXCLUSIVE_IDENTIFIER_TYPES } from './identifier-index.ts';

/**
 * The writes of one transaction Bundle on a store without multi-document transactions, sent
 * together: a Bundle of n resources costs a handful of round trips instead of several per
 * resource. `putVersion` hands each write here (store/version-store.ts) and `flush` applies them
 * in the order a single write would — journal steps, version claims, identifier claims, the
 * documents — each kind as one command. The batch also holds what the Bundle read before its
 * writes (current documents and identifier claims, fetched with one `$in` each), and what it is
 * about to write, so reads during the Bundle see its own writes.
 * Without isolation, like the journal: a concurrent writer that changes a resource between the
 * read and the flush loses nothing — the version claim of the flush then fails, and the Bundle
 * is rolled back.
 */

/** One version waiting to be written. */
export interface BatchedWrite {
  doc: ResourceDoc;
  hist: HistoryDoc;
  res: Resource;
  step: UndoStep;
  /** The document this version replaces (null: it creates the resource). */
  previous: ResourceDoc | null;
  /** The identifier keys to claim for it (empty when they did not change). */
  claims: string[];
  /** The keys of the previous version the new one no longer carries. */
  release: string[];
}

/** What runs just before or after the writes are applied, once with every key given to it. */
type Hook = (keys: string[]) => Promise<void>;

interface Hooked {
  hook: Hook;
  keys: string[];
}

/** The operations a flush needs from the version store (which owns claims and their edge cases). */
export interface BatchWriter {
  /** Claims one version the way a single write does (a claim left by a dead writer is taken over); throws 409 when another writer holds it. */
  claimVersion: (hist: HistoryDoc) => Promise<void>;
  /** Claims the identifier keys of one resource the way a single write does. */
  claimIdentifiers: (res: Resource, id: string) => Promise<void>;
  /** Releases identifier keys a resource no longer carries. */
  releaseIdentifiers: (keys: string[], id: string) => Promise<void>;
  /** Records the undo steps before anything is written (the journal). */
  beforeWrites: (steps: UndoStep[]) => Promise<void>;
}


export class WriteBatch {
  private readonly c: Collections;
  private writes: BatchedWrite[] = [];
  /** "Type/id/vid" of the queued writes. */
  private readonly queued = new Set<string>();
  /** Current documents by `_id` as the Bundle sees them: read before, or written by it (null: none). */
  private readonly docs = new Map<string, LoadedResourceDoc | null>();
  /** Identifier claims by key as the Bundle sees them (null: unclaimed). */
  private readonly claimsByKey = new Map<string, IdentifierKeyDoc | null>();
  /** Hooks by tag: a tag's hook runs once, with the keys of every registration under it. */
  private readonly before = new Map<string, Hooked>();
  private readonly after = new Map<string, Hooked>();
  private writer: BatchWriter | undefined;

  constructor(c: Collections) {
    this.c = c;
  }

  /** The current document of `key` as this Bundle sees it; undefined when the batch does not know it. */
  current(key: string): LoadedResourceDoc | null | undefined {
    return this.docs.get(key);
  }

  /** The claim of an identifier key as this Bundle sees it; undefined when the batch does not know it. */
  claim(key: string): IdentifierKeyDoc | null | undefined {
    return this.claimsByKey.get(key);
  }

  /** Reads the current documents of these keys and the claims of these identifier keys, one query each. */
  async prefetch(keys: string[], identifierKeys: string[]): Promise<void> {
    const wantClaims = [...new Set(identifierKeys)].filter((k) => !this.claimsByKey.has(k));
    if (wantClaims.length) {
      const found = await findAnyOf(this.c.identifiers, {}, '_id', wantClaims);
      for (const k of wantClaims) this.claimsByKey.set(k, null);
      for (const f of found) this.claimsByKey.set(f._id, f);
      keys = [...keys, ...found.map((f) => `${f.rt}/${f.id}`)];
    }
    const wantDocs = [...new Set(keys)].filter((k) => !this.docs.has(k));
    if (!wantDocs.length) return;
    const found = await findAnyOf(this.c.resources, {}, '_id', wantDocs);
    for (const k of wantDocs) this.docs.set(k, null);
    for (const d of found) this.docs.set(d._id, loadDoc(d));
  }

  /** Whether writes are waiting. */
  get size(): number {
    return this.writes.length;
  }

  /** Whether this version of `key` waits to be written. */
  isQueued(key: string, vid: number): boolean {
    return this.queued.has(`${key}/${vid}`);
  }

  /** Queues a version; from now on the Bundle sees it as the resource's current document. */
  add(write: BatchedWrite, writer: BatchWriter): void {
    this.writer = writer;
    this.writes.push(write);
    this.queued.add(write.hist._id);
    this.docs.set(write.doc._id, { ...write.doc, res: write.res });
    for (const key of write.claims) this.claimsByKey.set(key, { _id: key, rt: write.doc.rt, id: write.doc.id, at: write.doc.lu });
    for (const key of write.release) if (this.claimsByKey.get(key)?.id === write.doc.id) this.claimsByKey.set(key, null);
  }

  /** Runs the hook of `tag` once before the queued writes are applied, with every key registered under the tag. */
  beforeFlush(tag: string, key: string, hook: Hook): void {
    register(this.before, tag, key, hook);
  }

  /** Runs the hook of `tag` once after the queued writes are applied, with every key registered under the tag. */
  afterFlush(tag: string, key: string, hook: Hook): void {
    register(this.after, tag, key, hook);
  }

  /** Forgets a document and identifier claims the batch holds (a write outside the batch changed them). */
  forget(key: string, identifierKeys: readonly string[] = []): void {
    this.docs.delete(key);
    for (const k of identifierKeys) this.claimsByKey.delete(k);
  }

  /** Applies the queued writes: one command per kind (and per exception). */
  async flush(): Promise<void> {
    const writes = this.writes;
    this.writes = [];
    this.queued.clear();
    const before = [...this.before.values()];
    this.before.clear();
    for (const { hook, keys } of before) await hook(keys);
    if (writes.length) {
      const writer = this.writer as BatchWriter;
      await writer.beforeWrites(writes.map((w) => w.step));
      await this.claimVersions(writes, writer);
      await this.claimIdentifiers(writes, writer);
      await this.putDocuments(writes);
      for (const w of writes) if (w.release.length) await writer.releaseIdentifiers(w.release, w.doc.id);
    }
    const after = [...this.after.values()];
    this.after.clear();
    for (const { hook, keys } of after) await hook(keys);
  }

  private async claimVersions(writes: BatchedWrite[], writer: BatchWriter): Promise<void> {
    // The versions an insert did not reach (from the first one refused) are claimed one by one.
    const missed = await insertOrdered(this.c.history, writes.map((w) => w.hist));
    for (const i of missed) await writer.claimVersion((writes[i] as BatchedWrite).hist);
  }

  private async claimIdentifiers(writes: BatchedWrite[], writer: BatchWriter): Promise<void> {
    const claims = writes.flatMap((w) => w.claims.map((key) => ({ w, doc: { _id: key, rt: w.doc.rt, id: w.doc.id, at: w.doc.lu } satisfies IdentifierKeyDoc })));
    if (!claims.length) return;
    // Who holds the keys now, read first: an insert refused for a duplicate costs the embedded
    // store a retry of every document on its own, and several reports of one order share its
    // placer number, so refusals are the rule for a batch of lab messages, not the exception.
    const holders = new Map((await findAnyOf(this.c.identifiers, {}, '_id', claims.map((x) => x.doc._id))).map((h) => [h._id, h.id]));
    // A key two writes of the batch claim (two reports of one message with the same placer
    // number) is inserted for the first and taken over by the second.
    const free: typeof claims = [];
    const taken: typeof claims = [];
    const inserting = new Set<string>();
    for (const x of claims) {
      const holder = holders.get(x.doc._id);
      if (holder === x.doc.id) continue;
      if (holder !== undefined || inserting.has(x.doc._id)) taken.push(x);
      else {
        free.push(x);
        inserting.add(x.doc._id);
      }
    }
    let refused: number[] = [];
    if (free.length) {
      try {
        await this.c.identifiers.insertMany(
          free.map((x) => x.doc),
          { ordered: false },
        );
      } catch (err) {
        refused = failedIndexes(err);
      }
    }
    // A key claimed meanwhile (by a concurrent writer) is treated as taken.
    taken.push(...refused.map((i) => free[i] as (typeof free)[number]));
    // A taken key of a type whose last writer holds it is taken over, all in one command; one of
    // an exclusive type (Patient) goes the single-write way, which refuses it when another live
    // resource holds it.
    const shared = taken.filter((x) => !EXCLUSIVE_IDENTIFIER_TYPES.has(x.doc.rt));
    if (shared.length) await this.c.identifiers.bulkWrite(shared.map(({ doc: { _id, ...holder } }) => ({ replaceOne: { filter: { _id }, replacement: holder, upsert: true } })));
    const again = [...new Set(taken.filter((x) => EXCLUSIVE_IDENTIFIER_TYPES.has(x.doc.rt)).map((x) => x.w))];
    for (const w of again) await writer.claimIdentifiers(w.res, w.doc.id);
  }

  private async putDocuments(writes: BatchedWrite[]): Promise<void> {
    // One document per resource: its last version, inserted when the Bundle creates the resource.
    const latest = new Map<string, BatchedWrite>();
    const created = new Set<string>();
    for (const w of writes) {
      latest.set(w.doc._id, w);
      if (!w.previous) created.add(w.doc._id);
    }
    const inserts = [...latest.values()].filter((w) => created.has(w.doc._id));
    const missed = await insertOrdered(this.c.resources, inserts.map((w) => w.doc));
    if (missed.length) fail(conflict(`${inserts[missed[0] as number]?.doc._id ?? 'a resource'} already exists (created concurrently)`));
    const replaces: AnyBulkWriteOperation<ResourceDoc>[] = [...latest.values()].filter((w) => !created.has(w.doc._id)).map((w) => ({ replaceOne: { filter: { _id: w.doc._id }, replacement: w.doc } }));
    if (!replaces.length) return;
    const r = await this.c.resources.bulkWrite(replaces, { ordered: true });
    if (r.matchedCount !== replaces.length) fail(conflict(`${replaces.length - r.matchedCount} of the resources this Bundle updates were deleted by another request meanwhile; retry`));
  }
}

function register(hooks: Map<string, Hooked>, tag: string, key: string, hook: Hook): void {
  const found = hooks.get(tag);
  if (found) found.keys.push(key);
  else hooks.set(tag, { hook, keys: [key] });
}

/** The index of the first document an ordered insertMany refused for a duplicate key. */
function firstFailedIndex(err: unknown): number {
  return Math.min(...failedIndexes(err));
}

/**
 * From this many documents on, an insert is sent as two commands at once: the embedded store
 * works on one command in one process, so a single large insert kept one of the cores busy
 * (5,000 Observations: 1.5 times as fast in two halves).
 */
const SPLIT_INSERT_FROM = 1000;

/**
 * Inserts `docs` in order (in two halves sent at once when there are many) and returns the
 * indexes of those not inserted: each half stops at the first document refused for a duplicate
 * key. Any other error is thrown.
 */
async function insertOrdered<T extends { _id: string }>(coll: Collection<T>, docs: T[]): Promise<number[]> {
  if (!docs.length) return [];
  const half = docs.length >= SPLIT_INSERT_FROM ? Math.ceil(docs.length / 2) : docs.length;
  const parts = half < docs.length ? [[0, half], [half, docs.length]] : [[0, docs.length]];
  const results = await Promise.allSettled(parts.map(([from, to]) => coll.insertMany(docs.slice(from, to) as OptionalUnlessRequiredId<T>[], { ordered: true })));
  const missed: number[] = [];
  results.forEach((r, k) => {
    if (r.status === 'fulfilled') return;
    const [from, to] = parts[k] as [number, number];
    for (let i = from + firstFailedIndex(r.reason); i < to; i++) missed.push(i);
  });
  return missed;
}
