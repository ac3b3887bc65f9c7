import type { Group, GroupCharacteristic, Provenance, Resource } from '@medplum/fhirtypes';
import { badRequest } from '@medplum/core';
import { fail } from '../schema/outcomes.ts';
import { assertPermits } from '../store/access.ts';
import type { Repository } from '../store/repository.ts';
import { systemContext, type RequestContext } from '../store/request-context.ts';
import { parseFhirSearch } from '../store/search-to-mongo.ts';

/**
 * Cohorts defined by criteria: a FHIR Group whose characteristics are FHIR searches
 * (`code` = urn:idr:cohort|fhir-search, `valueCodeableConcept.text` = the query, e.g.
 * `Condition?code:below=http://hl7.org/fhir/sid/icd-10|C50`; `exclude: true` removes its
 * patients). `Group/{id}/$evaluate` runs every criterion, keeps the patients all inclusion
 * criteria find and no exclusion criterion does, and writes them as the Group's members — a new
 * version of the Group, so each evaluation's result stays in its history — with a Provenance
 * naming who evaluated it and when; `quantity` says how many.
 *
 * The criteria run as IDR itself (the result is a list of Patient ids, not patient data), for
 * whoever may update the Group: a data scientist builds cohorts without reading records. Reading
 * the members' data afterwards goes through the caller's own access, as always.
 */

export const COHORT_CRITERION = { system: 'urn:idr:cohort', code: 'fhir-search' } as const;

/** The most matches one criterion may have (a broader one is refused: narrow it). */
export const MAX_CRITERION_MATCHES = 10_000;
const PAGE = 1000;

export interface CohortEvaluation {
  group: Group;
  count: number;
  provenance: string;
}

/** The FHIR search criteria of a cohort Group (an empty list when it has none). */
export function cohortCriteria(group: Group): { query: string; exclude: boolean }[] {
  return (group.characteristic ?? []).filter(isCriterion).map((c) => ({ query: c.valueCodeableConcept?.text ?? '', exclude: c.exclude }));
}

function isCriterion(c: GroupCharacteristic): boolean {
  return (c.code.coding ?? []).some((x) => x.system === COHORT_CRITERION.system && x.code === COHORT_CRITERION.code);
}

/** Evaluates a cohort Group's criteria and writes its members (see the module comment). */
export async function evaluateCohort(repo: Repository, ctx: RequestContext, groupId: string, now: () => Date = () => new Date()): Promise<CohortEvaluation> {
  assertPermits(ctx.access, 'Group', 'u');
  const group = (await repo.read(ctx, 'Group', groupId)) as Group;
  const criteria = cohortCriteria(group);
  if (!criteria.some((c) => !c.exclude)) fail(badRequest(`Group/${groupId} has no inclusion criterion: add a characteristic with code ${COHORT_CRITERION.system}|${COHORT_CRITERION.code} and the FHIR search as valueCodeableConcept.text`, 'Group.characteristic'));
  const internal = systemContext('cohort', ctx.requestId);
  let members: Set<string> | undefined;
  const excluded = new Set<string>();
  for (const [i, c] of criteria.entries()) {
    const found = await patientsMatching(repo, internal, c.query, `Group.characteristic[${i}]`);
    if (c.exclude) for (const p of found) excluded.add(p);
    else members = members ? new Set([...members].filter((p) => found.has(p))) : found;
  }
  const ids = [...(members ?? [])].filter((p) => !excluded.has(p)).sort();
  const evaluatedAt = now().toISOString();
  const updated: Group = {
    ...group,
    actual: true,
    quantity: ids.length,
    member: ids.map((id) => ({ entity: { reference: `Patient/${id}` }, period: { start: evaluatedAt } })),
  };
  const written = (await repo.update(ctx, updated)).resource as Group;
  const provenance: Provenance = {
    resourceType: 'Provenance',
    target: [{ reference: `Group/${groupId}/_history/${written.meta?.versionId ?? '1'}` }],
    recorded: evaluatedAt,
    activity: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-DataOperation', code: 'UPDATE', display: 'revise' }], text: `cohort evaluated: ${ids.length} patient(s)` },
    agent: [{ who: { display: ctx.access.principal.name ?? ctx.actor }, type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/provenance-participant-type', code: 'author' }] } }],
  };
  const prov = (await repo.create(internal, provenance)).resource;
  return { group: written, count: ids.length, provenance: `Provenance/${prov.id}` };
}

/** The ids of the patients a criterion's resources belong to (Patient searches: the patients themselves). */
async function patientsMatching(repo: Repository, ctx: RequestContext, query: string, where: string): Promise<Set<string>> {
  const m = /^([A-Z][A-Za-z]+)\?(.+)$/.exec(query.trim());
  if (!m?.[1] || !m[2]) fail(badRequest(`${where}: "${query}" is not a FHIR search such as Condition?code=http://hl7.org/fhir/sid/icd-10|C50.9`, where));
  const type = m[1];
  let request;
  try {
    request = parseFhirSearch(type, m[2]);
  } catch (err) {
    return fail(badRequest(`${where}: "${query}": ${(err as Error).message}`, where));
  }
  const out = new Set<string>();
  let matches = 0;
  // One cursor over the matches (the embedded store cannot page without reading everything again).
  for await (const batch of repo.searchStream(ctx, request, PAGE)) {
    matches += batch.resources.length;
    if (matches > MAX_CRITERION_MATCHES) fail(badRequest(`${where}: "${query}" matches more than ${MAX_CRITERION_MATCHES} resources: narrow it`, where));
    for (const r of batch.resources) for (const p of patientsOf(r)) out.add(p);
  }
  return out;
}

/** The Patient a resource is about: itself, or its subject / patient reference. */
function patientsOf(r: Resource): string[] {
  if (r.resourceType === 'Patient') return r.id ? [r.id] : [];
  const x = r as { subject?: { reference?: string }; patient?: { reference?: string } };
  const ref = x.subject?.reference ?? x.patient?.reference ?? '';
  const m = /^Patient\/([A-Za-z0-9\-.]{1,64})$/.exec(ref);
  return m?.[1] ? [m[1]] : [];
}
