import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Bundle, Patient, Resource } from '@medplum/fhirtypes';
import { fhirFetch, startTestServer, type TestServer } from './support/server.ts';
import { literalReferences } from '../store/reference-check.ts';

/**
 * R4's official examples (the hl7.fhir.r4.examples package) through IDR's REST API: every example
 * that keeps R4's own rules is stored by one transaction and read back unchanged (apart from
 * meta.versionId and meta.lastUpdated); every one that breaks them is refused with the rule named.
 * The terminology and definition resources of the package (SearchParameter, ValueSet, CodeSystem,
 * StructureDefinition, ConceptMap, and the Bundles of the specification's definition downloads)
 * are the specification itself, not examples, and are left out.
 */

const DIR = path.dirname(createRequire(import.meta.url).resolve('hl7.fhir.r4.examples/package.json'));
const DEFINITIONS = /^(SearchParameter|ValueSet|CodeSystem|StructureDefinition|ConceptMap)-/;
/** The specification's definition downloads, packaged as collection Bundles (Bundle-resources.json alone is 35 MB). */
const DEFINITION_BUNDLES = new Set(['resources', 'types', 'profiles-others', 'extensions', 'searchParams', 'dataelements', 'valuesets', 'v2-valuesets', 'v3-valuesets', 'valueset-expansions', 'conceptmaps', 'terminologies'].map((id) => `Bundle-${id}.json`));

/** Examples that break R4's rules, with what IDR says about each (a part of the first issue's text). */
const REFUSED: Readonly<Record<string, string>> = {
  'ActivityDefinition-blood-tubes-supply.json': 'non-whitespace content (txt-2)',
  'ActivityDefinition-heart-valve-replacement.json': 'non-whitespace content (txt-2)',
  'EventDefinition-example.json': 'non-whitespace content (txt-2)',
  'Questionnaire-zika-virus-exposure-assessment.json': 'non-whitespace content (txt-2)',
  'ImplementationGuide-fhir.json': 'Missing required property',
  'Questionnaire-qs1.json': 'Missing required property',
  'Bundle-xds.json': '"urn:oid:129.6.58.92.88336" is not an OID',
  'Library-zika-virus-intervention-logic.json': '"urn:oid:X.Y.Z" is not an OID',
  'Media-1.2.840.11361907579238403408700.3.1.04.19970327150033.json': 'is not an OID',
  'StructureMap-example.json': '"urn:oid:37843577-95fb-4adb-84c0-8837188a7bf3" is not an OID',
  'Bundle-father.json': 'Invalid UCUM code "tbl"',
  'Claim-760151.json': 'Invalid UCUM code "TAB"',
  'Claim-760152.json': 'Invalid UCUM code "TAB"',
  'MedicationDispense-meddisp0309.json': 'Invalid UCUM code "drop"',
  'MedicationDispense-meddisp0313.json': 'Invalid UCUM code "mEq"',
  'MedicationDispense-meddisp0318.json': 'Invalid UCUM code "mcg"',
  'MedicationDispense-meddisp0324.json': 'Invalid UCUM code "ea"',
  'MedicationDispense-meddisp0327.json': 'Invalid UCUM code "ea"',
  'MedicationDispense-meddisp0328.json': 'Invalid UCUM code "ea"',
  'MedicationDispense-meddisp0329.json': 'Invalid UCUM code "ea"',
  'MedicationRequest-medrx0304.json': 'Invalid UCUM code "drop"',
  'MedicationRequest-medrx0314.json': 'Invalid UCUM code "mcg"',
  'MedicationRequest-medrx0319.json': 'Invalid UCUM code "ml/hr"',
  'MedicationRequest-medrx0322.json': 'Invalid UCUM code "mEq"',
  'MedicationRequest-medrx0325.json': 'Invalid UCUM code "ea"',
  'MedicationRequest-medrx0326.json': 'Invalid UCUM code "ea"',
  'MedicationRequest-medrx0328.json': 'Invalid UCUM code "ea"',
  'MedicationRequest-medrx0329.json': 'Invalid UCUM code "ea"',
  'MedicationRequest-medrx0334.json': 'Invalid UCUM code "ea"',
  'MedicationRequest-medrx0335.json': 'Invalid UCUM code "ea"',
  'VisionPrescription-33124.json': 'Invalid UCUM code "month"',
};

const files = fs.readdirSync(DIR).filter((f) => /^[A-Z].*\.json$/.test(f) && !DEFINITIONS.test(f) && !DEFINITION_BUNDLES.has(f)).sort();
const read = (f: string): Resource => JSON.parse(fs.readFileSync(path.join(DIR, f), 'utf8')) as Resource;
const valid = files.filter((f) => !REFUSED[f]).map(read);
const key = (r: Resource): string => `${r.resourceType}/${r.id}`;

/**
 * Patient examples carrying an identifier an earlier Patient example carries (the package reuses
 * some, e.g. a US SSN): IDR keeps one Patient per identifier, so these are refused (409), with the
 * identifier each repeats.
 */
function repeatedIdentifiers(examples: Resource[]): Map<string, string> {
  const seen = new Set<string>();
  const out = new Map<string, string>();
  for (const r of examples) {
    if (r.resourceType !== 'Patient') continue;
    const ids = ((r as Patient).identifier ?? []).filter((i) => i.system && i.value).map((i) => `${i.system}|${i.value}`);
    const repeated = ids.find((i) => seen.has(i));
    if (repeated) out.set(key(r), repeated);
    else for (const i of ids) seen.add(i);
  }
  return out;
}
const repeated = repeatedIdentifiers(valid);
/** AuditEvents are written by IDR alone (the access audit), never through the API: these examples are refused with 403. */
const auditEvents = valid.filter((r) => r.resourceType === 'AuditEvent');
/**
 * Subscriptions make IDR post to their endpoint, so only endpoints the server allows are accepted
 * (IDR_SUBSCRIPTION_ENDPOINTS, none by default), and the server sets their status: these
 * examples are refused, naming the setting.
 */
