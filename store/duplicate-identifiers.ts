import type { Identifier, Resource } from '@medplum/fhirtypes';
import { resourceOf, type Collections } from '../schema/collections.ts';

/**
 * The report of live resources sharing an identifier (system + value): for Patients, the
 * duplicates written before the store made Patient identifiers exclusive, which someone has to
 * merge or correct. One pass over the type's current documents (memory grows with their identifiers).
 */

/** Live resources of one type that carry the same identifier. */
export interface DuplicateIdentifierGroup {
  system: string;
  value: string;
  /** "Type/id" of each resource carrying it, oldest update first. */
  resources: string[];
}

/** Every identifier two or more live resources of `type` (default Patient) carry, sorted by system and value. */
export async function findDuplicateIdentifiers(c: Collections, type = 'Patient'): Promise<DuplicateIdentifierGroup[]> {
  const holders = new Map<string, string[]>();
  // `rt` alone: the embedded store pushes that equality down; tombstones are skipped below.
  const cursor = c.resources.find({ rt: type }, { projection: { id: 1, deleted: 1, json: 1, lu: 1 } }).sort({ lu: 1, _id: 1 });
  for await (const doc of cursor) {
    if (doc.deleted) continue;
    const res = resourceOf<Resource>(doc);
    if (!res) continue;
    const raw = (res as { identifier?: Identifier | Identifier[] }).identifier;
    const list = Array.isArray(raw) ? raw : raw ? [raw] : [];
    const seen = new Set<string>();
    for (const i of list) {
      if (!i.system || !i.value) continue;
      const key = `${i.system}|${i.value}`;
      if (seen.has(key)) continue;
      seen.add(key);
      const ids = holders.get(key);
      if (ids) ids.push(`${type}/${doc.id}`);
      else holders.set(key, [`${type}/${doc.id}`]);
    }
  }
  const groups: DuplicateIdentifierGroup[] = [];
  for (const [key, resources] of holders) {
    if (resources.length < 2) continue;
    const bar = key.indexOf('|');
    groups.push({ system: key.slice(0, bar), value: key.slice(bar + 1), resources });
  }
  return groups.sort((a, b) => a.system.localeCompare(b.system) || a.value.localeCompare(b.value));
}
