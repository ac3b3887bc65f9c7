import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmbeddedDb, type EmbeddedDbEvent } from '../store/embedded-db.ts';

/**
 * The embedded database's supervisor on its own (a database of its own in a temporary folder):
 * what it reports when the launcher dies, that stop() during the back-off ends it without a new
 * launcher, and that an unsupervised database just reports that it stopped.
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
