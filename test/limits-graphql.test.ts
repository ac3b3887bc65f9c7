/* eslint-disable @typescript-eslint/no-explicit-any -- assertions read GraphQL JSON bodies */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authFetch, fhirFetch, startTestServer, type TestServer } from './support/server.ts';

/**
 * GraphQL limits through the running server: 300 aliased `patients` fields, too many root fields
 * and a too costly operation are refused with extensions.code QUERY_TOO_COMPLEX before anything
 * runs, and the endpoint answers the next query.
 */

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
  const created = await fhirFetch(`${server.fhir}/Patient`, { method: 'POST', json: { resourceType: 'Patient', identifier: [{ system: 'urn:test:limits', value: 'g1' }], name: [{ family: 'Graaf', given: ['Lies'] }] } });
  expect(created.status).toBe(201);
});
afterAll(async () => {
  await server?.close();
});

async function gql(query: string): Promise<{ status: number; data?: any; errors?: { message: string; extensions?: Record<string, unknown> }[] }> {
  const res = await authFetch(`${server.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json' }, body: JSON.stringify({ query }) });
  return { status: res.status, ...((await res.json()) as object) };
}

async function stillAnswers(): Promise<void> {
  const r = await gql('{ patients(identifier: "urn:test:limits|g1") { totalCount edges { node { family } } } }');
  expect(r.errors).toBeUndefined();
  expect(r.data.patients).toEqual({ totalCount: 1, edges: [{ node: { family: 'Graaf' } }] });
}

describe('GraphQL limits', () => {
  it('refuses 300 aliased patients fields, naming the limits', async () => {
    const r = await gql(`{ ${Array.from({ length: 300 }, (_, i) => `p${i}: patients { totalCount }`).join(' ')} }`);
    expect(r.status).toBeLessThan(500);
    expect(r.data ?? null).toBeNull();
    expect(r.errors?.map((e) => e.extensions?.code)).toEqual(['QUERY_TOO_COMPLEX', 'QUERY_TOO_COMPLEX']);
    expect(r.errors?.[0]?.message).toContain('300 root fields; at most 10');
    expect(r.errors?.[1]?.message).toContain('300 aliased fields; at most 30');
    await stillAnswers();
  });

  it('refuses an operation within the field limits whose cost counts each aliased copy', async () => {
    const one = 'patients(first: 200) { edges { node { caseSummary { since } } } }';
    const r = await gql(`{ ${Array.from({ length: 5 }, (_, i) => `p${i}: ${one}`).join(' ')} }`);
    expect(r.errors?.[0]?.extensions).toMatchObject({ code: 'QUERY_TOO_COMPLEX', max: 50_000 });
    expect(r.errors?.[0]?.message).toMatch(/^Query cost \d+ exceeds the maximum of 50000 \(IDR_GRAPHQL_MAX_COST\)/);
    expect(r.data ?? null).toBeNull();
    await stillAnswers();
  });

  it('accepts a few aliased fields', async () => {
    const r = await gql('{ a: patients(identifier: "urn:test:limits|g1") { totalCount } b: patients(name: "Graaf") { totalCount } }');
    expect(r.errors).toBeUndefined();
    expect(r.data).toEqual({ a: { totalCount: 1 }, b: { totalCount: 1 } });
  });
});
