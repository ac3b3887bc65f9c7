import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { MongoClient } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmbeddedDb, type EmbeddedDbEvent } from '../store/embedded-db.ts';

/**
 * The embedded database's supervisor on its own (a database of its own in a temporary folder):
 * PostgreSQL stopping makes the launcher exit and the supervisor start both again on the same
 * data and URL; what it reports when the launcher dies; that stop() during the back-off ends it
 * without a new launcher; and that an unsupervised database just reports that it stopped.
 */

let dataDir: string;
beforeAll(async () => {
  dataDir = await mkdtemp(path.join(tmpdir(), 'idr-supervisor-'));
});
afterAll(async () => {
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

/** Resolves once `check` is true (polled every 100 ms, at most 30 s). */
async function until(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`${what}: not within 30 s`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('embedded database supervisor', () => {
  it('starts the database again on the same data and URL when PostgreSQL stops', async () => {
    const dir = path.join(dataDir, 'pg-stops');
    const db = await startEmbeddedDb({ dataDir: dir, restartBackoffMs: { initial: 100, max: 1000 } });
    const client = new MongoClient(db.url, { serverSelectionTimeoutMS: 20_000 });
    try {
      const c = client.db('t').collection<{ _id: string; n: number }>('c');
      await c.insertOne({ _id: 'kept', n: 1 });
      const events: EmbeddedDbEvent[] = [];
      db.onEvent((e) => events.push(e));
      const launcher = db.pid;
      const postmaster = Number((await readFile(path.join(dir, 'pg', 'postmaster.pid'), 'utf8')).split('\n')[0]);
      process.kill(postmaster, 'SIGQUIT'); // PostgreSQL's immediate shutdown, as after a crash
      await until(() => db.restarts === 1 && db.state === 'up', 'the database is started again');
      expect(db.pid).not.toBe(launcher);
      expect(events.map((e) => e.state)).toEqual(['restarting', 'up']);
      expect(await c.findOne({ _id: 'kept' })).toEqual({ _id: 'kept', n: 1 });
    } finally {
      await client.close();
      await db.stop();
    }
  }, 120_000);

  it('reports the death and the planned restart; stop() during the back-off ends it without starting a new launcher', async () => {
    const db = await startEmbeddedDb({ dataDir: path.join(dataDir, 'a'), restartBackoffMs: { initial: 60_000, max: 60_000 } });
    const events: EmbeddedDbEvent[] = [];
    db.onEvent((e) => events.push(e));
    const pid = db.pid;
    expect(db.state).toBe('up');
    process.kill(pid, 'SIGKILL');
    await until(() => db.state === 'restarting', 'the supervisor sees the launcher die');
    expect(events).toEqual([{ state: 'restarting', restarts: 0, reason: 'embedded database launcher killed by SIGKILL', retryInMs: 60_000 }]);
    await db.stop();
    expect(db.state).toBe('stopped');
    expect(db.restarts).toBe(0);
    expect(db.pid).toBe(pid);
    expect(alive(pid)).toBe(false);
  }, 120_000);

  it('without supervision, a launcher that dies is reported stopped and not started again', async () => {
    const db = await startEmbeddedDb({ dataDir: path.join(dataDir, 'b'), supervise: false });
    const events: EmbeddedDbEvent[] = [];
    db.onEvent((e) => events.push(e));
    process.kill(db.pid, 'SIGTERM');
    await until(() => db.state === 'stopped', 'the launcher stops');
    expect(events).toEqual([{ state: 'stopped', restarts: 0, reason: 'embedded database launcher exited with code 0' }]);
    await db.stop();
  }, 120_000);
});
