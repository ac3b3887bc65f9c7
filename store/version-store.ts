import type { ClientSession } from 'mongodb';
import type { Resource } from '@medplum/fhirtypes';
import { resourceOf, type Collections, type HistoryDoc, type LoadedResourceDoc, type ResourceDoc, type UndoStep } from '../schema/collections.ts';
import { computeSearchKeys } from '../schema/search-index.ts';
import { historyKey, resourceKey } from '../schema/resource-id.ts';
import { conflict } from '@medplum/core';
import { fail } from '../schema/outcomes.ts';
import { EXCLUSIVE_IDENTIFIER_TYPES, addIdentifierKeys, identifierKeys, reconcileIdentifierKeys, releaseIdentifierKeys, removeStaleIdentifierKeys } from './identifier-index.ts';
import type { BatchWriter, WriteBatch } from './write-batch.ts';
import { isDuplicateKey } from './duplicate-key.ts';

/**
 * The basic write of IDR's persistence: put one new version of a resource (or a tombstone) as
 * the current document, with a compare-and-set on the previous version, then record it in the
 * history. Everything else (create, update, delete, conditional and Bundle writes) is built on it.
 */

/** Where a write runs: in a MongoDB session (transactions) and/or with an undo journal. */
export interface WriteScope {
  session?: ClientSession;
  /** Called with the undo information before the write is applied (compensating transactions). */
  beforeWrite?: (step: UndoStep) => Promise<void>;
  /** Records several undo steps at once (the journal, for a batch's writes); without it `beforeWrite` is called for each. */
  beforeWrites?: (steps: UndoStep[]) => Promise<void>;
  /** The journal writing: its id is stamped on what it writes, so its undo can only ever take back its own versions. */
  writer?: string;
  /**
   * Queue creates and updates here, to be applied together (a transaction Bundle without a
   * session). Deletes and resources with exclusive identifiers (Patient) are written at once,
   * after whatever the batch holds.
   */
  batch?: WriteBatch;
  /**
   * Every resource written under this scope was validated before the first write (the entries of
   * a transaction Bundle), so the repository does not validate them again.
   */
  validated?: boolean;
}

export interface PutVersion {
  type: string;
  id: string;
  /** The resource to store; meta.versionId/lastUpdated are set here. Undefined = delete. */
  resource: Resource | undefined;
  /** The current document as read before, or null when the resource does not exist yet. */
  previous: LoadedResourceDoc | null;
  method: HistoryDoc['method'];
  now: Date;
}


/** Writes a new version; throws 409 when another writer changed the resource meanwhile. */
export async function putVersion(c: Collections, put: PutVersion, scope: WriteScope = {}): Promise<LoadedResourceDoc> {
  const key = resourceKey(put.type, put.id);
  const vid = (put.previous?.vid ?? 0) + 1;
  const lastUpdated = put.now.toISOString();
  const res = put.resource ? ({ ...put.resource, id: put.id, meta: { ...put.resource.meta, versionId: String(vid), lastUpdated } } as Resource) : undefined;
  const keys = res ? computeSearchKeys(res) : { sp: {}, so: {}, patients: put.previous?.patients ?? [], keys: [] };
  const doc: ResourceDoc = { _id: key, rt: put.type, id: put.id, vid, lu: put.now, deleted: !res, patients: keys.patients, keys: keys.keys, sp: keys.sp, so: keys.so };
  const json = res ? JSON.stringify(res) : undefined;
  if (json) doc.json = json;
  if (scope.writer) doc.tx = scope.writer;

  const hist: HistoryDoc = { _id: historyKey(put.type, put.id, vid), rt: put.type, id: put.id, vid, lu: put.now, method: put.method, deleted: !res };
  if (json) hist.json = json;
  if (scope.writer) hist.tx = scope.writer;
  const step = { key, newVid: vid, previous: storedOnly(put.previous) };
  if (scope.batch && !scope.session && res && !EXCLUSIVE_IDENTIFIER_TYPES.has(put.type)) {
    const changed = !sameKeys(put.previous?.res, res);
    const claims = changed ? identifierKeys(res) : [];
    const release = changed && put.previous?.res ? identifierKeys(put.previous.res).filter((k) => !claims.includes(k)) : [];
    scope.batch.add({ doc, hist, res, step, previous: step.previous, claims, release }, batchWriter(c, scope, put.now));
    return { ...doc, res };
  }
  // Written at once: after what the batch holds, which then reads this resource anew.
  if (scope.batch?.size) await scope.batch.flush();
  scope.batch?.forget(key, [...(res ? identifierKeys(res) : []), ...(put.previous?.res ? identifierKeys(put.previous.res) : [])]);
  await scope.beforeWrite?.(step);
  const session = scope.session ? { session: scope.session } : {};
  // Claim the version first: inserting "Type/id/vid" is atomic on FerretDB 1.24 and MongoDB alike,
  // whereas on FerretDB a conditional replace ({ vid: previous }) is not (concurrent ones all match).
  await claimVersion(c, hist, put.now, session);
  let claimed: string[] = [];
  try {
    // Identifier claims before the write: for Patients a claim another patient holds refuses it.
    if (res && !sameKeys(put.previous?.res, res)) claimed = await addIdentifierKeys(c, res, put.id, put.now, scope.session);
    if (put.previous) {
      // The claim above makes this writer the only one for version `vid`; filtering on `_id` alone
      // lets FerretDB use its index (any other filter field makes it scan the collection).
      const r = await c.resources.replaceOne({ _id: key }, doc, session);
      if (r.matchedCount === 0) fail(conflict(`${key} was changed by another request (expected version ${put.previous.vid}); retry with the current version`));
    } else {
      try {
        await c.resources.insertOne(doc, session);
      } catch (err) {
        if (isDuplicateKey(err)) fail(conflict(`${key} already exists (created concurrently)`));
        throw err;
      }
    }
  } catch (err) {
    if (!scope.session) {
      await releaseIdentifierKeys(c, claimed, put.id).catch(() => undefined);
      await c.history.deleteOne({ _id: hist._id }).catch(() => undefined);
    }
    throw err;
  }
  if (!sameKeys(put.previous?.res, res)) await removeStaleIdentifierKeys(c, put.previous?.res, res, put.id, scope.session);
  return res ? { ...doc, res } : doc;
}

