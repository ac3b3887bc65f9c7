import { allOk, badRequest } from '@medplum/core';
import { assertPermits } from '../store/access.ts';
import type { Parameters } from '@medplum/fhirtypes';
import { fail } from '../schema/outcomes.ts';
import type { RequestContext } from '../store/request-context.ts';
import { patientEverything } from './everything.ts';
import { patientAccessLog } from './access-log.ts';
import { evaluateCohort } from './cohort.ts';
import { historyPage } from './interactions.ts';
import { patientTimeline } from './patient-timeline.ts';
import { searchsetBundle } from './search-bundle.ts';
import { caseChanges, decideCase, prepareCase } from './tumour-board.ts';
import { shareCase, unshareCase } from './case-share.ts';
import type { FhirDeps, FhirResult } from './request.ts';

/**
 * Every FHIR operation IDR serves, in one table: the router dispatches `Type/id/$code` by it and
 * the CapabilityStatement lists it, so what is advertised is what answers.
 * See: https://hl7.org/fhir/R4/operations.html
 */

export interface FhirOperation {
  /** The operation's code, without the `$`. */
  code: string;
  resourceType: string;
  /** Instance (`Patient/{id}/$everything`), type (`Patient/$export`) or system (`$export`, resourceType "*"). */
  level: 'instance' | 'type' | 'system';
  /** Canonical URL of the OperationDefinition. */
  definition: string;
  documentation?: string;
  /** False when something the operation needs is not running (the timeline projection). */
  available: (deps: Pick<FhirDeps, 'timeline' | 'mergePatients'>) => boolean;
  run: (deps: FhirDeps, ctx: RequestContext, input: { id: string; query: URLSearchParams; body?: unknown; method?: string }) => Promise<FhirResult>;
}

export const OPERATIONS: readonly FhirOperation[] = [
  {
    code: 'everything',
    resourceType: 'Patient',
    level: 'instance',
    definition: 'http://hl7.org/fhir/OperationDefinition/Patient-everything',
    documentation: 'GET Patient/{id}/$everything: the Patient and every resource in its compartment. Parameters: _since, _count, _offset.',
    available: () => true,
    run: async (deps, ctx, { id, query }) => {
      const result = await patientEverything(deps.repo, ctx, id, historyPage(query));
      return { outcome: allOk, resource: searchsetBundle({ baseUrl: deps.baseUrl, path: `Patient/${id}/$everything`, query, result }) };
    },
  },
  {
    code: 'access-log',
    resourceType: 'Patient',
    level: 'instance',
    definition: 'urn:idr:OperationDefinition/Patient-access-log',
    documentation:
      'GET Patient/{id}/$access-log: who accessed this record, newest first — for the patient themselves (patient context) and auditors (idr/audit). ' +
      'Each entry is an AuditEvent reduced to this patient: when, who, role, client, action, resource types, purpose, outcome. Parameters: _since, _count, _offset.',
    available: () => true,
    run: async (deps, ctx, { id, query }) => {
      const result = await patientAccessLog(deps.repo, ctx, id, historyPage(query));
      return { outcome: allOk, resource: searchsetBundle({ baseUrl: deps.baseUrl, path: `Patient/${id}/$access-log`, query, result }) };
    },
  },
  {
    code: 'timeline',
    resourceType: 'Patient',
    level: 'instance',
    definition: 'urn:idr:OperationDefinition/Patient-timeline',
    documentation:
      'GET Patient/{id}/$timeline: the resources behind the patient timeline, newest event first (anchor resource as match, folded results as include). ' +
      'Parameters: lane (lab|imaging|pathology|document|diagnosis|treatment|encounter|model|decision|other), code, from, to, _text, _count (max 200), cursor (from the next link).',
    available: (deps) => deps.timeline !== undefined,
    run: async (deps, ctx, { id, query }) => {
      if (!deps.timeline) throw new Error('$timeline needs the timeline store');
      return { outcome: allOk, resource: await patientTimeline({ repo: deps.repo, timeline: deps.timeline }, ctx, { baseUrl: deps.baseUrl, patient: id, query }) };
    },
  },
  {
    code: 'merge',
    resourceType: 'Patient',
    level: 'instance',
    definition: 'urn:idr:OperationDefinition/Patient-merge',
    documentation:
      'POST Patient/{id}/$merge: merges this (duplicate) patient into the target-patient (a Parameters body with target-patient as valueReference, or ?target-patient=Patient/{id}). ' +
      'Every resource of its compartment moves to the target as a new version (history kept), its identifiers move to the target, it becomes inactive with a replaced-by link; a Provenance records the merge. Answers Parameters: result (the target), moved (count), provenance.',
    available: (deps) => deps.mergePatients !== undefined,
    run: async (deps, ctx, { id, query, body, method }) => {
      if (!deps.mergePatients) throw new Error('$merge needs the merge service');
      if (method !== 'POST') fail(badRequest('$merge changes data: use POST', '$merge'));
      // A merge rewrites every resource of two compartments: it needs write access to all types.
      assertPermits(ctx.access, '*', 'u');
      const target = mergeTarget(query, body);
      const r = await deps.mergePatients(ctx, id, target);
      const result: Parameters = {
        resourceType: 'Parameters',
        parameter: [
          { name: 'result', resource: r.target },
          { name: 'moved', valueInteger: r.moved.length },
          { name: 'provenance', valueReference: { reference: r.provenance } },
        ],
      };
      return { outcome: allOk, resource: result };
    },
  },
  {
    code: 'evaluate',
    resourceType: 'Group',
    level: 'instance',
    definition: 'urn:idr:OperationDefinition/Group-evaluate',
    documentation:
      'POST Group/{id}/$evaluate: evaluates a cohort defined by criteria (characteristics with code urn:idr:cohort|fhir-search and the FHIR search as valueCodeableConcept.text; exclude removes) and writes the matching patients as its members, a new version of the Group with quantity, plus a Provenance naming who evaluated it. ' +
      'Needs update access to Group; the criteria run as IDR. Answers Parameters: group, count, provenance.',
    available: () => true,
    run: async (deps, ctx, { id, method }) => {
      if (method !== 'POST') fail(badRequest('$evaluate writes the members: use POST', '$evaluate'));
      const r = await evaluateCohort(deps.repo, ctx, id);
      const result: Parameters = {
        resourceType: 'Parameters',
        parameter: [
          { name: 'group', resource: r.group },
          { name: 'count', valueInteger: r.count },
          { name: 'provenance', valueReference: { reference: r.provenance } },
        ],
      };
      return { outcome: allOk, resource: result };
    },
  },
  ...tumourBoardOperations(),
  ...bulkExportOperations(),
];

