import { createHash, randomUUID } from 'node:crypto';

/** A new server-assigned logical id (a UUID). */
export function newResourceId(): string {
  return randomUUID();
}

/**
 * A deterministic id derived from a conditional-create key (e.g. "Patient?identifier=sys|val"),
 * so two writers racing to create the same resource collide on `_id` instead of duplicating it:
 * FerretDB has no unique indexes on computed values and no transactions.
 */
export function deterministicId(key: string): string {
  const h = createHash('sha256').update(key).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** The `_id` of a resource's current document. */
export function resourceKey(type: string, id: string): string {
  return `${type}/${id}`;
}

/** The `_id` of one history document. */
export function historyKey(type: string, id: string, vid: number): string {
  return `${type}/${id}/${vid}`;
}
