import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CapabilityStatement } from '@medplum/fhirtypes';
import { fhirFetch, startTestServer, type TestServer } from './support/server.ts';
import { create, patient } from './support/factory.ts';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server?.close();
});

/** Asserts an OperationOutcome error with this status, and no stack trace anywhere in it. */
function expectOutcome(r: { status: number; body: { resourceType?: string; issue?: { severity?: string }[] }; headers: Headers }, status: number): void {
  expect(r.status).toBe(status);
  expect(r.headers.get('content-type')).toContain('application/fhir+json');
  expect(r.body.resourceType).toBe('OperationOutcome');
  expect(r.body.issue?.[0]?.severity).toMatch(/error|fatal/);
  expect(JSON.stringify(r.body)).not.toMatch(/\bat .*\.(ts|js):\d+|node_modules/);
}

describe('error responses are OperationOutcomes with the right status', () => {
  it('malformed JSON is 400', async () => {
    const r = await fhirFetch(`${server.fhir}/Patient`, { method: 'POST', headers: { 'content-type': 'application/fhir+json' }, body: '{"resourceType": "Patient", ' });
    expectOutcome(r, 400);
    const t = await fhirFetch(server.fhir, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '[1,' });
    expectOutcome(t, 400);
  });

  it('an invalid resource is 400 naming the element', async () => {
    const gender = await fhirFetch(`${server.fhir}/Patient`, { method: 'POST', json: { resourceType: 'Patient', gender: 'x' } });
    expectOutcome(gender, 400);
    expect(JSON.stringify(gender.body)).toContain('Patient.gender');
    const unknown = await fhirFetch(`${server.fhir}/Patient`, { method: 'POST', json: { resourceType: 'Patient', favouriteColour: 'blue' } });
    expectOutcome(unknown, 400);
    expect(JSON.stringify(unknown.body)).toContain('favouriteColour');
    const missing = await fhirFetch(`${server.fhir}/Observation`, { method: 'POST', json: { resourceType: 'Observation', code: { text: 'x' } } });
    expectOutcome(missing, 400);
    expect(JSON.stringify(missing.body)).toContain('Observation.status');
    expectOutcome(await fhirFetch(`${server.fhir}/Patient`, { method: 'POST', json: { resourceType: 'Patient', birthDate: '12-04-1968' } }), 400);
    expectOutcome(await fhirFetch(`${server.fhir}/Patient`, { method: 'POST', json: { resourceType: 'Observation', status: 'final', code: { text: 'x' } } }), 400);
    expectOutcome(await fhirFetch(`${server.fhir}/Patient`, { method: 'POST', json: [] }), 400);
    expectOutcome(await fhirFetch(`${server.fhir}/Patient`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'hello' }), 400);
    expectOutcome(await fhirFetch(`${server.fhir}/Patient`, { method: 'POST', json: { resourceType: 'Patient', _birthDate: 5 } }), 400);
    expectOutcome(await fhirFetch(server.fhir, { method: 'POST', json: { resourceType: 'Bundle', type: 'transaction', entry: 'x' } }), 400);
    expectOutcome(await fhirFetch(server.fhir, { method: 'POST', json: { resourceType: 'Bundle', type: 'transaction', entry: [null] } }), 400);
  });

  it('an unknown resource type is 404 for every interaction', async () => {
    expectOutcome(await fhirFetch(`${server.fhir}/Unicorn`), 404);
    expectOutcome(await fhirFetch(`${server.fhir}/Unicorn/1`), 404);
    expectOutcome(await fhirFetch(`${server.fhir}/Unicorn/1/_history`), 404);
    expectOutcome(await fhirFetch(`${server.fhir}/Unicorn/1/_history/1`), 404);
    expectOutcome(await fhirFetch(`${server.fhir}/Unicorn/_history`), 404);
    expectOutcome(await fhirFetch(`${server.fhir}/Unicorn`, { method: 'POST', json: { resourceType: 'Unicorn' } }), 404);
    expectOutcome(await fhirFetch(`${server.fhir}/Unicorn/1`, { method: 'PUT', json: { resourceType: 'Unicorn', id: '1' } }), 404);
    expectOutcome(await fhirFetch(`${server.fhir}/Unicorn/1`, { method: 'DELETE' }), 404);
    expectOutcome(await fhirFetch(`${server.fhir}/Unicorn/_search`, { method: 'POST' }), 404);
  });

  it('a body id different from the URL id is 400', async () => {
    const p = await create(server.fhir, patient());
    expectOutcome(await fhirFetch(`${server.fhir}/Patient/${p.id}`, { method: 'PUT', json: { ...p, id: 'other-id' } }), 400);
    expectOutcome(await fhirFetch(`${server.fhir}/Patient/${p.id}`, { method: 'PUT', json: { ...p, resourceType: 'Practitioner' } }), 400);
  });

  it('If-Match on a stale version is 412; concurrent writers get 409, never a lost update', async () => {
    const p = await create(server.fhir, patient('999912345'));
    expectOutcome(await fhirFetch(`${server.fhir}/Patient/${p.id}`, { method: 'PUT', headers: { 'if-match': 'W/"2"' }, json: { ...p, gender: 'male' } }), 412);
    const results = await Promise.all(
      Array.from({ length: 12 }, (_, i) => fhirFetch(`${server.fhir}/Patient/${p.id}`, { method: 'PUT', json: { ...p, telecom: [{ system: 'phone', value: `+31 6 ${i}` }] } })),
    );
    const ok = results.filter((r) => r.status === 200);
    const conflicts = results.filter((r) => r.status === 409);
    expect(ok.length + conflicts.length).toBe(results.length);
    for (const c of conflicts) expectOutcome(c, 409);
    const now = (await fhirFetch(`${server.fhir}/Patient/${p.id}`)).body;
    expect(Number(now.meta.versionId)).toBe(1 + ok.length);
    expect((await fhirFetch(`${server.fhir}/Patient/${p.id}/_history`)).body.total).toBe(1 + ok.length);
    expect(conflicts.length).toBeGreaterThan(0);
  });

  it('a missing id is 404, a deleted one 410, an invalid id 404', async () => {
    expectOutcome(await fhirFetch(`${server.fhir}/Patient/does-not-exist`), 404);
    expectOutcome(await fhirFetch(`${server.fhir}/Patient/${'x'.repeat(65)}`), 404);
    expectOutcome(await fhirFetch(`${server.fhir}/Patient/bad$id`), 404);
    const p = await create(server.fhir, patient('999955591'));
    await fhirFetch(`${server.fhir}/Patient/${p.id}`, { method: 'DELETE' });
    expectOutcome(await fhirFetch(`${server.fhir}/Patient/${p.id}`), 410);
    expect((await fhirFetch(`${server.fhir}/Patient/${p.id}`, { method: 'DELETE' })).status).toBe(200);
  });

  it('bad search input is 400, never 500', async () => {
    for (const q of ['_count=-1', '_count=abc', '_offset=x', 'birthdate=gt', 'birthdate=notadate', '_sort=', '_include=Patient', '_lastUpdated=2024-99', 'gender:exact=female', 'name:below=x', 'general-practitioner:identifier=x|y&_total=bogus', 'gender:missing=maybe', '_has:Observation:patient:code=x']) {
      const r = await fhirFetch(`${server.fhir}/Patient?${q}`);
      expect(r.status, q).toBeLessThan(500);
      if (r.status !== 200) expectOutcome(r, r.status);
    }
    expectOutcome(await fhirFetch(`${server.fhir}/Patient?_count=abc`), 400);
    expectOutcome(await fhirFetch(`${server.fhir}/Patient?birthdate:missing=maybe`), 400);
    expectOutcome(await fhirFetch(`${server.fhir}/Observation?code-value-quantity=718-7$5`), 400); // composite: not supported
    expectOutcome(await fhirFetch(`${server.fhir}/Patient/_history?_count=-5`), 400);
    expectOutcome(await fhirFetch(`${server.fhir}/Patient`, { method: 'POST', json: patient(), headers: { 'if-none-exist': 'birthdate=notadate' } }), 400);
  });

  it('unknown routes and operations are 404 OperationOutcomes', async () => {
    expectOutcome(await fhirFetch(`${server.url}/nope`), 404);
    expectOutcome(await fhirFetch(`${server.fhir}/Patient/1/$nonsense`), 404);
  });
});

