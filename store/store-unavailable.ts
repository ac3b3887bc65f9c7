/** The MongoDB driver's errors for a server it cannot reach (by name, along the cause chain). */
const UNREACHABLE = new Set(['MongoServerSelectionError', 'MongoClientClosedError', 'MongoNetworkError', 'MongoNetworkTimeoutError', 'MongoNotConnectedError', 'MongoPoolClearedError', 'MongoTopologyClosedError']);

/**
 * True when the error (or one it wraps) says the database could not be reached: a fault of the
 * moment, not of the request or input, so the work is to be retried, never marked failed.
 */
export function isStoreUnavailable(err: unknown): boolean {
  for (let e = err, depth = 0; e && typeof e === 'object' && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    if (UNREACHABLE.has((e as { name?: string }).name ?? '')) return true;
  }
  return false;
}
