import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authFetch, startTestServer, type TestServer } from './support/server.ts';

/** The landing page at / and at GET /fhir for a person: every link works, no scripts. */

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server?.close();
});

const hrefs = (html: string): string[] => [...html.matchAll(/href="([^"]+)"/g)].map((m) => (m[1] ?? '').replaceAll('&#38;', '&'));

describe('landing page', () => {
  it('GET / is a small HTML index whose every link answers 200, without scripts', async () => {
    const res = await authFetch(`${server.url}/`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    expect(res.headers.get('content-security-policy')).toMatch(/default-src 'none'/);
    const html = await res.text();
    expect(html).not.toMatch(/<script|<link|<img|src=/i);
    for (const text of [`${server.url}/fhir`, 'POST', '/ingest/hl7v2', '/ingest/dicom', '/ingest/documents', '/graphql']) expect(html).toContain(text);
    const links = hrefs(html);
    expect(links).toEqual(expect.arrayContaining([`${server.url}/app/`, `${server.url}/fhir/metadata`, `${server.url}/ingest/messages`, `${server.url}/healthz`, `${server.url}/readyz`]));
    for (const link of links) {
      expect(link.startsWith(server.url), link).toBe(true);
      expect((await authFetch(link)).status, link).toBe(200);
    }
  });

  it('GET /fhir shows the landing page to a browser and to a client that names no FHIR format', async () => {
    for (const accept of ['text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8', '*/*']) {
      const res = await authFetch(`${server.fhir}`, { headers: { accept } });
      expect(res.status, accept).toBe(200);
      expect(res.headers.get('content-type'), accept).toMatch(/^text\/html/);
      expect(await res.text()).toContain(`${server.url}/fhir/metadata`);
    }
  });

  it('GET /fhir is left to the FHIR API for a FHIR client or with a query', async () => {
    for (const [url, accept] of [[server.fhir, 'application/fhir+json'], [server.fhir, 'application/json'], [`${server.fhir}?_count=1`, 'text/html']] as const) {
      const res = await authFetch(url, { headers: { accept } });
      expect(res.headers.get('content-type'), `${url} ${accept}`).not.toMatch(/text\/html/);
    }
  });
});
