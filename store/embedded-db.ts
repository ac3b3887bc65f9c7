import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { equalityKeySpec } from '../schema/collections.ts';

/**
 * Starts the embedded database built by scripts/bootstrap.sh from tools/ferretdb: a PostgreSQL
 * cluster in `<dataDir>/pg` behind FerretDB 1.24 (MongoDB wire protocol) on a free loopback
 * port, with GIN indexes on the equality keys each collection declares (schema/collections.ts).
 * Returns its MongoDB URL. The launcher exits, stopping PostgreSQL, when this process exits (it
 * watches its stdin) or when `stop()` is called.
 */

export interface EmbeddedDb {
  url: string;
  /** The launcher's process id (FerretDB runs in it; PostgreSQL's processes are its descendants). */
  pid: number;
  stop: () => Promise<void>;
}

export interface EmbeddedDbOptions {
  /** Where the database files live (created 0700). */
  dataDir: string;
  /** The folder scripts/bootstrap.sh installs into (IDR_CACHE_DIR); the launcher is bin/ferretdb there. */
  cacheDir?: string;
  /** The launcher's log level on stderr: debug, info, warn or error (default). */
  logLevel?: string;
  timeoutMs?: number;
}

/** The default cache folder: .cache in the repository (what scripts/bootstrap.sh uses). */
export const DEFAULT_CACHE_DIR = path.resolve(import.meta.dirname, '..', '.cache');

/** Starts the embedded database with its data in `dataDir`. */
export async function startEmbeddedDb(options: EmbeddedDbOptions): Promise<EmbeddedDb> {
  const binary = path.join(options.cacheDir ?? DEFAULT_CACHE_DIR, 'bin', 'ferretdb');
  if (!existsSync(binary)) {
    throw new Error(`embedded database launcher not found at ${binary}: run "bash scripts/bootstrap.sh" (or "make test"/"make demo") first`);
  }
  await mkdir(options.dataDir, { recursive: true, mode: 0o700 });
  const logLevel = options.logLevel ?? 'error';
  const args = ['-listen', '127.0.0.1:0', '-data', options.dataDir, '-gin', equalityKeySpec(), '-log-level', logLevel];
  const child = spawn(binary, args, {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const stderr: string[] = [];
  child.stderr?.on('data', (b: Buffer) => {
    stderr.push(b.toString());
    if (logLevel !== 'error') process.stderr.write(b);
    if (stderr.length > 50) stderr.shift();
  });
  const url = await waitForReady(child, stderr, options.timeoutMs ?? 120_000);
  return {
    url,
    pid: child.pid as number,
    stop: () => stopChild(child),
  };
}

function waitForReady(child: ChildProcess, stderr: string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`embedded database did not start within ${timeoutMs} ms: ${stderr.join('')}`));
    }, timeoutMs);
    const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
    lines.on('line', (line) => {
      const m = /^READY (mongodb:\/\/\S+)/.exec(line);
      if (m) {
        clearTimeout(timer);
        resolve(m[1] as string);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`embedded database exited with code ${code}: ${stderr.join('')}`));
    });
  });
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  // PostgreSQL's fast shutdown checkpoints first; it stops by itself if the launcher is killed.
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  await exited;
  clearTimeout(timer);
}
