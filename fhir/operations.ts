import { allOk } from '@medplum/core';
import type { RequestContext } from '../store/request-context.ts';
import { patientEverything } from './everything.ts';
import { historyPage } from './interactions.ts';
import { patientTimeline } from './patient-timeline.ts';
import { searchsetBundle } from './search-bundle.ts';
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
  /** Only instance-level operations so far (`Patient/{id}/$everything`). */
  level: 'instance';
  /** Canonical URL of the OperationDefinition. */
  definition: string;
  documentation?: string;
  /** False when something the operation needs is not running (the timeline projection). */
  available: (deps: Pick<FhirDeps, 'timeline'>) => boolean;
  run: (deps: FhirDeps, ctx: RequestContext, input: { id: string; query: URLSearchParams }) => Promise<FhirResult>;
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
    code: 'timeline',
    resourceType: 'Patient',
    level: 'instance',
    definition: 'urn:idr:OperationDefinition/Patient-timeline',
    documentation:
      'GET Patient/{id}/$timeline: the resources behind the patient timeline, newest event first (anchor resource as match, folded results as include). ' +
      'Parameters: lane (lab|imaging|pathology|document|diagnosis|treatment|encounter|other), code, from, to, _text, _count (max 200), cursor (from the next link).',
    available: (deps) => deps.timeline !== undefined,
    run: async (deps, ctx, { id, query }) => {
      if (!deps.timeline) throw new Error('$timeline needs the timeline store');
      return { outcome: allOk, resource: await patientTimeline({ repo: deps.repo, timeline: deps.timeline }, ctx, { baseUrl: deps.baseUrl, patient: id, query }) };
    },
  },
];

/** The operations served on a resource type (those whose dependencies run). */
export function operationsFor(deps: Pick<FhirDeps, 'timeline'>, resourceType: string): FhirOperation[] {
  return OPERATIONS.filter((op) => op.resourceType === resourceType && op.available(deps));
}

/** The operation `$code` on an instance of `resourceType`, if IDR serves it. */
export function findOperation(deps: FhirDeps, resourceType: string, code: string): FhirOperation | undefined {
  return operationsFor(deps, resourceType).find((op) => `$${op.code}` === code);
}
