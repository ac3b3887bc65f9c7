/** The MongoDB driver's errors for a server it cannot reach (by name, along the cause chain). */
const UNREACHABLE = new Set(['MongoServerSelectionError', 'MongoClientClosedError', 'MongoNetworkError', 'MongoNetworkTimeoutError', 'MongoNotConnectedError', 'MongoPoolClearedError', 'MongoTopologyClosedError']);

/**
 * True when the error (or one it wraps) says the database could not be reached: a fault of the
 * moment, not of the request or input, so the work is to be retried, never marked failed.
 * Followed are `cause` and, for the driver's bulk writes (insertMany, bulkWrite), which wrap a
 * connection error in a MongoBulkWriteError, the wrapped error it keeps as `errorResponse`.
 */
export function isStoreUnavailable(err: unknown): boolean {
  for (let e = err, depth = 0; e && typeof e === 'object' && depth < 5; e = wrapped(e), depth++) {
    if (UNREACHABLE.has((e as { name?: string }).name ?? '')) return true;
  }
  return false;
}

function wrapped(e: object): unknown {
  const { cause, errorResponse } = e as { cause?: unknown; errorResponse?: unknown };
  return cause ?? (errorResponse instanceof Error ? errorResponse : undefined);
}
