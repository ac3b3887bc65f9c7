import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OperationOutcomeError } from '@medplum/core';
import type { Coding, Extension, Resource } from '@medplum/fhirtypes';
import { fhirFetch, startTestServer, type TestServer } from './support/server.ts';
import { hl7CodingProblem, isHl7CodeSystemUrl } from './support/terminology.ts';
import { loadDemoData, type DemoSummary } from '../seed/load-demo.ts';
import { assertValidResource } from '../schema/validate.ts';
import { unresolvedReferenceIssues } from '../store/reference-check.ts';
import { resourceOf } from '../schema/collections.ts';

/**
 * The validator's view of what IDR stores: the demo data, loaded through the real pipeline, checked
 * resource by resource with @medplum/core's validation plus IDR's required-binding, narrative,
 * UCUM and OID checks, referential integrity, and what the HL7 validator checks of IDR's own
 * mappings (HL7 code systems resolve, codes and displays agree, every Coding has a system, every
 * extension has a StructureDefinition).
 */

/** HL7 code-system URLs for external terminologies, defined by terminology.hl7.org after R4 (so not in the R4 definitions). */
const DEFINED_OUTSIDE_R4 = new Set(['http://terminology.hl7.org/CodeSystem/icd-o-3']);

let server: TestServer;
let summary: DemoSummary;
const stored: Resource[] = [];
beforeAll(async () => {
  server = await startTestServer();
  summary = await loadDemoData(server.services);
  for await (const doc of server.services.database.c.resources.find({ deleted: false })) {
    const res = resourceOf(doc);
    if (res) stored.push(res);
  }
}, 600_000);
afterAll(async () => {
  await server?.close();
});

function codings(value: unknown, path: string, out: { path: string; coding: Coding }[] = []): { path: string; coding: Coding }[] {
  if (Array.isArray(value)) value.forEach((v, i) => codings(v, `${path}[${i}]`, out));
  else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      if (k === 'coding' && Array.isArray(v)) v.forEach((c: Coding, i) => out.push({ path: `${path}.coding[${i}]`, coding: c }));
      codings(v, `${path}.${k}`, out);
    }
  }
  return out;
}

function extensionUrls(value: unknown, out = new Set<string>()): Set<string> {
  if (Array.isArray(value)) for (const v of value) extensionUrls(v, out);
  else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      // Sub-extensions of a complex extension have relative urls defined by its StructureDefinition.
      if ((k === 'extension' || k === 'modifierExtension') && Array.isArray(v)) for (const e of v as Extension[]) if (/^[a-z]+:/.test(e.url)) out.add(e.url);
      extensionUrls(v, out);
    }
  }
  return out;
}

describe('the stored demo data is valid FHIR R4', () => {
  it('loads every demo input', () => {
    expect(summary.failures).toEqual([]);
    expect(stored.length).toBeGreaterThan(200);
    expect(new Set(stored.map((r) => r.resourceType)).size).toBeGreaterThanOrEqual(7);
  });

  it('every resource passes validation and binding, narrative, UCUM and OID checks', () => {
    const errors: string[] = [];
    for (const r of stored) {
      try {
        assertValidResource(r);
      } catch (err) {
        if (!(err instanceof OperationOutcomeError)) throw err;
        for (const i of err.outcome.issue ?? []) errors.push(`${r.resourceType}/${r.id} ${i.expression?.[0] ?? ''}: ${i.details?.text ?? ''}`);
      }
    }
    expect(errors).toEqual([]);
  });

  it('every reference resolves', async () => {
    const errors: string[] = [];
    for (const r of stored) {
      for (const i of await unresolvedReferenceIssues(server.services.database, r, server.services.repo.referencePolicy)) errors.push(`${r.resourceType}/${r.id} ${i.expression?.[0]}: ${i.details?.text}`);
    }
    expect(errors).toEqual([]);
  });

  it('every Coding has a system; HL7 code systems resolve, hold the code and agree on the display', () => {
    const errors = new Set<string>();
    for (const r of stored) {
      for (const { path, coding } of codings(r, r.resourceType)) {
        if (!coding.system) errors.add(`${path}: Coding ${coding.code ?? ''} has no system`);
        else if (isHl7CodeSystemUrl(coding.system) && !DEFINED_OUTSIDE_R4.has(coding.system)) {
          const problem = hl7CodingProblem(coding.system, coding.code, coding.display);
          if (problem) errors.add(`${path}: ${problem}`);
        }
      }
    }
    expect([...errors]).toEqual([]);
  });

  it('every extension is defined: by FHIR R4, as an official R5 cross-version extension, or by a StructureDefinition IDR serves', async () => {
    const urls = extensionUrls(stored);
    const own = [...urls].filter((u) => !u.startsWith('http://hl7.org/fhir/'));
    expect(own.length).toBeGreaterThan(0);
    for (const url of own) {
      const r = await fhirFetch(`${server.fhir}/StructureDefinition?url=${encodeURIComponent(url)}`);
      expect(r.body.entry?.map((e: { resource: { url: string; type: string } }) => [e.resource.url, e.resource.type]), url).toEqual([[url, 'Extension']]);
    }
  });
});