describe('payload too large', () => {
  it('is 413 above IDR_MAX_BODY_BYTES', async () => {
    const small = await startTestServer({ IDR_MAX_BODY_BYTES: '2000' });
    try {
      const big = patient('999900001', { text: { status: 'generated', div: `<div xmlns="http://www.w3.org/1999/xhtml">${'x'.repeat(3000)}</div>` } });
      expectOutcome(await fhirFetch(`${small.fhir}/Patient`, { method: 'POST', json: big }), 413);
      expect((await fhirFetch(`${small.fhir}/Patient`, { method: 'POST', json: { resourceType: 'Patient', gender: 'female' } })).status).toBe(201);
    } finally {
      await small.close();
    }
  });
});

describe('health and metadata', () => {
  it('/healthz and /readyz', async () => {
    const h = await fhirFetch(`${server.url}/healthz`);
    expect(h.status).toBe(200);
    expect(h.body.status).toBe('ok');
    const r = await fhirFetch(`${server.url}/readyz`);
    expect(r.status).toBe(200);
    expect(r.body.database).toBe('reachable');
  });

  it('/fhir/metadata lists only FHIR 4.0.1 resource types, and _content on DocumentReference', async () => {
    const cs = (await fhirFetch(`${server.fhir}/metadata`)).body as CapabilityStatement;
    const types = cs.rest?.[0]?.resource?.map((r) => r.type) ?? [];
    expect(types).toHaveLength(146); // the R4 resource-types code system, less Resource and DomainResource
    expect(types).not.toContain('SubscriptionStatus');
    expect((await fhirFetch(`${server.fhir}/SubscriptionStatus`)).status).toBe(404);
    const docRef = cs.rest?.[0]?.resource?.find((r) => r.type === 'DocumentReference');
    expect(docRef?.searchParam?.some((p) => p.name === '_content')).toBe(true);
  });

  it('/fhir/metadata is a CapabilityStatement listing types with their search parameters', async () => {
    const r = await fhirFetch(`${server.fhir}/metadata`);
    expect(r.status).toBe(200);
    const cs = r.body as CapabilityStatement;
    expect(cs.resourceType).toBe('CapabilityStatement');
    expect(cs.fhirVersion).toBe('4.0.1');
    const rest = cs.rest?.[0];
    expect(rest?.interaction?.map((i) => i.code).sort()).toEqual(['batch', 'transaction']);
    const byType = new Map<string, NonNullable<typeof rest>['resource'] extends (infer R)[] | undefined ? R : never>(rest?.resource?.map((x) => [x.type, x]));
    for (const t of ['Patient', 'Observation', 'DiagnosticReport', 'ImagingStudy', 'DocumentReference', 'Provenance']) expect(byType.has(t), t).toBe(true);
    const obs = byType.get('Observation');
    const params = new Map(obs?.searchParam?.map((p) => [p.name, p.type]));
    expect(Object.fromEntries(['_id', '_lastUpdated', 'code', 'date', 'subject', 'patient', 'value-quantity', 'category', 'status', 'identifier'].map((n) => [n, params.get(n)]))).toEqual({
      _id: 'token', _lastUpdated: 'date', code: 'token', date: 'date', subject: 'reference', patient: 'reference', 'value-quantity': 'quantity', category: 'token', status: 'token', identifier: 'token',
    });
    expect(params.has('code-value-quantity')).toBe(false); // composite: not supported, so not listed
    expect(obs?.searchInclude).toContain('Observation:subject');
    expect(byType.get('Patient')?.operation?.map((o) => o.name)).toContain('everything');
    expect(obs?.interaction?.map((i) => i.code)).toEqual(expect.arrayContaining(['read', 'vread', 'update', 'delete', 'create', 'search-type', 'history-instance', 'history-type']));
  });
});
