import type { OperationOutcomeIssue, Resource } from '@medplum/fhirtypes';
import type { Database } from './db.ts';
import { findAnyOf } from './find-any-of.ts';
import type { WriteScope } from './version-store.ts';
import { historyKey, resourceKey } from '../schema/resource-id.ts';
import { isResourceType } from '../schema/fhir-definitions.ts';
import { fail, invalidResource } from '../schema/outcomes.ts';

/**
 * Referential integrity of writes: every literal reference in a resource must resolve. Accepted are
 * `Type/id` (and `Type/id/_history/n`) of a live resource in IDR or of one the same transaction
 * Bundle writes, `#id` of a contained resource (`#` alone: the container), entries of a Bundle
 * being stored (by fullUrl), and absolute URLs under a configured external base. Everything else,
 * e.g. `urn:uuid:` outside a transaction or a conditional reference left unresolved, is refused.
 * See: https://hl7.org/fhir/R4/references.html#literal
 */

/** A write scope that also names what its transaction Bundle writes ("Type/id"), some of which may not exist yet. */
export interface BundleWriteScope extends WriteScope {
  bundleTargets?: ReadonlySet<string>;
  /**
   * Current resources ("Type/id") the writer found live just before, in one lookup for many
   * writes (the audit trail, for the resources its records name): not looked up again.
   */
  verifiedTargets?: ReadonlySet<string>;
}

/** Which references resolve outside IDR. */
export interface ReferencePolicy {
  /** Absolute base URLs (e.g. "https://pacs.example.org/fhir/") whose references are accepted as they are. */
  externalBases: readonly string[];
}

interface FoundReference {
  path: string;
  reference: string;
  /** The ids of the contained resources of the resource that holds the reference. */
  contained: ReadonlySet<string>;
  /** The fullUrls and "Type/id"s of the entries of the Bundle that holds the reference, if any. */
  bundle: ReadonlySet<string> | undefined;
}

const RELATIVE = /^([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})(?:\/_history\/([A-Za-z0-9\-.]{1,64}))?$/;

/** Every literal `reference` in a resource (contained resources and Bundle entries included), with its FHIRPath-like path. */
export function literalReferences(resource: Resource): FoundReference[] {
  const out: FoundReference[] = [];
  collect(resource, resource.resourceType, new Set(), undefined, out);
  return out;
}

function collect(value: unknown, path: string, contained: ReadonlySet<string>, bundle: ReadonlySet<string> | undefined, out: FoundReference[]): void {
  if (Array.isArray(value)) {
    value.forEach((v, i) => collect(v, `${path}[${i}]`, contained, bundle, out));
    return;
  }
  if (!value || typeof value !== 'object') return;
  const obj = value as Record<string, unknown>;
  if (typeof obj.resourceType === 'string') {
    // A resource opens a new scope for "#id" (its own contained list; contained resources share their container's).
    if (Array.isArray(obj.contained)) contained = new Set(obj.contained.map((c: { id?: unknown }) => String(c?.id ?? '')));
    if (obj.resourceType === 'Bundle' && Array.isArray(obj.entry)) bundle = bundleKeys(obj.entry);
  }
  if (typeof obj.reference === 'string') out.push({ path: `${path}.reference`, reference: obj.reference, contained, bundle });
  for (const [key, v] of Object.entries(obj)) {
    if (key !== 'reference' && v && typeof v === 'object') collect(v, `${path}.${key}`, contained, bundle, out);
  }
}

function bundleKeys(entries: unknown[]): Set<string> {
  const keys = new Set<string>();
  for (const e of entries as { fullUrl?: unknown; resource?: { resourceType?: unknown; id?: unknown } }[]) {
    if (typeof e?.fullUrl === 'string') keys.add(e.fullUrl);
    if (typeof e?.resource?.resourceType === 'string' && typeof e.resource.id === 'string') keys.add(`${e.resource.resourceType}/${e.resource.id}`);
  }
  return keys;
}

