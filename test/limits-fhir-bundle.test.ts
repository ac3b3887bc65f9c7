import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fhirFetch, startTestServer, type TestServer } from './support/server.ts';

/**
 * Batch and transaction Bundles over IDR_BUNDLE_MAX_ENTRIES are refused with 413 and an
 * OperationOutcome naming the limit before any entry is written; the server answers the next
 * Bundle.
 */

const MAX = 25;
const SYSTEM = 'urn:test:bundle-limit';
let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ IDR_BUNDLE_MAX_ENTRIES: String(MAX) });
});
afterAll(async () => {
  await server?.close();
});

function bundle(type: 'batch' | 'transaction', entries: number, prefix: string): unknown {
  return {
    resourceType: 'Bundle',
    type,
    entry: Array.from({ length: entries }, (_, i) => ({
      fullUrl: `urn:uuid:00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
      resource: { resourceType: 'Patient', identifier: [{ system: SYSTEM, value: `${prefix}-${i}` }] },
      request: { method: 'POST', url: 'Patient' },
    })),
  };
}

async function patientsWith(prefix: string): Promise<number> {
  const r = await fhirFetch(`${server.fhir}/Patient?identifier=${SYSTEM}|${prefix}-0&_summary=count`);
  return r.body.total as number;
}

describe('Bundle entry limit', () => {
  it.each(['transaction', 'batch'] as const)('refuses a %s Bundle over the limit with 413 naming it, writes nothing, and takes the next one', async (type) => {
    const r = await fhirFetch(server.fhir, { method: 'POST', json: bundle(type, MAX + 1, `${type}-over`) });
    expect(r.status).toBe(413);
    expect(r.body.resourceType).toBe('OperationOutcome');
    expect(r.body.issue[0].details.text).toBe(`The ${type} Bundle has ${MAX + 1} entries; at most ${MAX} are processed per request (IDR_BUNDLE_MAX_ENTRIES): split it into several Bundles. Nothing was written.`);
    expect(await patientsWith(`${type}-over`)).toBe(0);

    const ok = await fhirFetch(server.fhir, { method: 'POST', json: bundle(type, MAX, `${type}-at`) });
    expect(ok.status, JSON.stringify(ok.body).slice(0, 500)).toBe(200);
    expect(ok.body.entry).toHaveLength(MAX);
    expect(await patientsWith(`${type}-at`)).toBe(1);
  });
});