/** How a batch applies what single writes do: claims with their edge cases, and the journal's steps. */
function batchWriter(c: Collections, scope: WriteScope, now: Date): BatchWriter {
  return {
    claimVersion: (hist) => claimVersion(c, hist, now, {}),
    claimIdentifiers: async (res, id) => {
      await addIdentifierKeys(c, res, id, now);
    },
    releaseIdentifiers: (keys, id) => releaseIdentifierKeys(c, keys, id),
    beforeWrites: async (steps) => {
      if (scope.beforeWrites) await scope.beforeWrites(steps);
      else for (const step of steps) await scope.beforeWrite?.(step);
    },
  };
}

/** The document as stored, without the parsed resource reads carry along. */
function storedOnly(doc: LoadedResourceDoc | null): ResourceDoc | null {
  if (!doc) return null;
  const { res: _parsed, ...stored } = doc;
  return stored;
}

/** A claimed version whose writer never made it current (the process died) is taken over after this. */
const ORPHAN_MS = 60_000;

async function claimVersion(c: Collections, hist: HistoryDoc, now: Date, session: { session?: ClientSession }): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await c.history.insertOne(hist, session);
      return;
    } catch (err) {
      if (!isDuplicateKey(err)) throw err;
      const existing = attempt === 0 && !session.session ? await c.history.findOne({ _id: hist._id }) : null;
      if (!existing || existing.lu.getTime() > now.getTime() - ORPHAN_MS) {
        fail(conflict(`${hist.rt}/${hist.id} was changed by another request (version ${hist.vid} exists already); retry with the current version`));
      }
      await c.history.deleteOne({ _id: hist._id, lu: existing.lu });
    }
  }
}

/**
 * Reverts one write recorded by `putVersion`, only if it is still the current version AND was
 * written by `writer` (the journal undoing): a step recorded for a write that then failed (another
 * writer got the version first) matches nothing, so an undo never touches another writer's data.
 * Without `writer` (journals written before writers were stamped) the version alone decides.
 */
export async function undoVersion(c: Collections, step: UndoStep, writer?: string): Promise<void> {
  const mine = { _id: step.key, vid: step.newVid, ...(writer ? { tx: writer } : {}) };
  // The identifiers the undone version claimed (its claim may exist even when the write did not happen).
  // By `_id` alone (an indexed lookup on the embedded store); whose claim it is is checked here.
  const claimed = await c.history.findOne({ _id: `${step.key}/${step.newVid}` });
  const claimedBy = claimed && (!writer || claimed.tx === writer) ? claimed : null;
  const undone = step.previous ? (await c.resources.replaceOne(mine, step.previous)).matchedCount : (await c.resources.deleteOne(mine)).deletedCount;
  // Our claim on the version goes too (a crash may have left the claim without the write); a
  // version another writer holds is left alone.
  if (writer) await c.history.deleteOne({ _id: `${step.key}/${step.newVid}`, tx: writer });
  else if (undone) await c.history.deleteOne({ _id: `${step.key}/${step.newVid}` });
  const written = resourceOf(claimedBy);
  const before = resourceOf(step.previous);
  const keys = [...(written ? identifierKeys(written) : []), ...(before ? identifierKeys(before) : [])];
  if (keys.length) await reconcileIdentifierKeys(c, step.key.slice(0, step.key.indexOf('/')), step.key.slice(step.key.indexOf('/') + 1), keys);
}

function sameKeys(a: Resource | undefined, b: Resource | undefined): boolean {
  if (!a || !b) return false;
  const x = identifierKeys(a);
  const y = identifierKeys(b);
  return x.length === y.length && x.every((k, i) => k === y[i]);
}
