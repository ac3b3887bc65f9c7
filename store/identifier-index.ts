import type { Resource, Identifier } from '@medplum/fhirtypes';
import type { ClientSession, Collection, Db } from 'mongodb';
import { OperationOutcomeError, conflict, preconditionFailed } from '@medplum/core';
import { COLLECTION_NAMES, resourceOf, type Collections, type IdentifierKeyDoc } from '../schema/collections.ts';
import { historyKey, resourceKey } from '../schema/resource-id.ts';
import { isDuplicateKey } from './duplicate-key.ts';
import { findAnyOf } from './find-any-of.ts';

/**
 * Identifier keys ("Type|system|value" -> resource), keyed by `_id` (the only query FerretDB answers
 * without a scan, and a scalar key MongoDB can make unique). Conditional creates/updates by
 * identifier — what every ingestion write is — use it instead of a search. It is a hint: every hit
 * is checked against the resource itself, so a stale entry can never produce a wrong match. For
 * Patients it is also the guard of one patient per identifier (see `addIdentifierKeys`).
 */


/** The identifier keys of a resource (Resource.identifier, single or repeating). */
export function identifierKeys(resource: Resource): string[] {
  const raw = (resource as { identifier?: Identifier | Identifier[] }).identifier;
  const list = Array.isArray(raw) ? raw : raw ? [raw] : [];
  const keys = new Set<string>();
  for (const i of list) if (i.system && i.value) keys.add(`${resource.resourceType}|${i.system}|${i.value}`);
  return [...keys];
}

/** The identifier-key collection of a database. */
export function identifierKeyCollection(db: Db): Collection<IdentifierKeyDoc> {
  return db.collection<IdentifierKeyDoc>(COLLECTION_NAMES.identifiers);
}

/** Resource types whose identifiers are exclusive: no two live resources of the type share one. */
export const EXCLUSIVE_IDENTIFIER_TYPES: ReadonlySet<string> = new Set(['Patient']);

/** A claim whose writer shows no sign of life (no pending version) for this long is taken over. */
const CLAIM_ORPHAN_MS = 60_000;

/** Refusal of a write that would give a resource an identifier another live resource holds (409; 412 when conditional). */
export class IdentifierTakenError extends OperationOutcomeError {
  /** The identifier as "system|value" and the element holding it, e.g. "Patient.identifier[1]". */
  readonly identifier: string;
  readonly expression: string;
  readonly holder: string;

  constructor(identifier: string, expression: string, holder: string, text: string, status: 'conflict' | 'precondition' = 'conflict') {
    const base = status === 'conflict' ? conflict(text) : preconditionFailed;
    super({ ...base, issue: [{ severity: 'error', code: status === 'conflict' ? 'conflict' : 'processing', details: { text }, expression: [expression] }] });
    this.identifier = identifier;
    this.expression = expression;
    this.holder = holder;
  }

  /** The same refusal as 412 Precondition Failed (conditional create/update, per https://hl7.org/fhir/R4/http.html#cond-update). */
  asPrecondition(): IdentifierTakenError {
    return new IdentifierTakenError(this.identifier, this.expression, this.holder, this.outcome.issue?.[0]?.details?.text ?? '', 'precondition');
  }
}

/** The identifier keys of a resource with the index of the element each comes from (first occurrence). */
function keyedIdentifiers(resource: Resource): { key: string; index: number; shown: string }[] {
  const raw = (resource as { identifier?: Identifier | Identifier[] }).identifier;
  const list = Array.isArray(raw) ? raw : raw ? [raw] : [];
  const seen = new Set<string>();
  const out: { key: string; index: number; shown: string }[] = [];
  list.forEach((i, index) => {
    if (!i.system || !i.value) return;
    const key = `${resource.resourceType}|${i.system}|${i.value}`;
    if (seen.has(key)) return;
    seen.add(key);
    out.push({ key, index, shown: `${i.system}|${i.value}` });
  });
  return out;
}

