import { describe, expect, it } from 'vitest';
import { MongoBulkWriteError, MongoNetworkError, MongoServerError } from 'mongodb';
import { isStoreUnavailable } from './store-unavailable.ts';

describe('isStoreUnavailable', () => {
  it('knows a lost connection, also when a bulk write wraps it', () => {
    const lost = new MongoNetworkError('connection 6 to 127.0.0.1:42323 closed');
    expect(isStoreUnavailable(lost)).toBe(true);
    // What insertMany and bulkWrite throw when the connection breaks under them.
    expect(isStoreUnavailable(new MongoBulkWriteError(lost, {} as never))).toBe(true);
    expect(isStoreUnavailable(new Error('projection failed', { cause: lost }))).toBe(true);
  });

  it('does not take a refused write for an outage', () => {
    const duplicate = new MongoBulkWriteError({ message: 'E11000 duplicate key', code: 11000, writeErrors: [] }, {} as never);
    expect(isStoreUnavailable(duplicate)).toBe(false);
    expect(isStoreUnavailable(new MongoServerError({ message: 'bad value', code: 2 }))).toBe(false);
    expect(isStoreUnavailable(new Error('connection closed'))).toBe(false);
  });
});
