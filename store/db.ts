import { MongoClient, type Db } from 'mongodb';
import { COLLECTION_NAMES, collections, ensureIndexes, type Collections } from '../schema/collections.ts';

/** A connected database with what IDR needs to know about the server. */
export interface Database {
  client: MongoClient;
  db: Db;
  c: Collections;
  /** True when the server runs multi-document transactions (a MongoDB replica set or mongos). */
  supportsTransactions: boolean;
  /**
   * True on the embedded store (FerretDB 1.24 on PostgreSQL), whose indexes serve only top-level
   * equalities (a string, a boolean, or a `$in` list of strings): every row they select is read,
   * and ranges, sorts and `$or` are applied in memory, so hot paths that sort read narrower
   * equalities there (the timeline's months).
   */
  equalityIndexOnly: boolean;
  close: () => Promise<void>;
  /**
   * Drops every connection and the driver's view of the server, and connects afresh: after the
   * embedded database's process was replaced. (The driver's server monitor was seen not to try
   * the new process at all after some outages, leaving every request unanswered until IDR
   * restarted.) Requests in flight meanwhile fail as the store being unavailable.
   */
  reconnect: () => Promise<void>;
}

/** Connects, detects server capabilities and ensures indexes. */
export async function connectDatabase(url: string, dbName: string): Promise<Database> {
  // Command monitoring only when the URL asks for it (monitorCommands=true): it costs on every command.
  const client = new MongoClient(url, { serverSelectionTimeoutMS: 10_000, appName: 'idr' });
  await client.connect();
  const db = client.db(dbName);
  const hello = await db.admin().command({ hello: 1 });
  const build = await db.admin().command({ buildInfo: 1 }).catch(() => ({}) as Record<string, unknown>);
  const isFerret = typeof build.ferretdbVersion === 'string' || (typeof hello.msg === 'string' && hello.msg === 'FerretDB');
  const supportsTransactions = !isFerret && (typeof hello.setName === 'string' || hello.msg === 'isdbgrid');
  const c = collections(db);
  // MongoDB serves the hot queries from secondary indexes. The embedded store cannot use them
  // (its GIN indexes on EQUALITY_KEYS come from its launcher), so there they would only slow
  // writes; the collections are created up front so those indexes exist before any data.
  if (isFerret) await createCollections(db);
  else await ensureIndexes(db);
  return {
    client,
    db,
    c,
    supportsTransactions,
    equalityIndexOnly: isFerret,
    close: () => client.close(),
    reconnect: async () => {
      await client.close();
      await client.connect();
    },
  };
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

/** Creates every collection IDR keeps (an existing one is left as it is). */
async function createCollections(db: Db): Promise<void> {
  const existing = new Set((await db.listCollections({}, { nameOnly: true }).toArray()).map((c) => c.name));
  for (const name of Object.values(COLLECTION_NAMES)) {
    if (existing.has(name)) continue;
    await db.createCollection(name).catch((err: { code?: number }) => {
      if (err.code !== 48) throw err; // 48: created meanwhile by another connection
    });
  }
}