/**
 * Claims the identifier keys of a resource about to be written (before the write, so a crash
 * leaves only claims, which are checked against the resources). Returns the keys this call
 * inserted, for the caller to release if its write then fails. For exclusive types (Patient) a
 * key held by another live resource — or by a write still in flight — refuses the write with an
 * IdentifierTakenError; the `_id`-keyed insert is the claim, atomic on MongoDB and FerretDB alike,
 * so of two concurrent writers exactly one gets it. Other types: the last writer holds the key.
 */
export async function addIdentifierKeys(c: Collections, resource: Resource, id: string, now: Date = new Date(), session?: ClientSession): Promise<string[]> {
  const opts = session ? { session } : {};
  const exclusive = EXCLUSIVE_IDENTIFIER_TYPES.has(resource.resourceType);
  const claimed: string[] = [];
  const keyed = keyedIdentifiers(resource);
  // The keys this resource holds already (an update that keeps its identifiers) are left as they
  // are: read in one query, where an insert of each would be refused and the key then read.
  const held = session ? new Set<string>() : new Set((await findAnyOf(c.identifiers, {}, '_id', keyed.map((k) => k.key))).filter((d) => d.id === id).map((d) => d._id));
  try {
    for (const { key, index, shown } of keyed) {
      if (held.has(key)) continue;
      for (let attempt = 0; ; attempt++) {
        // Look first inside a transaction: a failed insert would abort it.
        const seen = session ? await c.identifiers.findOne({ _id: key }, opts) : null;
        if (!seen) {
          try {
            // Insert first: on FerretDB an insert is an indexed write, an update rewrites by scanning.
            await c.identifiers.insertOne({ _id: key, rt: resource.resourceType, id, at: now }, opts);
            claimed.push(key);
            // A free key may still be carried by a patient stored before identifiers were exclusive.
            const other = exclusive ? await otherLiveCarrier(c, resource.resourceType, shown, id, opts) : undefined;
            if (other) throw new IdentifierTakenError(shown, `${resource.resourceType}.identifier[${index}]`, `${resource.resourceType}/${other}`, `identifier ${shown} (${resource.resourceType}.identifier[${index}]) is held by ${resource.resourceType}/${other}; one ${resource.resourceType} per identifier — merge or correct the records first`);
            break;
          } catch (err) {
            if (!isDuplicateKey(err)) throw err;
          }
        }
        const current = seen ?? (await c.identifiers.findOne({ _id: key }, opts));
        if (!current) continue;
        if (current.id === id) break;
        if (!exclusive) {
          await c.identifiers.replaceOne({ _id: key }, { rt: resource.resourceType, id, at: now }, opts);
          break;
        }
        const state = await holderState(c, current, key, now, opts);
        if (state === 'stale' && attempt < 3) {
          // Delete-then-insert (not a conditional replace, which FerretDB does not apply atomically).
          await c.identifiers.deleteOne({ _id: key, id: current.id }, opts);
          continue;
        }
        const why = state === 'holds' ? `is held by ${resource.resourceType}/${current.id}` : `is being written to ${resource.resourceType}/${current.id} by a concurrent request`;
        throw new IdentifierTakenError(shown, `${resource.resourceType}.identifier[${index}]`, `${resource.resourceType}/${current.id}`, `identifier ${shown} (${resource.resourceType}.identifier[${index}]) ${why}; one ${resource.resourceType} per identifier — merge or correct the records first`);
      }
    }
  } catch (err) {
    if (!session) await releaseIdentifierKeys(c, claimed, id);
    throw err;
  }
  return claimed;
}

/** The id of another live resource of the type carrying the identifier ("system|value"), found by its search key. */
async function otherLiveCarrier(c: Collections, type: string, identifier: string, self: string, opts: { session?: ClientSession }): Promise<string | undefined> {
  const docs = await c.resources.find({ rt: type, keys: `identifier=${identifier}` }, { ...opts, projection: { id: 1, deleted: 1 } }).limit(2).toArray();
  return docs.find((d) => d.id !== self && !d.deleted)?.id;
}

