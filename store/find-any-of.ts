import type { Collection, Document, Filter, FindOptions, WithId } from 'mongodb';

/** At most this many single-value queries run at once on the embedded store. */
const PARALLEL = 16;

/**
 * The documents matching `base` (scalar equalities) whose `field` equals any of `values`. MongoDB
 * answers one `$in` query from an index. The embedded store pushes only scalar equality down to
 * its indexes (an `$in` reads the whole collection), so there it runs one indexed query per value
 * and merges the results, each document once; by `_id` that is a bare point lookup, with `base`
 * checked on the document found.
 */
export async function findAnyOf<T extends Document>(
  collection: Collection<T>,
  equalityOnly: boolean,
  base: Filter<T>,
  field: string,
  values: readonly string[],
  options: FindOptions = {},
): Promise<WithId<T>[]> {
  const distinct = [...new Set(values)];
  if (!distinct.length) return [];
  if (!equalityOnly || distinct.length === 1) {
    const match = distinct.length === 1 ? distinct[0] : { $in: distinct };
    return collection.find({ ...base, [field]: match } as Filter<T>, options).toArray();
  }
  const seen = new Set<unknown>();
  const out: WithId<T>[] = [];
  const byId = field === '_id';
  const checks = Object.entries(base as Record<string, unknown>);
  const idOptions = byId && options.projection ? { ...options, projection: { ...options.projection, ...Object.fromEntries(checks.map(([k]) => [k, 1])) } } : options;
  for (let i = 0; i < distinct.length; i += PARALLEL) {
    const batches = await Promise.all(
      distinct.slice(i, i + PARALLEL).map((v) => collection.find((byId ? { _id: v } : { ...base, [field]: v }) as Filter<T>, idOptions).toArray()),
    );
    for (const d of batches.flat()) {
      if (byId && !checks.every(([k, want]) => (d as Record<string, unknown>)[k] === want)) continue;
      if (seen.has(d._id)) continue;
      seen.add(d._id);
      out.push(d);
    }
  }
  return out;
}
