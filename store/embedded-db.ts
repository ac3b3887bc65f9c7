import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, fchmodSync, openSync } from 'node:fs';
import { chmod, mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { equalityKeySpec } from '../schema/collections.ts';

/**
 * Starts the embedded database built by scripts/bootstrap.sh from tools/ferretdb: a PostgreSQL
 * cluster in `<dataDir>/pg` behind FerretDB 1.24 (MongoDB wire protocol) on a free loopback
 * port, with GIN indexes on the equality keys each collection declares (schema/collections.ts).
 * Returns its MongoDB URL, with the credentials the database asks for: PostgreSQL authenticates
 * every connection (scram-sha-256) and FerretDB passes on what the client gives with
 * authMechanism=PLAIN, so a client without the password in `<dataDir>/credentials` (mode 0600,
 * made by the launcher at first start) reads nothing. The data directory is kept 0700 and its
 * files 0600. The launcher exits, stopping PostgreSQL, when this process exits (it
 * watches its stdin) or when `stop()` is called.
 *
 * The launcher is supervised: when it exits unasked (it does when its PostgreSQL stops, or when
 * it is killed), it is started again on the same data directory and the same loopback address,
 * so the MongoDB URL stays valid and connected drivers find it again; attempts back off from
 * `restartBackoffMs.initial` doubling to `restartBackoffMs.max` until one succeeds or `stop()`.
 */

/** The supervised database's states: answering, being started again after it died, or stopped on request. */
export const EMBEDDED_DB_STATE = { up: 'up', restarting: 'restarting', stopped: 'stopped' } as const;
export type EmbeddedDbState = (typeof EMBEDDED_DB_STATE)[keyof typeof EMBEDDED_DB_STATE];

/** What the supervisor reports: a state change, with the exit or start failure that caused it. */
export interface EmbeddedDbEvent {
  state: EmbeddedDbState;
  /** Restarts so far. */
  restarts: number;
  /** Why: the launcher's exit ("exited with code 1", "killed by SIGKILL") or a failed restart. */
  reason?: string;
  /** The delay before the next attempt, while restarting. */
  retryInMs?: number;
}

export interface EmbeddedDb {
  /** The MongoDB URL, user and password included; the same across restarts. */
  url: string;
  /** The current launcher's process id (FerretDB runs in it; PostgreSQL's processes are its descendants). */
  readonly pid: number;
  /** Up, restarting after the launcher died, or stopped. */
  readonly state: EmbeddedDbState;
  /** How many times the launcher was started again after dying. */
  readonly restarts: number;
  /** Calls `listener` on every state change. */
  onEvent: (listener: (event: EmbeddedDbEvent) => void) => void;
  stop: () => Promise<void>;
}

export interface EmbeddedDbOptions {
  /** Where the database files live (created 0700). */
  dataDir: string;
  /**
   * A directory holding `dataDir` (IDR_DATA_DIR) that is kept 0700 as well. When the launcher runs
   * as root, PostgreSQL runs as the "postgres" account, which the launcher lets pass through it (0701).
   */
  privateRoot?: string;
  /** The folder scripts/bootstrap.sh installs into (IDR_CACHE_DIR); the launcher is bin/ferretdb there. */
  cacheDir?: string;
  /** The launcher's log level (debug, info, warn, error: default), written to <dataDir>/launcher.log. */
  logLevel?: string;
  timeoutMs?: number;
  /** Start the launcher again when it dies (default true). */
  supervise?: boolean;
  /** Back-off between restart attempts (default 250 ms doubling to 10 s). */
  restartBackoffMs?: { initial: number; max: number };
}

/** The default cache folder: .cache in the repository (what scripts/bootstrap.sh uses). */
export const DEFAULT_CACHE_DIR = path.resolve(import.meta.dirname, '..', '.cache');

/** A launcher that ran this long before dying starts the next back-off from the beginning. */
const STABLE_MS = 30_000;

/** Starts the embedded database with its data in `dataDir`, supervised unless `supervise` is false. */
export async function startEmbeddedDb(options: EmbeddedDbOptions): Promise<EmbeddedDb> {
  const binary = path.join(options.cacheDir ?? DEFAULT_CACHE_DIR, 'bin', 'ferretdb');
  if (!existsSync(binary)) {
    throw new Error(`embedded database launcher not found at ${binary}: run "bash scripts/bootstrap.sh" (or "make test"/"make demo") first`);
  }
  if (options.privateRoot) {
    await mkdir(options.privateRoot, { recursive: true, mode: 0o700 });
    await chmod(options.privateRoot, 0o700);
  }
  await mkdir(options.dataDir, { recursive: true, mode: 0o700 });
  await chmod(options.dataDir, 0o700);
  const logLevel = options.logLevel ?? 'error';
  const timeoutMs = options.timeoutMs ?? 120_000;
  const launch = (listen: string): Promise<Launched> =>
    launchOnce(binary, ['-listen', listen, '-data', options.dataDir, '-gin', equalityKeySpec(), '-log-level', logLevel], path.join(options.dataDir, 'launcher.log'), timeoutMs);
  const first = await launch('127.0.0.1:0');
  const listen = hostPortOf(first.url);
  const url = await withCredentials(first.url, options.dataDir).catch(async (err: unknown) => {
    await stopChild(first.child);
    throw err;
  });
  const backoff = options.restartBackoffMs ?? { initial: 250, max: 10_000 };
  const listeners: ((event: EmbeddedDbEvent) => void)[] = [];

  let child = first.child;
  let state: EmbeddedDbState = EMBEDDED_DB_STATE.up;
  let restarts = 0;
  let startedAt = Date.now();
  let nextDelay = backoff.initial;
  let timer: NodeJS.Timeout | undefined;
  let wake: (() => void) | undefined;
  let restarting: Promise<void> | undefined;

  const emit = (event: Omit<EmbeddedDbEvent, 'restarts'>): void => {
    for (const l of listeners) l({ ...event, restarts });
  };
  const sleep = (ms: number): Promise<void> =>
    new Promise((resolve) => {
      wake = resolve;
      timer = setTimeout(resolve, ms);
    });

  const restartLoop = async (reason: string): Promise<void> => {
    // A launcher that died soon after its last start continues the back-off where it was.
    if (Date.now() - startedAt >= STABLE_MS) nextDelay = backoff.initial;
    let why = reason;
    while (state === EMBEDDED_DB_STATE.restarting) {
      const delay = nextDelay;
      nextDelay = Math.min(nextDelay * 2, backoff.max);
      emit({ state, reason: why, retryInMs: delay });
      await sleep(delay);
      if (state !== EMBEDDED_DB_STATE.restarting) return;
      try {
        const launched = await launch(listen);
        if (state !== EMBEDDED_DB_STATE.restarting) {
          await stopChild(launched.child);
          return;
        }
        child = launched.child;
        restarts++;
        startedAt = Date.now();
        state = EMBEDDED_DB_STATE.up;
        watch(child);
        emit({ state, reason: `restarted after: ${reason}` });
      } catch (err) {
        why = `restart failed: ${(err as Error).message}`;
      }
    }
  };

  const watch = (c: ChildProcess): void => {
    c.once('exit', (code, signal) => {
      // Stopped on request, or a launcher already replaced: nothing to do.
      if (c !== child || state !== EMBEDDED_DB_STATE.up) return;
      if (options.supervise === false) {
        state = EMBEDDED_DB_STATE.stopped;
        emit({ state, reason: exitReason(code, signal) });
        return;
      }
      state = EMBEDDED_DB_STATE.restarting;
      restarting = restartLoop(exitReason(code, signal)).finally(() => {
        restarting = undefined;
      });
    });
  };
  watch(child);

  return {
    url,
    get pid() {
      return child.pid as number;
    },
    get state() {
      return state;
    },
    get restarts() {
      return restarts;
    },
    onEvent: (listener) => {
      listeners.push(listener);
    },
    stop: async () => {
      state = EMBEDDED_DB_STATE.stopped;
      clearTimeout(timer);
      wake?.();
      await restarting;
      await stopChild(child);
    },
  };
}

interface Launched {
  url: string;
  child: ChildProcess;
}

/**
 * Starts the launcher once and waits for its READY line. Its log goes to a file (`logFile`), not
 * a pipe: a database must never wait for its parent to read what it logs.
 */
async function launchOnce(binary: string, args: string[], logFile: string, timeoutMs: number): Promise<Launched> {
  const log = openSync(logFile, 'a', 0o600);
  let child: ChildProcess;
  try {
    fchmodSync(log, 0o600);
    child = spawn(binary, args, { stdio: ['pipe', 'pipe', log] });
  } finally {
    closeSync(log);
  }
  // A write to the stdin of a launcher that just died must not become an unhandled error.
  child.stdin?.on('error', () => undefined);
  const url = await waitForReady(child, logFile, timeoutMs);
  return { url, child };
}

/** The end of the launcher's log, for an error message. */
async function logTail(logFile: string): Promise<string> {
  try {
    const text = await readFile(logFile, 'utf8');
    return text.slice(-4000);
  } catch {
    return '';
  }
}

/** The file, in the launcher's data directory, with the user and password it made at first start. */
export const CREDENTIALS_FILE = 'credentials';

/** "mongodb://127.0.0.1:41234/" -> "mongodb://ferretdb:<password>@127.0.0.1:41234/?authMechanism=PLAIN". */
async function withCredentials(announced: string, dataDir: string): Promise<string> {
  const file = path.join(dataDir, CREDENTIALS_FILE);
  const parsed: unknown = JSON.parse(await readFile(file, 'utf8'));
  const { user, password } = (parsed ?? {}) as { user?: unknown; password?: unknown };
  if (typeof user !== 'string' || typeof password !== 'string' || !user || !password) {
    throw new Error(`embedded database credentials in ${file} are not {"user","password"}`);
  }
  return `mongodb://${encodeURIComponent(user)}:${encodeURIComponent(password)}@${hostPortOf(announced)}/?authMechanism=PLAIN`;
}

/** "mongodb://127.0.0.1:41234/" -> "127.0.0.1:41234" (the launcher's -listen for a restart). */
function hostPortOf(url: string): string {
  const m = /^mongodb:\/\/(?:[^@/]*@)?([^/?]+)/.exec(url);
  if (!m) throw new Error(`embedded database announced an unexpected URL: ${url}`);
  return m[1] as string;
}

function exitReason(code: number | null, signal: NodeJS.Signals | null): string {
  return signal ? `embedded database launcher killed by ${signal}` : `embedded database launcher exited with code ${code}`;
}

function waitForReady(child: ChildProcess, logFile: string, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      void logTail(logFile).then((tail) => reject(new Error(`embedded database did not start within ${timeoutMs} ms (log: ${logFile}): ${tail}`)));
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
      void logTail(logFile).then((tail) => reject(new Error(`embedded database exited with code ${code} (log: ${logFile}): ${tail}`)));
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
