/** Shared helpers for this adapter's tests: a deterministic context, fixture loading, lookups. */
import { readFileSync } from 'node:fs';
import type { Bundle, BundleEntry, Resource } from '@medplum/fhirtypes';
import type { AdapterContext } from '../types.ts';

/** Absolute path of the project's HL7 v2 fixtures. */
export const FIXTURES = new URL('../../../test/fixtures/hl7v2/', import.meta.url);

/** Reads a fixture as text (UTF-8, BOM kept). */
export function fixture(name: string): string {
  return readFileSync(new URL(name, FIXTURES), 'utf8');
}

/** A context with a fixed clock, counter ids, and BSN / local authorities mapped like the real config. */
export function testContext(): AdapterContext {
  let n = 0;
  return {
    now: () => new Date('2024-06-01T12:00:00Z'),
    newId: () => `00000000-0000-4000-8000-${String(++n).padStart(12, '0')}`,
    identifierSystem: (authority) =>
      authority === '2.16.840.1.113883.2.4.6.3' ? 'http://fhir.nl/fhir/NamingSystem/bsn' : `urn:idr:assigning-authority:${authority ?? 'unknown'}`,
  };
}

/** All resources of one type in a Bundle, in entry order. */
export function resources<T extends Resource>(bundle: Bundle, type: T['resourceType']): T[] {
  return (bundle.entry ?? []).map((e) => e.resource).filter((r): r is T => r?.resourceType === type);
}

/** The entry whose resource is `resource`. */
export function entryOf(bundle: Bundle, resource: Resource): BundleEntry {
  const e = (bundle.entry ?? []).find((x) => x.resource === resource);
  if (!e) throw new Error('resource not in bundle');
  return e;
}

/** The resource an urn:uuid reference points to inside the Bundle. */
export function resolve<T extends Resource>(bundle: Bundle, reference: string | undefined): T {
  const e = (bundle.entry ?? []).find((x) => x.fullUrl === reference);
  if (!e?.resource) throw new Error(`unresolved reference ${reference}`);
  return e.resource as T;
}

/** The Observation whose code has `code` in any coding. */
export function byCode<T extends Resource & { code?: { coding?: { code?: string }[] } }>(list: T[], code: string): T {
  const found = list.find((r) => r.code?.coding?.some((c) => c.code === code));
  if (!found) throw new Error(`no resource with code ${code}`);
  return found;
}
