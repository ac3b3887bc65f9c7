import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fhirFetch, startTestServer, type TestServer } from './support/server.ts';
import { freePort } from './support/orthanc.ts';

const STUDY = { '0020000D': { vr: 'UI', Value: ['1.2.3.4.5'] }, '00100020': { vr: 'LO', Value: ['FAIL1'] }, '00080020': { vr: 'DA', Value: ['20240101'] } };

/** A fake PACS whose behaviour per path is set by each test: the failures a real one shows. */
let mode: 'down500' | 'hang' | 'garbage' | 'series500' | 'notArray' = 'down500';
let requests = 0;
let pacs: Server;
let pacsUrl = '';
let downUrl = '';
let server: TestServer;

beforeAll(async () => {
  pacs = createServer((req, res) => {
    requests++;
    const series = /\/series/.test(req.url ?? '');
    if (mode === 'hang') return; // never answers: the client's timeout must fire
    if (mode === 'down500' || (mode === 'series500' && series)) {
      res.writeHead(500, { 'content-type': 'text/plain' }).end('internal error');
      return;
    }
    res.writeHead(200, { 'content-type': 'application/dicom+json' });
    if (mode === 'garbage') res.end('{"0020000D": {"vr": "UI", "Value": ["1.2');
    else if (mode === 'notArray') res.end(JSON.stringify({ hello: 'world' }));
    else res.end(JSON.stringify(series ? [] : [STUDY]));
  });
  await new Promise<void>((resolve) => pacs.listen(0, '127.0.0.1', resolve));
  pacsUrl = `http://127.0.0.1:${(pacs.address() as AddressInfo).port}/dicom-web`;
  downUrl = `http://127.0.0.1:${await freePort()}/dicom-web`;
  // The fake PACS is IDR_DICOMWEB_URL (the source "default"); "down" is a PACS nobody answers for.
  server = await startTestServer({ IDR_DICOMWEB_URL: pacsUrl, IDR_DICOMWEB_SOURCES: JSON.stringify({ down: downUrl }), IDR_DICOMWEB_TIMEOUT_MS: '300', IDR_DICOMWEB_RETRIES: '2', IDR_DICOMWEB_BACKOFF_MS: '10' });
});
afterAll(async () => {
  pacs?.closeAllConnections();
  await new Promise<void>((resolve) => (pacs ? pacs.close(() => resolve()) : resolve()));
  await server?.close();
});

/** Imports from a configured source; without one, from "default" (IDR_DICOMWEB_URL). */
async function importFrom(source?: string): ReturnType<typeof fhirFetch> {
  return fhirFetch(`${server.url}/ingest/dicomweb`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(source ? { source } : {}) });
}

async function nothingWritten(): Promise<void> {
  expect((await fhirFetch(`${server.fhir}/ImagingStudy?_summary=count`)).body.total).toBe(0);
  expect((await fhirFetch(`${server.url}/ingest/messages?kind=dicomweb`)).body.total).toBe(0);
  expect((await fhirFetch(`${server.url}/healthz`)).status).toBe(200);
}

describe('DICOMweb import failures: retried, reported, nothing half-written', () => {
  it('a PACS that is down', async () => {
    const r = await importFrom('down');
    expect(r.status).toBe(502);
    expect(r.body.issue[0].details.text).toMatch(/nothing was imported/);
    expect(r.body.issue[0].diagnostics).toMatch(/kind=network attempts=3/);
    await nothingWritten();
  });

  it('HTTP 500, retried with backoff', async () => {
    mode = 'down500';
    requests = 0;
    const r = await importFrom('default');
    expect(r.status).toBe(502);
    expect(r.body.issue[0].diagnostics).toMatch(/status=500/);
    expect(requests).toBe(3);
    await nothingWritten();
  });

  it('a timeout', async () => {
    mode = 'hang';
    const r = await importFrom();
    expect(r.status).toBe(504);
    expect(r.body.issue[0].details.text).toMatch(/timed out/);
    await nothingWritten();
  });

  it('malformed JSON and JSON that is not DICOM JSON', async () => {
    mode = 'garbage';
    const r = await importFrom('default');
    expect(r.status).toBe(502);
    expect(r.body.issue[0].diagnostics).toMatch(/kind=malformed/);
    mode = 'notArray';
    expect((await importFrom()).status).toBe(502);
    await nothingWritten();
  });

  it('studies answered but their series failing: the study is not written at all', async () => {
    mode = 'series500';
    const r = await importFrom('default');
    expect(r.status).toBe(502);
    await nothingWritten();
    const sync = await server.services.dicomweb.state.get(pacsUrl);
    expect(sync?.lastError?.message).toMatch(/500/);
    expect(sync?.lastSyncAt).toBeUndefined();
  });
});
