import type { Bundle } from '@medplum/fhirtypes';
import { allOk, badRequest } from '@medplum/core';
import type { RequestContext } from '../store/request-context.ts';
import { fail } from '../schema/outcomes.ts';
import { processBundle } from './bundle-processor.ts';
import { dispatch } from './dispatch.ts';
import { matchRoute } from './route.ts';
import type { FhirDeps, FhirRequest, FhirResult } from './request.ts';

/**
 * The FHIR router: one request (method + path + query + body) in, one FhirResult out. The REST
 * API is a thin HTTP adapter over it, and every batch/transaction entry runs through the same
 * route matching and interactions, so whatever works as a REST call works as a Bundle entry.
 * Errors are thrown as OperationOutcomeError. Knows neither HTTP nor express.
 */
export async function handleFhirRequest(deps: FhirDeps, ctx: RequestContext, request: FhirRequest): Promise<FhirResult> {
  const route = matchRoute(request.method, request.path, request.query);
  if (route.interaction !== 'batch') return dispatch(deps, ctx, route, request);
  const body = request.body as Bundle | undefined;
  if (!body || typeof body !== 'object' || body.resourceType !== 'Bundle') fail(badRequest('POST to the base URL needs a Bundle of type batch or transaction', 'Bundle'));
  return { outcome: allOk, resource: await processBundle(deps, ctx, body) };
}
