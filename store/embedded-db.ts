import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';

/**
 * Starts the embedded FerretDB 1.24 (SQLite backend) built by scripts/bootstrap.sh from
 * tools/ferretdb, on a free loopback port, and returns its MongoDB URL. The child exits when
 * this process exits (it watches its stdin) or when `stop()` is called.
 */

export interface EmbeddedDb {
  url: string;
  stop: () => Promise<void>;
}

/** Starts FerretDB with its data in `dataDir`; `binary` defaults to .cache/bin/ferretdb. */
export async function startEmbeddedDb(options: { dataDir: string; binary?: string; timeoutMs?: number }): Promise<EmbeddedDb> {
  const binary = options.binary ?? path.resolve(import.meta.dirname, '..', '.cache', 'bin', 'ferretdb');
  if (!existsSync(binary)) {
    throw new Error(`embedded FerretDB not found at ${binary}: run "bash scripts/bootstrap.sh" (or "make test"/"make demo") first`);
  }
  await mkdir(options.dataDir, { recursive: true });
  const child = spawn(binary, ['-listen', '127.0.0.1:0', '-data', options.dataDir, '-log-level', process.env.IDR_FERRETDB_LOG ?? 'error'], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const stderr: string[] = [];
  child.stderr?.on('data', (b: Buffer) => {
    stderr.push(b.toString());
    if (process.env.IDR_FERRETDB_LOG) process.stderr.write(b);
    if (stderr.length > 50) stderr.shift();
  });
  const url = await waitForReady(child, stderr, options.timeoutMs ?? 30_000);
  return {
    url,
    stop: () => stopChild(child),
  };
}

function waitForReady(child: ChildProcess, stderr: string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`embedded FerretDB did not start within ${timeoutMs} ms: ${stderr.join('')}`));
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
      reject(new Error(`embedded FerretDB exited with code ${code}: ${stderr.join('')}`));
    });
  });
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}
