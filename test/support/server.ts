import { randomBytes } from 'node:crypto';
import { inject } from 'vitest';
import { loadConfig } from '../../api/config.ts';
import { startServer, type RunningServer } from '../../api/server.ts';

export interface TestServer extends RunningServer {
  /** The FHIR base URL, e.g. http://127.0.0.1:41234/fhir */
  fhir: string;
}

/**
 * Starts the real IDR app on a free loopback port against the test run's database, in a fresh
 * database of its own (dropped on close).
 */
export async function startTestServer(env: Record<string, string> = {}): Promise<TestServer> {
  const dbName = `idr_test_${randomBytes(6).toString('hex')}`;
  const config = loadConfig({ PORT: '0', HOST: '127.0.0.1', MONGODB_URL: inject('mongoUrl'), IDR_DB_NAME: dbName, LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent', NODE_ENV: 'test', IDR_MLLP_PORT: '0', ...env });
  const server = await startServer(config);
  return {
    ...server,
    fhir: `${server.url}/fhir`,
    close: async () => {
      await server.services.database.db.dropDatabase().catch(() => undefined);
      await server.close();
    },
  };
}

/**
 * fetch + JSON with FHIR content type; returns status, headers and parsed body.
 * The body is `any` on purpose: tests reach into FHIR JSON of many shapes and assert on it.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function fhirFetch(url: string, init: RequestInit & { json?: unknown } = {}): Promise<{ status: number; headers: Headers; body: any }> {
  const headers = new Headers(init.headers);
  if (init.json !== undefined) {
    headers.set('content-type', 'application/fhir+json');
  }
  const res = await fetch(url, { ...init, headers, ...(init.json !== undefined ? { body: JSON.stringify(init.json) } : {}) });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    // not JSON: keep the text
  }
  return { status: res.status, headers: res.headers, body };
}
