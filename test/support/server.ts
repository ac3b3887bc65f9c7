import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { inject } from 'vitest';
import { loadConfig } from '../../api/config.ts';
import { startServer, type RunningServer } from '../../api/server.ts';

export interface TestServer extends RunningServer {
  /** The FHIR base URL, e.g. http://127.0.0.1:41234/fhir */
  fhir: string;
  /** A bearer token of the demo client (role admin, every system scope), from the server's own token endpoint. */
  token: string;
}

/** The demo client's credentials the test servers register (IDR_DEMO_AUTH). */
export const TEST_CLIENT = { id: 'idr-test-client', secret: 'idr-test-client-secret' };

/** Bearer tokens per server origin: authFetch and fhirFetch send the one of the server they call. */
const tokens = new Map<string, string>();

/**
 * A token from a server's token endpoint (named by its SMART discovery document) with
 * client_credentials and HTTP Basic client authentication — what a script or interface engine does.
 */
export async function clientCredentialsToken(baseUrl: string, client = TEST_CLIENT, scope = 'system/*.cruds idr/ingest idr/audit'): Promise<string> {
  const smart = (await (await fetch(`${baseUrl}/fhir/.well-known/smart-configuration`)).json()) as { token_endpoint: string };
  const res = await fetch(smart.token_endpoint, {
    method: 'POST',
    headers: { authorization: `Basic ${Buffer.from(`${encodeURIComponent(client.id)}:${encodeURIComponent(client.secret)}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'client_credentials', scope }),
  });
  const body = (await res.json()) as { access_token?: string };
  if (!res.ok || !body.access_token) throw new Error(`no token from ${smart.token_endpoint}: ${res.status} ${JSON.stringify(body)}`);
  return body.access_token;
}

/** Remembers the token to send to a server (tests that start the service themselves). */
export function useToken(baseUrl: string, token: string): void {
  tokens.set(new URL(baseUrl).origin, token);
}

/** fetch that sends the bearer token of the test server it calls (unless the request sets Authorization itself). */
export function authFetch(input: string | URL, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  const token = tokens.get(new URL(input).origin);
  if (token && !headers.has('authorization')) headers.set('authorization', `Bearer ${token}`);
  return fetch(input, { ...init, headers });
}

/**
 * Starts the real IDR app on a free loopback port against the test run's database, in a fresh
 * database of its own (dropped on close), with a data folder of its own (removed on close): test
 * servers run side by side, and a server starting up clears the unfinished exports it finds in its
 * data folder — another server's export in progress, were the folder shared.
 */
/** A test server on the shared test database with the driver's command monitoring on, for tests that count or inspect what is sent. */
export async function startMonitoredTestServer(env: Record<string, string> = {}): Promise<TestServer> {
  const url = new URL(inject('mongoUrl'));
  url.searchParams.set('monitorCommands', 'true');
  return startTestServer({ MONGODB_URL: url.toString(), ...env });
}

export async function startTestServer(env: Record<string, string> = {}): Promise<TestServer> {
  const dbName = `idr_test_${randomBytes(6).toString('hex')}`;
  const ownDataDir = env['IDR_DATA_DIR'] ? undefined : mkdtempSync(path.join(tmpdir(), 'idr-test-data-'));
  const config = loadConfig({ PORT: '0', HOST: '127.0.0.1', MONGODB_URL: inject('mongoUrl'), IDR_DB_NAME: dbName, LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent', NODE_ENV: 'test', IDR_MLLP_PORT: '0', IDR_DEMO_AUTH: 'true', IDR_DEMO_CLIENT_ID: TEST_CLIENT.id, IDR_DEMO_CLIENT_SECRET: TEST_CLIENT.secret, IDR_RATE_LIMIT_PER_MINUTE: '0', ...(ownDataDir ? { IDR_DATA_DIR: ownDataDir } : {}), ...env });
  const server = await startServer(config);
  const token = await clientCredentialsToken(server.url);
  useToken(server.url, token);
  return {
    ...server,
    fhir: `${server.url}/fhir`,
    token,
    close: async () => {
      await server.services.database.db.dropDatabase().catch(() => undefined);
      await server.close();
      if (ownDataDir) rmSync(ownDataDir, { recursive: true, force: true });
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
  const res = await authFetch(url, { ...init, headers, ...(init.json !== undefined ? { body: JSON.stringify(init.json) } : {}) });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    // not JSON: keep the text
  }
  return { status: res.status, headers: res.headers, body };
}