/** A tumour board's case (a Task on a meeting's agenda): prepare the pack, see what is new since, record the decision (docs/tumour-board.md). */
function tumourBoardOperations(): FhirOperation[] {
  return [
    {
      code: 'prepare',
      resourceType: 'Task',
      level: 'instance',
      definition: 'urn:idr:OperationDefinition/Task-prepare',
      documentation:
        'POST Task/{id}/$prepare: freezes the case of a tumour board Task (Task.for = the Patient) as a document Bundle — a Composition summarising diagnosis, pathology, imaging, key labs and procedures with versioned references, then those exact versions. ' +
        'Stored once, never rewritten; the Task gets it as output with the preparation time and goes in-progress. Needs write access. Answers Parameters: pack (the Bundle), task.',
      available: (deps) => deps.timeline !== undefined,
      run: async (deps, ctx, { id, method }) => ({ outcome: allOk, resource: await prepareCase(deps, ctx, id, method) }),
    },
    {
      code: 'changes',
      resourceType: 'Task',
      level: 'instance',
      definition: 'urn:idr:OperationDefinition/Task-changes',
      documentation: 'GET Task/{id}/$changes: the patient\'s resources written since the Task\'s latest case pack was prepared (new versions and new resources), as a searchset Bundle. Parameters: _count.',
      available: () => true,
      run: async (deps, ctx, { id, query }) => ({ outcome: allOk, resource: await caseChanges(deps, ctx, id, query) }),
    },
    {
      code: 'decide',
      resourceType: 'Task',
      level: 'instance',
      definition: 'urn:idr:OperationDefinition/Task-decide',
      documentation:
        'POST Task/{id}/$decide: records the board\'s decision (Parameters: decision and recommendation as valueString, optional intent as valueCodeableConcept or valueCoding) as a ClinicalImpression of the patient, shown in the timeline\'s decision lane; ' +
        'the Task links it as output and is completed. Needs write access. Answers Parameters: decision, task.',
      available: () => true,
      run: async (deps, ctx, { id, body, method }) => ({ outcome: allOk, resource: await decideCase(deps, ctx, id, body, method) }),
    },
    {
      code: 'share',
      resourceType: 'Task',
      level: 'instance',
      definition: 'urn:idr:OperationDefinition/Task-share',
      documentation:
        'POST Task/{id}/$share: shares the Task\'s latest case pack, pseudonymised, with one external recipient (Parameters: recipient as valueString "Name <e-mail>" or valueContactDetail; purpose consultation|revision|second-opinion; optional expires, default 14 days, at most 90). ' +
        'Answers Parameters: link (/shared/{secret}, shown this once only), share (its id), expires, pack. Opening the link needs no token, shows the pack de-identified and is recorded in the access audit. Needs write access. GET Task/{id}/$share lists the Task\'s shares (never their links).',
      available: () => true,
      run: async (deps, ctx, { id, body, method }) => ({ outcome: allOk, resource: await shareCase(deps, ctx, id, body, method) }),
    },
    {
      code: 'unshare',
      resourceType: 'Task',
      level: 'instance',
      definition: 'urn:idr:OperationDefinition/Task-unshare',
      documentation: 'POST Task/{id}/$unshare: revokes a share of the Task (share = the id $share answered, as a Parameters valueString or query parameter); its link answers 410 from then on. Needs write access.',
      available: () => true,
      run: async (deps, ctx, { id, query, body, method }) => ({ outcome: allOk, resource: await unshareCase(deps, ctx, id, query, body, method) }),
    },
  ];
}

