import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { MongoClient } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CREDENTIALS_FILE, startEmbeddedDb, type EmbeddedDb } from '../store/embedded-db.ts';

/**
 * The embedded database (a database of its own in a temporary folder) is as closed as the API:
 * its TCP port gives nothing to a client without the password or with a wrong one, and its files
 * are readable by their owner only.
 */

let root: string;
let dataDir: string;
let db: EmbeddedDb;
beforeAll(async () => {
  root = path.join(await mkdtemp(path.join(tmpdir(), 'idr-db-security-')), 'data');
  dataDir = path.join(root, 'db');
  db = await startEmbeddedDb({ dataDir, privateRoot: root, supervise: false });
  const owner = new MongoClient(db.url, { serverSelectionTimeoutMS: 20_000 });
  try {
    await owner.db('secret').collection('c').insertOne({ _id: 'x' as never, phi: 'Jansen' });
  } finally {
    await owner.close();
  }
});
afterAll(async () => {
  await db?.stop();
  if (root) await rm(path.dirname(root), { recursive: true, force: true });
});

/** The URL without credentials: "mongodb://127.0.0.1:port/". */
const anonymousUrl = (): string => db.url.replace(/\/\/[^@/]*@/, '//').replace(/\?.*$/, '');

/** What a client at `url` gets when it tries to list the databases and read the document. */
async function attempt(url: string): Promise<{ databases?: string[]; doc?: unknown; error?: string }> {
  const client = new MongoClient(url, { serverSelectionTimeoutMS: 5_000 });
  try {
    const databases = (await client.db('admin').admin().listDatabases()).databases.map((d) => d.name);
    const doc = await client.db('secret').collection('c').findOne({});
    return { databases, doc };
  } catch (err) {
    return { error: (err as Error).message };
  } finally {
    await client.close();
  }
}

const mode = async (p: string): Promise<number> => (await stat(p)).mode & 0o777;

describe('embedded database security', () => {
  it('serves the owner, whose URL carries the credentials from the credentials file', async () => {
    const creds = JSON.parse(await readFile(path.join(dataDir, CREDENTIALS_FILE), 'utf8')) as { user: string; password: string };
    expect(creds.password.length).toBeGreaterThanOrEqual(32);
    expect(db.url).toContain(`${creds.user}:${creds.password}@`);
    expect(db.url).toContain('authMechanism=PLAIN');
    const r = await attempt(db.url);
    expect(r.error).toBeUndefined();
    expect(r.databases).toContain('secret');
    expect(r.doc).toEqual({ _id: 'x', phi: 'Jansen' });
  });

  it('refuses a client without credentials', async () => {
    const r = await attempt(anonymousUrl());
    expect(r.error).toMatch(/password/i);
    expect(r.databases).toBeUndefined();
    expect(r.doc).toBeUndefined();
  });

  it('refuses a client with a wrong password', async () => {
    const wrong = db.url.replace(/:([^:@/]+)@/, ':wrong-password@');
    expect(wrong).not.toBe(db.url);
    const r = await attempt(wrong);
    expect(r.error).toMatch(/password/i);
    expect(r.doc).toBeUndefined();
  });

  it('keeps its directories 0700 and its files 0600', async () => {
    const asRoot = process.getuid?.() === 0;
    // As root, PostgreSQL runs as "postgres", which may pass through (not list) IDR_DATA_DIR.
    expect(await mode(root)).toBe(asRoot ? 0o701 : 0o700);
    expect(await mode(dataDir)).toBe(0o700);
    expect(await mode(path.join(dataDir, 'pg'))).toBe(0o700);
    expect(await mode(path.join(dataDir, 'pg-socket'))).toBe(0o700);
    for (const file of [CREDENTIALS_FILE, 'launcher.log', 'postgresql.log']) {
      expect(await mode(path.join(dataDir, file)), file).toBe(0o600);
    }
  });
});
