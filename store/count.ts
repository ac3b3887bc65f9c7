import type { Collection, Db, Document, Filter } from 'mongodb';

/**
 * How many documents of `collection` match `filter`, asked with the `count` command rather than
 * countDocuments' aggregation. The embedded store answers `count` reading only `_id` from the rows
 * its SQL selects when that SQL applies the filter exactly, and only the filter's fields otherwise
 * (tools/ferretdb/README.md); the aggregation decodes every matching document whole. MongoDB answers
 * both from an index. (Not for use inside a multi-document transaction, where `count` is not allowed.)
 */
export async function countMatching<T extends Document>(db: Db, collection: Collection<T>, filter: Filter<T>): Promise<number> {
  const reply = await db.command({ count: collection.collectionName, query: filter });
  return Number(reply.n);
}
