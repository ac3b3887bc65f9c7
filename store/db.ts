import { MongoClient, type Db } from 'mongodb';
import { collections, ensureIndexes, type Collections } from '../schema/collections.ts';

/** A connected database with what IDR needs to know about the server. */
export interface Database {
  client: MongoClient;
  db: Db;
  c: Collections;
  /** True when the server runs multi-document transactions (a MongoDB replica set or mongos). */
  supportsTransactions: boolean;
  /** True on FerretDB 1.24, which answers only `_id` equality without scanning the collection. */
  idLookupsOnly: boolean;
  close: () => Promise<void>;
}

/** Connects, detects server capabilities and ensures indexes. */
export async function connectDatabase(url: string, dbName: string): Promise<Database> {
  const client = new MongoClient(url, { serverSelectionTimeoutMS: 10_000, appName: 'idr', monitorCommands: true });
  await client.connect();
  const db = client.db(dbName);
  const hello = await db.admin().command({ hello: 1 });
  const build = await db.admin().command({ buildInfo: 1 }).catch(() => ({}) as Record<string, unknown>);
  const isFerret = typeof build.ferretdbVersion === 'string' || (typeof hello.msg === 'string' && hello.msg === 'FerretDB');
  const supportsTransactions = !isFerret && (typeof hello.setName === 'string' || hello.msg === 'isdbgrid');
  const c = collections(db);
  await ensureIndexes(db);
  return { client, db, c, supportsTransactions, idLookupsOnly: isFerret, close: () => client.close() };
}

/** True when the database answers a ping within the driver's timeout. */
export async function pingDatabase(database: Database): Promise<boolean> {
  try {
    await database.db.command({ ping: 1 });
    return true;
  } catch {
    return false;
  }
}
