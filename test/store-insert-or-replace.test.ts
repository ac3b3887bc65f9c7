import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from './support/server.ts';
import { insertOrReplace } from '../store/duplicate-key.ts';

/** insertOrReplace: one insert for the new documents, a replace for those whose `_id` is taken. */

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server?.close();
});

describe('insertOrReplace', () => {
  it('inserts new documents and replaces the ones that exist, whole', async () => {
    const c = server.services.database.db.collection<{ _id: string; v: number; old?: boolean }>('insert_or_replace_probe');
    await c.insertMany([
      { _id: 'a', v: 1, old: true },
      { _id: 'b', v: 1, old: true },
    ]);
    await insertOrReplace(c, [
      { _id: 'b', v: 2 },
      { _id: 'c', v: 2 },
      { _id: 'd', v: 2 },
    ]);
    const docs = await c.find({}).sort({ _id: 1 }).toArray();
    expect(docs).toEqual([
      { _id: 'a', v: 1, old: true },
      { _id: 'b', v: 2 },
      { _id: 'c', v: 2 },
      { _id: 'd', v: 2 },
    ]);
    await insertOrReplace(c, []);
    expect(await c.countDocuments()).toBe(4);
  });
});
