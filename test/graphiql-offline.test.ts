import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authFetch, startTestServer, type TestServer } from './support/server.ts';

/** In development, GraphiQL is served with its scripts inlined: it works on a machine without internet. */

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ NODE_ENV: 'development' });
});
afterAll(async () => {
  await server?.close();
});

describe('GraphiQL in development', () => {
  it('is one page that loads nothing from elsewhere', async () => {
    const res = await authFetch(`${server.url}/graphql`, { headers: { accept: 'text/html' } });
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toMatch(/graphiql/i);
    // every script is inline: no <script src=…> and no stylesheet link to a CDN
    expect(html).not.toMatch(/<script[^>]+src=["']https?:/i);
    expect(html).not.toMatch(/<link[^>]+href=["']https?:/i);
    expect(html).not.toMatch(/unpkg\.com|cdn\.jsdelivr|esm\.sh/);
  });
});
