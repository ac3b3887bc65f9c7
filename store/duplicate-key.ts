/** MongoDB's (and FerretDB's) error code for an insert whose `_id` or unique key is taken. */
export const DUPLICATE_KEY = 11000;

/** Whether a write failed because its key is taken (an insert by `_id` is how IDR claims things atomically). */
export function isDuplicateKey(err: unknown): boolean {
  return (err as { code?: unknown } | null)?.code === DUPLICATE_KEY;
}
