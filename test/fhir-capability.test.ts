import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Bundle, BundleEntry, CapabilityStatement, CapabilityStatementRestResourceSearchParam, Resource } from '@medplum/fhirtypes';
import { fhirFetch, startTestServer, type TestServer } from './support/server.ts';
import { create, labObservation, patient } from './support/factory.ts';

/**
 * The CapabilityStatement says only what is true: every search parameter it lists is accepted by
 * a search, every operation it lists answers, and nothing IDR does not serve is listed.
 */

let server: TestServer;
let statement: CapabilityStatement;

beforeAll(async () => {
  server = await startTestServer();
  const r = await fhirFetch(`${server.fhir}/metadata`);
  expect(r.status).toBe(200);
  statement = r.body as CapabilityStatement;
});
afterAll(async () => {
  await server?.close();
});

const resources = () => statement.rest?.[0]?.resource ?? [];

/** A value of the parameter's type that a search must accept. */
function sampleValue(p: CapabilityStatementRestResourceSearchParam): string {
  switch (p.type) {
    case 'date':
      return 'ge2020-01-01';
    case 'number':
      return 'gt5';
    case 'quantity':
      return 'lt5.4|http://unitsofmeasure.org|mmol/L';
    case 'reference':
      return 'Patient/abc';
    case 'uri':
      return 'http://example.org/fhir/x';
    case 'token':
      return 'http://example.org/system|code';
    default:
      return 'word';
  }
}

describe('CapabilityStatement', () => {
  it('lists every resource type with search parameters, and none that IDR cannot serve', () => {
    expect(resources().length).toBeGreaterThan(140);
    const names = new Set(resources().flatMap((r) => (r.searchParam ?? []).map((p) => p.name)));
    for (const unserved of ['_compartment', '_project']) expect(names.has(unserved), unserved).toBe(false);
    const types = new Set(resources().flatMap((r) => (r.searchParam ?? []).map((p) => p.type)));
    expect([...types].sort()).toEqual(['date', 'number', 'quantity', 'reference', 'string', 'token', 'uri']);
  });

  it('every advertised search parameter and _include is accepted by a search (no 400)', async () => {
    let checked = 0;
    for (const r of resources()) {
      const params = [
        ...(r.searchParam ?? []).map((p) => ({ name: p.name, query: `${p.name}=${encodeURIComponent(sampleValue(p))}` })),
        ...(r.searchInclude ?? []).map((inc) => ({ name: `_include=${inc}`, query: `_include=${encodeURIComponent(inc)}` })),
      ];
      const entry: BundleEntry[] = params.map((p) => ({ request: { method: 'GET', url: `${r.type}?${p.query}&_count=1` } }));
      const res = await fhirFetch(server.fhir, { method: 'POST', json: { resourceType: 'Bundle', type: 'batch', entry } satisfies Bundle });
      expect(res.status, r.type).toBe(200);
      const refused = (res.body.entry as BundleEntry[]).flatMap((e, i) =>
        e.response?.status.startsWith('200') ? [] : [`${r.type}?${params[i]?.name}: ${e.response?.status} ${e.response?.outcome?.issue?.[0]?.details?.text}`],
      );
      expect(refused).toEqual([]);
      checked += params.length;
    }
    expect(checked).toBeGreaterThan(3000);
    // a sample over REST too (batch entries and REST share the router; see fhir-batch-equivalence)
    expect((await fhirFetch(`${server.fhir}/Observation?value-quantity=lt5.4|http://unitsofmeasure.org|mmol/L`)).status).toBe(200);
    expect((await fhirFetch(`${server.fhir}/Patient?_profile=http://example.org/p`)).status).toBe(200);
  }, 120_000); // some 3,500 searches

  it('parameters it does not list are refused, not silently ignored', async () => {
    for (const q of ['Patient?_compartment=Patient/1', 'Observation?_project=x', 'Location?near=1|2|3']) {
      const r = await fhirFetch(`${server.fhir}/${q}`);
      expect(r.status, q).toBe(400);
      expect(r.body.resourceType).toBe('OperationOutcome');
    }
  });

  it('every advertised operation answers', async () => {
    const pid = (await create(server.fhir, patient('999966601'))).id;
    await create(server.fhir, labObservation(pid, 'capability'));
    const instances: Record<string, string> = { Patient: pid };
    const operations = resources().flatMap((r) => (r.operation ?? []).map((op) => ({ type: r.type, name: op.name })));
    expect(operations.map((o) => `${o.type}/$${o.name}`).sort()).toEqual(['Group/$evaluate', 'Group/$export', 'Patient/$access-log', 'Patient/$everything', 'Patient/$export', 'Patient/$merge', 'Patient/$timeline', 'Task/$changes', 'Task/$decide', 'Task/$prepare', 'Task/$share', 'Task/$unshare']);
    // $merge changes data: it answers a POST (test/patient-merge.test.ts) and refuses a GET
    const other = (await create(server.fhir, patient('999966613'))).id;
    const get = await fhirFetch(`${server.fhir}/Patient/${pid}/$merge?target-patient=Patient/${other}`);
    expect(get.status).toBe(400);
    expect(JSON.stringify(get.body)).toContain('use POST');
    // The access log shows the accesses chained into the audit trail so far.
    await server.services.audit.flush();
    // $evaluate writes too (test/cohort.test.ts); $export is asynchronous only (test/bulk-export.test.ts).
    // A tumour board case's $prepare, $changes and $decide need a case Task (test/tumour-board.test.ts).
    const evaluate = await fhirFetch(`${server.fhir}/Group/any/$evaluate`);
    expect(evaluate.status).toBe(400);
    for (const op of operations.filter((o) => !['merge', 'evaluate', 'export'].includes(o.name) && o.type !== 'Task')) {
      const id = instances[op.type];
      expect(id, `an instance of ${op.type} to call $${op.name} on`).toBeDefined();
      const r = await fhirFetch(`${server.fhir}/${op.type}/${id}/$${op.name}`);
      expect(r.status, `${op.type}/$${op.name}`).toBe(200);
      expect((r.body as Resource).resourceType).toBe('Bundle');
      expect((r.body as Bundle).entry?.length, `${op.type}/$${op.name}`).toBeGreaterThan(0);
    }
    // and an operation it does not list does not answer
    expect((await fhirFetch(`${server.fhir}/Patient/${pid}/$lastn`)).status).toBe(404);
  });
});
