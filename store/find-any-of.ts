import type { Collection, Document, Filter, FindOptions, WithId } from 'mongodb';

/**
 * Values per `$in` query. The embedded store pushes a `$in` list of up to 10,000 strings on a
 * top-level key down to its indexes (tools/ferretdb/ferretdb-pushdown.patch); a longer list
 * would be filtered in memory there, so lists are sent in chunks well under that.
 */
const CHUNK = 5000;

/**
 * The documents matching `base` (scalar equalities) whose `field` equals any of `values`, each
 * document once: one indexed `$in` query per chunk of values, on MongoDB and the embedded store alike.
 */
export async function findAnyOf<T extends Document>(collection: Collection<T>, base: Filter<T>, field: string, values: readonly string[], options: FindOptions = {}): Promise<WithId<T>[]> {
  const distinct = [...new Set(values)];
  if (!distinct.length) return [];
  const out: WithId<T>[] = [];
  const seen = new Set<unknown>();
  for (let i = 0; i < distinct.length; i += CHUNK) {
    const chunk = distinct.slice(i, i + CHUNK);
    const match = chunk.length === 1 ? chunk[0] : { $in: chunk };
    const limit = options.limit ? options.limit - out.length : 0;
    for (const d of await collection.find({ ...base, [field]: match } as Filter<T>, { ...options, ...(limit ? { limit } : {}) }).toArray()) {
      if (seen.has(d._id)) continue;
      seen.add(d._id);
      out.push(d);
    }
    if (options.limit && out.length >= options.limit) break;
  }
  return out;
}
