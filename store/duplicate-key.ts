import type { Collection, Document, Filter, OptionalUnlessRequiredId, WithoutId } from 'mongodb';

/** MongoDB's (and FerretDB's) error code for an insert whose `_id` or unique key is taken. */
export const DUPLICATE_KEY = 11000;

/** Whether a write failed because its key is taken (an insert by `_id` is how IDR claims things atomically). */
export function isDuplicateKey(err: unknown): boolean {
  return (err as { code?: unknown } | null)?.code === DUPLICATE_KEY;
}

/** Whether an insert (or insertMany) failed only because keys were taken. */
function isDuplicate(err: unknown): boolean {
  const e = err as { writeErrors?: unknown[] | unknown };
  if (isDuplicateKey(err)) return true;
  const list = Array.isArray(e.writeErrors) ? e.writeErrors : e.writeErrors ? [e.writeErrors] : [];
  return list.length > 0 && list.every(isDuplicateKey);
}

/** The indexes of the documents an insertMany refused for a duplicate key; any other error is thrown. */
export function failedIndexes(err: unknown): number[] {
  if (!isDuplicate(err)) throw err;
  const e = err as { writeErrors?: { index: number }[] | { index: number } };
  const list = Array.isArray(e.writeErrors) ? e.writeErrors : e.writeErrors ? [e.writeErrors] : [];
  return list.map((w) => w.index);
}

/**
 * Writes documents whole, by `_id`: one insert, then a replace of those whose `_id` was taken.
 * Where most are new (the usual case) this is one command, and the embedded store inserts many
 * times faster than it upserts (each upsert is a lookup and a write of its own there).
 */
export async function insertOrReplace<T extends Document & { _id: string }>(collection: Collection<T>, docs: readonly T[]): Promise<void> {
  if (!docs.length) return;
  let taken: number[] = [];
  try {
    await collection.insertMany(docs as OptionalUnlessRequiredId<T>[], { ordered: false });
  } catch (err) {
    taken = failedIndexes(err);
  }
  if (!taken.length) return;
  await collection.bulkWrite(taken.map((i) => ({ replaceOne: { filter: { _id: (docs[i] as T)._id } as Filter<T>, replacement: docs[i] as WithoutId<T>, upsert: true } })));
}
