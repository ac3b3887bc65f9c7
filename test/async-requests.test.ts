import { userToken } from './support/auth.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Bundle, BundleEntry } from '@medplum/fhirtypes';
import { authFetch, fhirFetch, startTestServer, type TestServer } from './support/server.ts';
import { labMessage, newBsn, uid } from './fixtures/ingest/messages.ts';

/**
 * Long requests answered asynchronously (Prefer: respond-async): 202 with a status URL at once,
 * 202 with progress while the work runs, then the answer the request would have had.
 * See: https://hl7.org/fhir/R4/async.html
 */

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server?.close();
});

/** Polls a status URL until it stops answering 202 (bounded), returning the final answer and how many 202s came first. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- FHIR JSON of many shapes, asserted field by field
async function poll(url: string): Promise<{ status: number; body: any; pending: number }> {
  let pending = 0;
  for (let i = 0; i < 2400; i++) {
    const r = await fhirFetch(url);
    if (r.status !== 202) return { ...r, pending };
    expect(r.headers.get('x-progress')).toMatch(/^\d+ of \d+ done$/);
    expect(r.headers.get('retry-after')).toBe('1');
    pending++;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`${url} still running after 2,400 polls`);
}

function transaction(n: number): Bundle {
  const patientUrl = `urn:uuid:${crypto.randomUUID()}`;
  const entry: BundleEntry[] = [{ fullUrl: patientUrl, resource: { resourceType: 'Patient', identifier: [{ system: 'https://hospital.example/mrn', value: `ASYNC-${uid()}` }] }, request: { method: 'POST', url: 'Patient' } }];
  for (let i = 0; i < n; i++) {
    entry.push({ resource: { resourceType: 'Observation', status: 'final', code: { text: `test ${i}` }, subject: { reference: patientUrl }, valueQuantity: { value: i } }, request: { method: 'POST', url: 'Observation' } });
  }
  return { resourceType: 'Bundle', type: 'transaction', entry };
}

// Each request is polled until done: on a busy machine a batch can take a while.
describe('Prefer: respond-async', { timeout: 180_000 }, () => {
  it('a transaction Bundle: 202 with a status URL, then the transaction-response', async () => {
    const r = await fhirFetch(server.fhir, { method: 'POST', headers: { prefer: 'respond-async' }, json: transaction(200) });
    expect(r.status).toBe(202);
    const statusUrl = r.headers.get('content-location') as string;
    expect(statusUrl).toMatch(new RegExp(`^${server.fhir}/_async/[0-9a-f-]{36}$`));
    const done = await poll(statusUrl);
    expect(done.pending).toBeGreaterThan(0); // 200 entries take a while: the URL answered 202 first
    expect(done.status).toBe(200);
    expect(done.body.type).toBe('transaction-response');
    expect(done.body.entry).toHaveLength(201);
    const patient = done.body.entry[0].response.location.split('/_history/')[0];
    expect((await fhirFetch(`${server.fhir}/Observation?subject=${patient}&_summary=count`)).body.total).toBe(200);
    // a finished job can be forgotten; then its URL is gone
    expect((await fhirFetch(statusUrl, { method: 'DELETE' })).status).toBe(202);
    expect((await fhirFetch(statusUrl)).status).toBe(404);
  });

  it('a failing transaction answers its error at the status URL, and wrote nothing', async () => {
    const bundle = transaction(3);
    (bundle.entry as BundleEntry[]).push({ resource: { resourceType: 'Observation', status: 'not-a-status', code: { text: 'bad' } } as never, request: { method: 'POST', url: 'Observation' } });
    const r = await fhirFetch(server.fhir, { method: 'POST', headers: { prefer: 'respond-async' }, json: bundle });
    expect(r.status).toBe(202);
    const done = await poll(r.headers.get('content-location') as string);
    expect(done.status).toBe(400);
    expect(done.body.resourceType).toBe('OperationOutcome');
    const mrn = (bundle.entry?.[0]?.resource as { identifier: { value: string }[] }).identifier[0]?.value;
    expect((await fhirFetch(`${server.fhir}/Patient?identifier=https://hospital.example/mrn|${mrn}&_summary=count`)).body.total).toBe(0);
  });

  it('an HL7 v2 batch: every message stored before the 202, the per-message results at the status URL', async () => {
    const messages = Array.from({ length: 6 }, () => labMessage({ controlId: uid(), bsn: newBsn(), filler: `F-${uid()}` }));
    const r = await authFetch(`${server.url}/ingest/hl7v2`, { method: 'POST', headers: { 'content-type': 'x-application/hl7-v2+er7', prefer: 'respond-async' }, body: messages.join('\r\n') });
    expect(r.status).toBe(202);
    const statusUrl = new URL(r.headers.get('content-location') as string, server.url).toString();
    expect(statusUrl).toMatch(/\/ingest\/jobs\/[0-9a-f-]{36}$/);
    const done = await poll(statusUrl);
    expect(done.status).toBe(201);
    expect(done.body.results).toHaveLength(6);
    expect(done.body.results.every((x: { status: string }) => x.status === 'processed')).toBe(true);
  });

  it('another caller cannot read the result, and an unknown job is 404', async () => {
    const r = await fhirFetch(server.fhir, { method: 'POST', headers: { prefer: 'respond-async' }, json: transaction(1) });
    const statusUrl = r.headers.get('content-location') as string;
    await poll(statusUrl);
    // Another client (its own token, not the one that started the job) gets 404.
    const other = await userToken(server.url, 'admin', 'openid user/*.cruds');
    expect((await fhirFetch(statusUrl, { headers: { authorization: `Bearer ${other}` } })).status).toBe(404);
    expect((await fhirFetch(statusUrl)).status).toBe(200);
    expect((await fhirFetch(`${server.fhir}/_async/00000000-0000-0000-0000-000000000000`)).status).toBe(404);
  });
});