/** Bulk Data `$export` at its three levels: asynchronous only, served by the HTTP routes (api/fhir/export-routes.ts). See: https://hl7.org/fhir/uv/bulkdata/export.html */
function bulkExportOperations(): FhirOperation[] {
  const doc = ' Kick-off needs Prefer: respond-async and Accept: application/fhir+json; parameters _type, _since, _typeFilter, _outputFormat (application/fhir+ndjson, application/ndjson, ndjson). The status URL answers 202 while running, then the manifest; DELETE cancels.';
  const levels = [
    { resourceType: '*', level: 'system', definition: 'http://hl7.org/fhir/uv/bulkdata/OperationDefinition/export', documentation: `GET $export: every resource the caller may read, one NDJSON file per type.${doc}` },
    { resourceType: 'Patient', level: 'type', definition: 'http://hl7.org/fhir/uv/bulkdata/OperationDefinition/patient-export', documentation: `GET Patient/$export: the compartments of every patient the caller may see.${doc}` },
    { resourceType: 'Group', level: 'instance', definition: 'http://hl7.org/fhir/uv/bulkdata/OperationDefinition/group-export', documentation: `GET Group/{id}/$export: the compartments of the Group's member patients.${doc}` },
  ] as const;
  return levels.map((l) => ({
    code: 'export',
    ...l,
    available: () => true,
    run: async () => fail(badRequest('$export is answered asynchronously only: send it as its own request with Prefer: respond-async', '$export')),
  }));
}

/** The target of a merge: `target-patient` as a query parameter or in a Parameters body, "Patient/{id}" or the id. */
function mergeTarget(query: URLSearchParams, body: unknown): string {
  const fromBody = (body as Parameters | undefined)?.resourceType === 'Parameters' ? (body as Parameters).parameter?.find((p) => p.name === 'target-patient')?.valueReference?.reference : undefined;
  const ref = fromBody ?? query.get('target-patient') ?? '';
  const m = /^(?:Patient\/)?([A-Za-z0-9\-.]{1,64})$/.exec(ref);
  if (!m) fail(badRequest(`target-patient must name the patient that stays ("Patient/{id}"), got "${ref}"`, 'target-patient'));
  return m[1] as string;
}

/** The operations served on a resource type (those whose dependencies run). */
export function operationsFor(deps: Pick<FhirDeps, 'timeline' | 'mergePatients'>, resourceType: string): FhirOperation[] {
  return OPERATIONS.filter((op) => op.resourceType === resourceType && op.available(deps));
}

/** The operation `$code` on an instance of `resourceType`, if IDR serves it. */
export function findOperation(deps: FhirDeps, resourceType: string, code: string): FhirOperation | undefined {
  return operationsFor(deps, resourceType).find((op) => op.level === 'instance' && `$${op.code}` === code);
}
