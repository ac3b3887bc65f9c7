import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authFetch, startTestServer, type TestServer } from './support/server.ts';

/**
 * HTTP hardening of the running server: security headers, CORS only for configured origins, a
 * per-client rate limit, and no internals in error answers.
 */

let server: TestServer;
const APP_ORIGIN = 'https://app.hospital.example';

beforeAll(async () => {
  server = await startTestServer({ IDR_CORS_ORIGINS: APP_ORIGIN, IDR_RATE_LIMIT_PER_MINUTE: '20' });
});
afterAll(async () => {
  await server?.close();
});

describe('secure defaults over HTTP', () => {
  it('sends security headers and no server banner', async () => {
    const res = await fetch(`${server.fhir}/metadata`);
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('content-security-policy')).toContain("default-src 'self'");
    // The start page narrows it further (no scripts at all).
    expect((await fetch(`${server.url}/`)).headers.get('content-security-policy')).toContain("default-src 'none'");
    expect(res.headers.get('x-frame-options')).toBe('SAMEORIGIN');
    expect(res.headers.get('x-powered-by')).toBeNull();
  });

  it('answers CORS preflights for the configured origin only', async () => {
    const preflight = (origin: string) => fetch(`${server.fhir}/Patient`, { method: 'OPTIONS', headers: { origin, 'access-control-request-method': 'GET', 'access-control-request-headers': 'authorization' } });
    const allowed = await preflight(APP_ORIGIN);
    expect(allowed.headers.get('access-control-allow-origin')).toBe(APP_ORIGIN);
    expect(allowed.headers.get('access-control-allow-headers')?.toLowerCase()).toContain('authorization');
    const other = await preflight('https://evil.example');
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('never puts a stack trace or a file path in an error answer', async () => {
    const bad = await authFetch(`${server.fhir}/Patient`, { method: 'POST', headers: { 'content-type': 'application/fhir+json' }, body: '{"resourceType": "Patient", ' });
    const text = await bad.text();
    expect(bad.status).toBe(400);
    expect(text).not.toMatch(/\bat .+\(.*:\d+:\d+\)|node_modules|\/work\/|\.ts:\d+/);
    const oauth = await fetch(`${server.url}/oauth/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'grant_type=nonsense' });
    expect(oauth.status).toBeGreaterThanOrEqual(400);
    expect(await oauth.text()).not.toMatch(/\bat .+\(.*:\d+:\d+\)|node_modules/);
  });
  // Last: it uses up the minute's allowance.
  it('limits requests per client and says when to come back', async () => {
    let limited: Response | undefined;
    for (let i = 0; i < 30 && !limited; i++) {
      const res = await authFetch(`${server.fhir}/Patient?_count=1`);
      if (res.status === 429) limited = res;
      else await res.arrayBuffer();
    }
    expect(limited?.status).toBe(429);
    expect(limited?.headers.get('retry-after')).toBe('60');
    const body = (await limited?.json()) as { resourceType: string; issue: { code: string }[] };
    expect(body.resourceType).toBe('OperationOutcome');
    expect(body.issue[0]?.code).toBe('throttled');
  });
});
