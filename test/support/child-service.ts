import { spawn, type ChildProcess } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { clientCredentialsToken, TEST_CLIENT, useToken } from './server.ts';

/**
 * The real service (`node api/main.ts`) as a child process on its own embedded database (data in
 * `dataDir`, free ports), for tests that kill it and start it again.
 */

const MAIN = path.resolve(import.meta.dirname, '..', '..', 'api', 'main.ts');

export interface ChildService {
  url: string;
  fhir: string;
  mllpPort: number;
  process: ChildProcess;
  /** Everything the service wrote to stdout and stderr so far (for failure messages). */
  output: () => string;
  /** Resolves with the exit code (or signal) once the process has exited. */
  exited: Promise<string>;
  /** SIGKILL: no shutdown work at all. */
  kill: () => Promise<string>;
  /** SIGTERM: the graceful stop. */
  stop: () => Promise<string>;
}

/** Starts the service and waits until it listens (HTTP and MLLP), at most `timeoutMs`. */
export async function startChildService(dataDir: string, timeoutMs = 90_000): Promise<ChildService> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && k !== 'MONGODB_URL') env[k] = v;
  Object.assign(env, { IDR_DATA_DIR: dataDir, PORT: '0', HOST: '127.0.0.1', IDR_MLLP_PORT: '0', NODE_ENV: 'test', LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'warn', IDR_DEMO_AUTH: 'true', IDR_DEMO_CLIENT_ID: TEST_CLIENT.id, IDR_DEMO_CLIENT_SECRET: TEST_CLIENT.secret, IDR_RATE_LIMIT_PER_MINUTE: '0' });
  const child = spawn(process.execPath, [MAIN], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (b: Buffer) => (out += b.toString('utf8')));
  child.stderr.on('data', (b: Buffer) => (out += b.toString('utf8')));
  const exited = new Promise<string>((resolve) => child.once('exit', (code, signal) => resolve(signal ?? String(code))));
  const ready = await new Promise<{ url: string; mllpPort: number } | string>((resolve) => {
    const timer = setTimeout(() => resolve(`not listening within ${timeoutMs} ms`), timeoutMs);
    const check = (): void => {
      const url = /Start page\s+(\S+)\//.exec(out)?.[1];
      const mllp = /HL7 v2 over MLLP\s+\S+:(\d+)/.exec(out)?.[1];
      if (url && mllp && out.includes('Press Ctrl+C to stop.')) {
        clearTimeout(timer);
        resolve({ url, mllpPort: Number(mllp) });
      }
    };
    child.stdout.on('data', check);
    void exited.then((how) => {
      clearTimeout(timer);
      resolve(`exited (${how}) before listening`);
    });
  });
  if (typeof ready === 'string') {
    child.kill('SIGKILL');
    await exited;
    throw new Error(`the service did not start: ${ready}\n${out.slice(-4000)}`);
  }
  const signal = async (sig: NodeJS.Signals): Promise<string> => {
    if (child.exitCode === null && child.signalCode === null) child.kill(sig);
    return exited;
  };
  // A fresh process (and port) each start: the test client signs in to it like any script would.
  useToken(ready.url, await clientCredentialsToken(ready.url));
  return { ...ready, fhir: `${ready.url}/fhir`, process: child, output: () => out, exited, kill: () => signal('SIGKILL'), stop: () => signal('SIGTERM') };
}

/**
 * Waits until no process names `dataDir` on its command line any more (the killed service's
 * database launcher and PostgreSQL stop once their parent is gone), at most `timeoutMs`.
 */
export async function waitForDataDirReleased(dataDir: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const users: string[] = [];
    for (const pid of await readdir('/proc').catch(() => [] as string[])) {
      if (!/^\d+$/.test(pid)) continue;
      const cmd = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
      if (cmd.includes(dataDir)) users.push(pid);
    }
    if (!users.length) return;
    if (Date.now() > deadline) throw new Error(`processes ${users.join(', ')} still use ${dataDir} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