/** The references of a resource that do not resolve, as error issues naming each element. */
export async function unresolvedReferenceIssues(database: Database, resource: Resource, policy: ReferencePolicy, scope?: BundleWriteScope): Promise<OperationOutcomeIssue[]> {
  const issues: OperationOutcomeIssue[] = [];
  const lookups = new Map<string, FoundReference[]>();
  for (const found of literalReferences(resource)) {
    const r = found.reference;
    if (found.bundle?.has(r)) continue;
    if (r.startsWith('#')) {
      if (r !== '#' && !found.contained.has(r.slice(1))) issues.push(issue(found, `${r} names no contained resource`));
      continue;
    }
    if (/^[a-z][a-z0-9+.-]*:/i.test(r)) {
      if (!policy.externalBases.some((base) => underBase(r, base))) issues.push(issue(found, externalMessage(r)));
      continue;
    }
    const m = RELATIVE.exec(r);
    if (!m || !isResourceType(m[1] as string)) {
      issues.push(issue(found, r.includes('?') ? `conditional reference ${r} was not resolved (only a transaction Bundle resolves those)` : `${r} is not a reference IDR can resolve (expected Type/id)`));
      continue;
    }
    const target = `${m[1]}/${m[2]}`;
    if (scope?.bundleTargets?.has(target) || (!m[3] && scope?.verifiedTargets?.has(target))) continue;
    const key = m[3] ? historyKey(m[1] as string, m[2] as string, Number(m[3])) : resourceKey(m[1] as string, m[2] as string);
    lookups.set(key, [...(lookups.get(key) ?? []), found]);
  }
  // The targets in one `$in` query on `_id` per collection (versions, current resources): an
  // AuditEvent names every resource a search returned, a report each of its results.
  const options = { projection: { deleted: 1 }, ...(scope?.session ? { session: scope.session } : {}) };
  const keys = [...lookups.keys()];
  const versioned = (key: string): boolean => !!lookups.get(key)?.[0]?.reference.includes('/_history/');
  const [versions, current] = await Promise.all([
    findAnyOf(database.c.history, {}, '_id', keys.filter(versioned), options),
    findAnyOf(database.c.resources, {}, '_id', keys.filter((k) => !versioned(k)), options),
  ]);
  const found = new Map<string, { deleted: boolean }>([...versions, ...current].map((d) => [d._id, d]));
  for (const [key, refs] of lookups) {
    const doc = found.get(key);
    if (doc && !doc.deleted) continue;
    for (const ref of refs) issues.push(issue(ref, doc ? `${ref.reference} was deleted` : `${ref.reference} does not exist in IDR`));
  }
  return issues;
}

/** Throws a 400 OperationOutcome listing every reference of the resource that does not resolve. */
export async function assertReferencesResolve(database: Database, resource: Resource, policy: ReferencePolicy, scope?: BundleWriteScope): Promise<void> {
  const issues = await unresolvedReferenceIssues(database, resource, policy, scope);
  if (issues.length) fail(invalidResource(issues));
}

/** True when an absolute URL lies under a base URL; scheme and host compare case-insensitively (URL normalises them). */
function underBase(reference: string, base: string): boolean {
  if (reference.startsWith(base)) return true;
  try {
    return new URL(reference).href.startsWith(new URL(base).href);
  } catch {
    return false;
  }
}

function externalMessage(r: string): string {
  if (/^urn:(uuid|oid):/i.test(r)) return `${r} resolves only inside a transaction Bundle that has an entry with that fullUrl`;
  return `${r} is outside IDR and its base is not one of the configured external reference bases (IDR_EXTERNAL_REFERENCE_BASES)`;
}

function issue(found: FoundReference, text: string): OperationOutcomeIssue {
  return { severity: 'error', code: 'invalid', details: { text: `Reference ${text}` }, expression: [found.path] };
}
