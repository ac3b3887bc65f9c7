import type { Resource, Identifier } from '@medplum/fhirtypes';
import type { Collection, Db } from 'mongodb';
import { COLLECTION_NAMES, type IdentifierKeyDoc } from '../schema/collections.ts';

/**
 * Identifier keys ("Type|system|value" -> resource), keyed by `_id` (the only query FerretDB answers
 * without a scan, and a scalar key MongoDB can make unique). Conditional creates/updates by
 * identifier — what every ingestion write is — use it instead of a search. It is a hint: every hit
 * is checked against the resource itself, so a stale entry can never produce a wrong match.
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

/** Adds keys for a resource about to be written (before the write, so a crash leaves only hints). */
export async function addIdentifierKeys(c: Collection<IdentifierKeyDoc>, resource: Resource, id: string): Promise<void> {
  for (const key of identifierKeys(resource)) {
    // Insert first: on FerretDB an insert is an indexed write, an update rewrites by scanning.
    try {
      await c.insertOne({ _id: key, rt: resource.resourceType, id });
    } catch (err) {
      if ((err as { code?: number }).code !== 11000) throw err;
      const current = await c.findOne({ _id: key });
      if (current?.id !== id) await c.replaceOne({ _id: key }, { rt: resource.resourceType, id });
    }
  }
}

/** Removes keys the previous version had and the new one does not. */
export async function removeStaleIdentifierKeys(c: Collection<IdentifierKeyDoc>, previous: Resource | undefined, current: Resource | undefined, id: string): Promise<void> {
  if (!previous) return;
  const keep = new Set(current ? identifierKeys(current) : []);
  for (const key of identifierKeys(previous)) {
    if (!keep.has(key)) await c.deleteOne({ _id: key, id });
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
