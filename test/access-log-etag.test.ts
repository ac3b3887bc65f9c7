import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { loadConfig } from '../api/config.ts';
import { createLogger } from '../api/logger.ts';
import { startServices, type Services } from '../api/services.ts';
import { createApp } from '../api/app.ts';
import { authFetch, clientCredentialsToken, fhirFetch, TEST_CLIENT, useToken } from './support/server.ts';
import { startSecurity, type Security } from '../api/auth/security.ts';

/**
 * The real app with its log captured: access-log paths keep their mount prefix and never carry the
 * query; only FHIR reads have an ETag (W/"versionId"), never errors or searches.
 */

interface LogLine { msg: string; method?: string; path?: string; status?: number }
const lines: LogLine[] = [];
let services: Services;
let security: Security;
let server: Server;
let url = '';

beforeAll(async () => {
  const config = loadConfig({ MONGODB_URL: inject('mongoUrl'), IDR_DB_NAME: `idr_test_${randomBytes(6).toString('hex')}`, IDR_MLLP_PORT: 'off', NODE_ENV: 'test', IDR_DEMO_AUTH: 'true', IDR_DEMO_CLIENT_ID: TEST_CLIENT.id, IDR_DEMO_CLIENT_SECRET: TEST_CLIENT.secret });
  services = await startServices(config, createLogger('info', { write: (s: string) => void lines.push(JSON.parse(s) as LogLine) }));
  server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  security = await startSecurity(services, config, url);
  server.on('request', createApp(services, url, security));
  useToken(url, await clientCredentialsToken(url));
});
afterAll(async () => {
  server?.closeAllConnections();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  await security?.close();
  await services?.database.db.dropDatabase().catch(() => undefined);
  await services?.close();
});

/** The access-log line of one request, once its response has finished. */
async function logged(method: string, path: string): Promise<LogLine> {
  return vi.waitFor(() => {
    const line = lines.find((l) => l.msg === 'request' && l.method === method && l.path === path);
    if (!line) throw new Error(`no access-log line for ${method} ${path}; have ${JSON.stringify(lines.filter((l) => l.msg === 'request').map((l) => `${l.method} ${l.path}`))}`);
    return line;
  });
}

describe('access log', () => {
  it('logs the full path of requests to mounted routers, without the query string', async () => {
    const hl7 = await authFetch(`${url}/ingest/hl7v2`, { method: 'POST', headers: { 'content-type': 'x-application/hl7-v2+er7' }, body: 'not a message' });
    expect((await logged('POST', '/ingest/hl7v2')).status).toBe(hl7.status);
    await authFetch(`${url}/ingest/messages?status=failed`);
    expect((await logged('GET', '/ingest/messages')).status).toBe(200);
    await authFetch(`${url}/fhir/Patient?identifier=http://fhir.nl/fhir/NamingSystem/bsn|999911120`);
    expect((await logged('GET', '/fhir/Patient')).status).toBe(200);
    expect(JSON.stringify(lines.filter((l) => l.msg === 'request'))).not.toContain('999911120');
    expect(lines.some((l) => l.path === '/hl7v2' || l.path === '/messages' || l.path === '/Patient')).toBe(false);
  });
});

describe('ETags', () => {
  it('a read has its version ETag; a search, an error and a 404 route have none', async () => {
    const created = await fhirFetch(`${url}/fhir/Patient`, { method: 'POST', json: { resourceType: 'Patient', name: [{ family: 'Visser' }] } });
    expect(created.status).toBe(201);
    const read = await fhirFetch(`${url}/fhir/Patient/${created.body.id}`);
    expect(read.headers.get('etag')).toBe('W/"1"');
    const search = await fhirFetch(`${url}/fhir/Patient?family=Visser`);
    expect(search.status).toBe(200);
    expect(search.body.entry).toHaveLength(1);
    expect(search.headers.get('etag')).toBeNull();
    for (const path of ['/fhir/Patient/does-not-exist', '/fhir/Patient?no-such-parameter=1', '/no-such-route', '/fhir/metadata', '/healthz']) {
      const res = await authFetch(`${url}${path}`);
      expect(res.headers.get('etag'), `${path} (${res.status})`).toBeNull();
    }
  });
});
