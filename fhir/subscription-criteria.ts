import type { Resource } from '@medplum/fhirtypes';
import { badRequest, matchesSearchRequest, OperationOutcomeError, type SearchRequest } from '@medplum/core';
import { fail } from '../schema/outcomes.ts';
import { isResourceType, searchParamsFor } from '../schema/fhir-definitions.ts';
import { paramValues } from '../schema/search-index.ts';
import { parseFhirSearch } from '../store/search-to-mongo.ts';

/**
 * A Subscription's `criteria` (an R4 search string, `DiagnosticReport?category=…&subject=…`),
 * parsed once with the search parser the REST API uses and matched against one resource version
 * with @medplum/core's `matchesSearchRequest`. IDR adds one forward-compatible parameter from R5,
 * membership: `patient._in=Group/{id}` (or `subject._in=…`, any reference parameter) matches when
 * a patient that parameter refers to is a current, active member of one of the Groups (a tumour
 * board's Group lists its patients), so "new reports of the board's patients" is expressible.
 * See: https://hl7.org/fhir/R4/subscription.html#2.46.7.1, https://hl7.org/fhir/R5/search.html#_in
 */

/** Parameters a criteria string may use besides the type's own search parameters. */
const COMMON_PARAMS = new Set(['_id', '_lastUpdated']);

/** One membership condition: some patient that `param` refers to is a member of one of `groups`. */
export interface MembershipFilter {
  param: string;
  groups: string[];
}

export interface SubscriptionCriteria {
  resourceType: string;
  /** The ordinary filters, matched by @medplum/core. */
  request: SearchRequest;
  membership: MembershipFilter[];
}

/** Rejects the criteria with a 400 whose text and expression name Subscription.criteria. */
function refuse(text: string): never {
  return fail(badRequest(`Subscription.criteria: ${text}`, 'Subscription.criteria'));
}

/** Parses and checks a criteria string; 400 naming what is wrong (an unknown parameter, a result parameter, a bad Group reference). */
export function parseSubscriptionCriteria(criteria: string | undefined): SubscriptionCriteria {
  if (!criteria?.trim()) refuse('missing: a search such as "DiagnosticReport?category=…" is required');
  const text = criteria.trim();
  const q = text.indexOf('?');
  const resourceType = q < 0 ? text : text.slice(0, q);
  const query = q < 0 ? '' : text.slice(q + 1);
  if (!/^[A-Z][A-Za-z]+$/.test(resourceType) || !isResourceType(resourceType)) refuse(`"${resourceType}" is not a FHIR R4 resource type`);
  const params = searchParamsFor(resourceType);
  const ordinary = new URLSearchParams();
  const membership: MembershipFilter[] = [];
  for (const [key, value] of new URLSearchParams(query)) {
    const code = key.split(':')[0] as string;
    if (code.endsWith('._in')) {
      const param = code.slice(0, -'._in'.length);
      if (params[param]?.type !== 'reference') refuse(`"${key}": _in needs a reference search parameter of ${resourceType} (patient._in or subject._in), "${param}" is not one`);
      if (key !== code) refuse(`"${key}": _in takes no modifier`);
      const groups = value.split(',').map((v) => /^Group\/([A-Za-z0-9\-.]{1,64})$/.exec(v.trim())?.[1]);
      if (!groups.length || groups.some((g) => g === undefined)) refuse(`"${key}=${value}": expected Group/{id}, comma-separated`);
      membership.push({ param, groups: groups as string[] });
      continue;
    }
    if (code.startsWith('_has') || key.includes('.')) refuse(`"${key}": chained parameters are not supported in criteria (use patient._in=Group/{id} for a list of patients)`);
    if (code.startsWith('_') && !COMMON_PARAMS.has(code)) refuse(`"${key}" is not allowed: criteria take search filters only, not result parameters`);
    if (!code.startsWith('_') && !params[code]) refuse(`unknown search parameter "${code}" for ${resourceType}`);
    ordinary.append(key, value);
  }
  let request: SearchRequest;
  try {
    request = parseFhirSearch(resourceType, ordinary.toString());
  } catch (err) {
    const detail = err instanceof OperationOutcomeError ? err.outcome.issue?.[0]?.details?.text : (err as Error).message;
    return refuse(detail ?? 'not a valid search');
  }
  return { resourceType, request, membership };
}

/** The Patient ids a reference parameter of the resource refers to. */
export function referencedPatients(resource: Resource, param: string): string[] {
  return paramValues(resource, param).flatMap((v) => (v.startsWith('Patient/') ? [v.slice('Patient/'.length)] : []));
}

/**
 * True when the resource matches the criteria; `members(group)` gives the current patient members
 * of a Group (looked up by the caller, so this stays free of the database).
 */
export async function matchesCriteria(resource: Resource, criteria: SubscriptionCriteria, members: (group: string) => Promise<ReadonlySet<string>>): Promise<boolean> {
  if (resource.resourceType !== criteria.resourceType) return false;
  if (!matchesSearchRequest(resource, criteria.request)) return false;
  for (const m of criteria.membership) {
    const patients = referencedPatients(resource, m.param);
    let found = false;
    for (const g of m.groups) {
      const set = await members(g);
      if (patients.some((p) => set.has(p))) {
        found = true;
        break;
      }
    }
    if (!found) return false;
  }
  return true;
}