const subscriptions = valid.filter((r) => r.resourceType === 'Subscription');
const stored = valid.filter((r) => !repeated.has(key(r)) && r.resourceType !== 'AuditEvent' && r.resourceType !== 'Subscription');

/**
 * Resources the examples refer to that the package does not hold (e.g. Patient/1..100 of a Group):
 * IDR keeps references resolvable, so each is stored as a copy of an example of its type (first by
 * file name, without identifiers) under the id referred to.
 */
function stubs(examples: Resource[]): Resource[] {
  const have = new Set(examples.map(key));
  const out = new Map<string, Resource>();
  for (const r of examples) {
    for (const { reference, bundle } of literalReferences(r)) {
      const m = /^([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})(?:\/_history\/.*)?$/.exec(reference);
      if (!m || bundle?.has(reference) || have.has(`${m[1]}/${m[2]}`) || out.has(`${m[1]}/${m[2]}`)) continue;
      const template = examples.find((e) => e.resourceType === m[1]);
      if (!template) throw new Error(`${key(r)} refers to ${reference} and the examples have no ${m[1]} to copy`);
      const { identifier: _identifier, ...copy } = template as Resource & { identifier?: unknown };
      out.set(`${m[1]}/${m[2]}`, { ...copy, id: m[2] } as Resource);
    }
  }
  return [...out.values()];
}

/** Origins of the absolute references in the examples: the external bases this server accepts. */
function externalBases(examples: Resource[]): string[] {
  const bases = new Set<string>();
  for (const r of examples) for (const { reference } of literalReferences(r)) if (/^https?:\/\//.test(reference)) bases.add(`${new URL(reference).origin}/`);
  return [...bases];
}

function withoutServerMeta(r: Resource): unknown {
  const { meta, ...rest } = r;
  const { versionId: _v, lastUpdated: _l, ...kept } = meta ?? {};
  return Object.keys(kept).length ? { ...rest, meta: kept } : rest;
}

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ IDR_EXTERNAL_REFERENCE_BASES: externalBases(stored).join(','), IDR_BUNDLE_MAX_ENTRIES: '5000' });
});
afterAll(async () => {
  await server?.close();
});

describe('R4 official examples through REST', () => {
  it('stores every example that keeps R4 rules, in one transaction, and reads each back unchanged', async () => {
    expect(stored.length).toBeGreaterThan(700);
    const entries = [...stubs(stored), ...stored].map((resource) => ({ resource, request: { method: 'PUT' as const, url: key(resource) } }));
    const tx = await fhirFetch(server.fhir, { method: 'POST', json: { resourceType: 'Bundle', type: 'transaction', entry: entries } satisfies Bundle });
    expect(tx.body?.issue ?? [], JSON.stringify(tx.body?.issue?.slice(0, 5))).toEqual([]);
    expect(tx.status).toBe(200);
    const changed: string[] = [];
    for (const example of stored) {
      const back = await fhirFetch(`${server.fhir}/${key(example)}`);
      if (back.status !== 200 || JSON.stringify(withoutServerMeta(back.body)) !== JSON.stringify(withoutServerMeta(example))) changed.push(`${key(example)} (${back.status})`);
      else expect(back.body.meta.versionId).toBe('1');
    }
    expect(changed).toEqual([]);
  }, 600_000);

  it('refuses each Patient example that repeats another\'s identifier (409), naming the identifier', async () => {
    expect(repeated.size).toBeGreaterThan(0);
    for (const example of valid.filter((r) => repeated.has(key(r)))) {
      const r = await fhirFetch(`${server.fhir}/${key(example)}`, { method: 'PUT', json: example });
      expect(r.status, key(example)).toBe(409);
      expect(r.body.issue[0].details.text).toContain(repeated.get(key(example)));
    }
  });

  it('refuses the AuditEvent examples: only IDR writes the audit trail (403)', async () => {
    expect(auditEvents.length).toBeGreaterThan(0);
    for (const example of auditEvents) {
      const r = await fhirFetch(`${server.fhir}/${key(example)}`, { method: 'PUT', json: example });
      expect(r.status, key(example)).toBe(403);
      expect(r.body.issue[0].details.text).toContain('does not allow create on AuditEvent');
    }
  });

  it('refuses the Subscription examples: their endpoints are not allowed on this server (400, naming the setting)', async () => {
    expect(subscriptions.length).toBeGreaterThan(0);
    for (const example of subscriptions) {
      const r = await fhirFetch(`${server.fhir}/${key(example)}`, { method: 'PUT', json: example });
      expect(r.status, key(example)).toBe(400);
      expect(r.body.issue[0].details.text).toContain('IDR_SUBSCRIPTION_ENDPOINTS');
    }
  });

  it('refuses each example that breaks R4 rules, naming the rule', async () => {
    const answers: Record<string, string> = {};
    for (const file of Object.keys(REFUSED)) {
      const example = read(file);
      const r = await fhirFetch(`${server.fhir}/${key(example)}`, { method: 'PUT', json: example });
      const texts: string[] = (r.body?.issue ?? []).map((i: { details?: { text?: string } }) => i.details?.text ?? '');
      answers[file] = r.status === 400 ? (texts.find((t) => t.includes(REFUSED[file] as string)) ?? texts.join(' | ')) : `status ${r.status}`;
    }
    for (const [file, answer] of Object.entries(answers)) expect(answer, file).toContain(REFUSED[file]);
  }, 300_000);
});
