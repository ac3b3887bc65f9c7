import { allOk, notFound } from '@medplum/core';
import type { RequestContext } from '../store/request-context.ts';
import { fail, withText } from '../schema/outcomes.ts';
import { capabilityStatement } from './capability.ts';
import * as interactions from './interactions.ts';
import { findOperation } from './operations.ts';
import type { Route } from './route.ts';
import type { FhirDeps, FhirRequest, FhirResult, WriteOptions } from './request.ts';

/**
 * Runs one matched interaction (anything but a batch/transaction Bundle, which the Bundle
 * processor splits into entries that come back here).
 */
export async function dispatch(deps: FhirDeps, ctx: RequestContext, route: Exclude<Route, { interaction: 'batch' }>, request: FhirRequest, options: WriteOptions = {}): Promise<FhirResult> {
  const { query, body, headers = {} } = request;
  switch (route.interaction) {
    case 'capabilities':
      return { outcome: allOk, resource: capabilityStatement(deps) };
    case 'search-type':
      return interactions.search(deps, ctx, route.type, withFormFields(query, request.method === 'POST' ? body : undefined), /handling=lenient/.test(headers.prefer ?? ''));
    case 'create':
      return interactions.create(deps, ctx, route.type, body, headers.ifNoneExist, options);
    case 'conditional-update':
      return interactions.conditionalUpdate(deps, ctx, route.type, query.toString(), body, options);
    case 'conditional-delete':
      return interactions.conditionalDelete(deps, ctx, route.type, query.toString(), options);
    case 'history-type':
      return interactions.history(deps, ctx, route.type, undefined, query);
    case 'read':
      return interactions.read(deps, ctx, route.type, route.id, query);
    case 'update':
      return interactions.update(deps, ctx, route.type, route.id, body, headers.ifMatch, options);
    case 'delete':
      return interactions.remove(deps, ctx, route.type, route.id, options);
    case 'history-instance':
      return interactions.history(deps, ctx, route.type, route.id, query);
    case 'vread':
      return interactions.vread(deps, ctx, route.type, route.id, route.vid);
    case 'operation': {
      const op = findOperation(deps, route.type, route.code);
      if (!op) return fail(withText(notFound, `Unknown operation ${route.type}/${route.id}/${route.code}`));
      return op.run(deps, ctx, { id: route.id, query, body, method: request.method.toUpperCase() });
    }
  }
}

/** The query plus the form fields of a POST _search body. See: https://hl7.org/fhir/R4/http.html#search */
function withFormFields(query: URLSearchParams, body: unknown): URLSearchParams {
  if (!body || typeof body !== 'object' || Array.isArray(body) || 'resourceType' in body) return query;
  const q = new URLSearchParams(query);
  for (const [k, v] of Object.entries(body as Record<string, unknown>)) for (const x of [v].flat()) if (typeof x === 'string') q.append(k, x);
  return q;
}