/**
 * Whether a claim's holder holds the identifier: its live current version carries it ("holds"),
 * a version of it is being written ("pending": a version claimed after the current one, recently),
 * or neither ("stale": left by a failed or crashed write, or by a version since replaced).
 */
async function holderState(c: Collections, claim: IdentifierKeyDoc, key: string, now: Date, opts: { session?: ClientSession }): Promise<'holds' | 'pending' | 'stale'> {
  const doc = await c.resources.findOne({ _id: resourceKey(claim.rt, claim.id) }, opts);
  const res = doc ? resourceOf(doc) : undefined;
  if (doc && !doc.deleted && res && identifierKeys(res).includes(key)) return 'holds';
  const next = await c.history.findOne({ _id: historyKey(claim.rt, claim.id, (doc?.vid ?? 0) + 1) }, opts);
  if (next && next.lu.getTime() > now.getTime() - CLAIM_ORPHAN_MS) return 'pending';
  return 'stale';
}

/** Releases keys a resource holds (only while that resource holds them). */
export async function releaseIdentifierKeys(c: Collections, keys: string[], id: string, session?: ClientSession): Promise<void> {
  for (const key of keys) await c.identifiers.deleteOne({ _id: key, id }, session ? { session } : {});
}

/** Removes keys the previous version had and the new one does not. */
export async function removeStaleIdentifierKeys(c: Collections, previous: Resource | undefined, current: Resource | undefined, id: string, session?: ClientSession): Promise<void> {
  if (!previous) return;
  const keep = new Set(current ? identifierKeys(current) : []);
  await releaseIdentifierKeys(c, identifierKeys(previous).filter((k) => !keep.has(k)), id, session);
}

/**
 * After an undo: makes the claims of `keys` agree with the resource's current document again —
 * keys its current version carries are (re)claimed where free, the others it holds are released.
 */
export async function reconcileIdentifierKeys(c: Collections, type: string, id: string, keys: string[]): Promise<void> {
  const doc = await c.resources.findOne({ _id: resourceKey(type, id) });
  const res = doc && !doc.deleted ? resourceOf(doc) : undefined;
  const carried = new Set(res ? identifierKeys(res) : []);
  for (const key of new Set([...keys, ...carried])) {
    if (!carried.has(key)) {
      await c.identifiers.deleteOne({ _id: key, id });
      continue;
    }
    try {
      await c.identifiers.insertOne({ _id: key, rt: type, id, at: new Date() });
    } catch (err) {
      if (!isDuplicateKey(err)) throw err;
    }
  }
}

/**
 * Parses a conditional query that is only `identifier=system|value[,system|value…]`; returns the
 * keys, or undefined when the query is anything else (then a normal search runs).
 */
export function identifierOnlyQuery(type: string, query: string): string[] | undefined {
  const params = new URLSearchParams(query.replace(/^\?/, ''));
  const keys: string[] = [];
  let n = 0;
  for (const [name, value] of params) {
    n++;
    if (name !== 'identifier' || n > 1) return undefined;
    for (const part of splitEscaped(value)) {
      const bar = part.indexOf('|');
      if (bar <= 0 || bar === part.length - 1) return undefined;
      keys.push(`${type}|${part.slice(0, bar)}|${part.slice(bar + 1)}`);
    }
  }
  return keys.length ? keys : undefined;
}

function splitEscaped(value: string): string[] {
  const out: string[] = [];
  let cur = '';
  let escaped = false;
  for (const ch of value) {
    if (escaped) {
      cur += ch;
      escaped = false;
    } else if (ch === '\\') escaped = true;
    else if (ch === ',') {
      out.push(cur);
      cur = '';
    } else cur += ch;
  }
  out.push(cur);
  return out;
}
