import type { Bundle, Resource } from '@medplum/fhirtypes';
import { allOk, badRequest, created, preconditionFailed } from '@medplum/core';
import type { RequestContext } from '../store/request-context.ts';
import type { WriteResult } from '../store/repository.ts';
import { parseFhirSearch } from '../store/search-to-mongo.ts';
import { fail, withText } from '../schema/outcomes.ts';
import { assertResourceType } from '../schema/validate.ts';
import { subsetResource, type Summary } from './elements.ts';
import { historyBundle } from './history-bundle.ts';
import { searchsetBundle } from './search-bundle.ts';
import { fhirUrl, type FhirDeps, type FhirResult, type WriteOptions } from './request.ts';

/**
 * The FHIR interactions, each a function from its inputs to a FhirResult (errors are thrown as
 * OperationOutcomeError). The router calls them for REST calls and Bundle entries alike.
 * See: https://hl7.org/fhir/R4/http.html
 */

/** read, with _elements / _summary. See: https://hl7.org/fhir/R4/http.html#read */
export async function read(deps: FhirDeps, ctx: RequestContext, type: string, id: string, query: URLSearchParams): Promise<FhirResult> {
  const resource = await deps.repo.read(ctx, type, id);
  const elements = query.get('_elements')?.split(',');
  const summary = (query.get('_summary') ?? undefined) as Summary | undefined;
  return { outcome: allOk, resource: elements || summary ? subsetResource(resource, { ...(elements ? { elements } : {}), ...(summary ? { summary } : {}) }) : resource };
}

/** vread. See: https://hl7.org/fhir/R4/http.html#vread */
export async function vread(deps: FhirDeps, ctx: RequestContext, type: string, id: string, vid: string): Promise<FhirResult> {
  return { outcome: allOk, resource: await deps.repo.vread(ctx, type, id, vid) };
}

/** create, optionally conditional (If-None-Exist). See: https://hl7.org/fhir/R4/http.html#ccreate */
export async function create(deps: FhirDeps, ctx: RequestContext, type: string, body: unknown, ifNoneExist: string | undefined, options: WriteOptions = {}): Promise<FhirResult> {
  const resource = requireResource(body, type);
  const criteria = ifNoneExist?.replace(/^[A-Za-z]+\?/, '') || undefined;
  const r = await deps.repo.create(ctx, resource, { ...(criteria ? { ifNoneExist: criteria } : {}), ...(options.scope ? { scope: options.scope } : {}), ...(options.id ? { id: options.id } : {}) });
  return {
    outcome: r.created ? created : withText(allOk, `If-None-Exist matched ${r.resource.resourceType}/${r.resource.id}; nothing created`),
    resource: r.resource,
    location: versionPath(r.resource),
  };
}

/** update, creating the resource when the id is new. See: https://hl7.org/fhir/R4/http.html#update */
export async function update(deps: FhirDeps, ctx: RequestContext, type: string, id: string, body: unknown, ifMatch: string | undefined, options: WriteOptions = {}): Promise<FhirResult> {
  const resource = requireResource(body, type);
  if (resource.id !== undefined && resource.id !== id) fail(badRequest(`The id in the body (${resource.id}) differs from the id in the URL (${id})`, `${type}.id`));
  const r = await deps.repo.update(ctx, { ...resource, id }, { ...(ifMatch !== undefined ? { ifMatch } : {}), ...(options.scope ? { scope: options.scope } : {}) });
  return updateResult(r);
}

/** conditional update: PUT Type?criteria. See: https://hl7.org/fhir/R4/http.html#cond-update */
export async function conditionalUpdate(deps: FhirDeps, ctx: RequestContext, type: string, criteria: string, body: unknown, options: WriteOptions = {}): Promise<FhirResult> {
  const resource = requireResource(body, type);
  const scope = options.scope ? { scope: options.scope } : {};
  if (options.id === undefined) return updateResult(await deps.repo.conditionalUpdate(ctx, resource, criteria, scope));
  // A transaction resolved the criteria before its first write.
  if (resource.id !== undefined && resource.id !== options.id) {
    fail(badRequest(`Conditional update matched ${type}/${options.id} but the body has id ${resource.id}`, `${type}.id`));
  }
  return updateResult(await deps.repo.update(ctx, { ...resource, id: options.id }, scope));
}

/** delete. See: https://hl7.org/fhir/R4/http.html#delete */
export async function remove(deps: FhirDeps, ctx: RequestContext, type: string, id: string, options: WriteOptions = {}): Promise<FhirResult> {
  const r = await deps.repo.delete(ctx, type, id, options.scope ? { scope: options.scope } : {});
  return { outcome: withText(allOk, r.deleted ? `Deleted ${type}/${id}` : `${type}/${id} did not exist or was already deleted`) };
}

/** conditional delete: DELETE Type?criteria, one match at most. See: https://hl7.org/fhir/R4/http.html#3.1.0.7.1 */
export async function conditionalDelete(deps: FhirDeps, ctx: RequestContext, type: string, criteria: string, options: WriteOptions = {}): Promise<FhirResult> {
  assertResourceType(type);
  const found = await deps.repo.searchByQuery(ctx, type, criteria, 2);
  if (found.length > 1) fail(withText(preconditionFailed, `Conditional delete "${type}?${criteria}" matched ${found.length} resources`));
  const id = found[0]?.id;
  if (!id) return { outcome: withText(allOk, `No ${type} matched "${criteria}"; nothing deleted`) };
  await deps.repo.delete(ctx, type, id, options.scope ? { scope: options.scope } : {});
  return { outcome: withText(allOk, `Deleted ${type}/${id}`) };
}

/** search-type, as a searchset Bundle with paging links. See: https://hl7.org/fhir/R4/http.html#search */
export async function search(deps: FhirDeps, ctx: RequestContext, type: string, query: URLSearchParams, lenient: boolean): Promise<FhirResult> {
  assertResourceType(type);
  const request = parseFhirSearch(type, query.toString());
  for (const k of ['_count', '_offset']) {
    const v = query.get(k);
    if (v !== null && !/^\d+$/.test(v)) fail(badRequest(`${k} must be a non-negative integer, got "${v}"`, k));
  }
  const summary = query.get('_summary') as Summary | 'count' | null;
  if (summary === 'count') request.total = 'accurate';
  const result = await deps.repo.search(ctx, request, { lenient });
  if (summary === 'count') {
    const bundle: Bundle = { resourceType: 'Bundle', type: 'searchset', total: result.total ?? 0, link: [{ relation: 'self', url: `${fhirUrl(deps, type)}?${query.toString()}` }] };
    return { outcome: allOk, resource: bundle };
  }
  const bundle = searchsetBundle({ baseUrl: deps.baseUrl, path: type, query, result, ...(request.fields ? { elements: request.fields } : {}), ...(summary ? { summary } : {}) });
  return { outcome: allOk, resource: bundle };
}

/** history-type and history-instance. See: https://hl7.org/fhir/R4/http.html#history */
export async function history(deps: FhirDeps, ctx: RequestContext, type: string, id: string | undefined, query: URLSearchParams): Promise<FhirResult> {
  const page = historyPage(query);
  const h = await deps.repo.history(ctx, type, id, page);
  return { outcome: allOk, resource: historyBundle(deps.baseUrl, `${type}${id ? `/${id}` : ''}/_history`, query, h, page) };
}

/** _count, _offset and _since of a history or $everything request. */
export function historyPage(query: URLSearchParams): { count: number; offset: number; since?: Date } {
  const countText = query.get('_count');
  const offsetText = query.get('_offset');
  const count = countText === null ? 20 : Number(countText);
  const offset = offsetText === null ? 0 : Number(offsetText);
  if (!Number.isInteger(count) || count < 0 || count > 1000) fail(badRequest('_count must be an integer between 0 and 1000', '_count'));
  if (!Number.isInteger(offset) || offset < 0) fail(badRequest('_offset must be a non-negative integer', '_offset'));
  const sinceText = query.get('_since');
  const since = sinceText !== null ? new Date(sinceText) : undefined;
  if (since && Number.isNaN(since.getTime())) fail(badRequest(`_since must be an instant, got "${sinceText}"`, '_since'));
  return { count, offset, ...(since ? { since } : {}) };
}

function updateResult(r: WriteResult): FhirResult {
  return { outcome: r.created ? created : allOk, resource: r.resource, location: versionPath(r.resource) };
}

function versionPath(resource: Resource): string {
  return `${resource.resourceType}/${resource.id}/_history/${resource.meta?.versionId}`;
}

function requireResource(body: unknown, type: string): Resource {
  assertResourceType(type);
  if (!body || typeof body !== 'object' || Array.isArray(body)) fail(badRequest(`Expected a ${type} resource as JSON in the request body`));
  const resourceType = (body as { resourceType?: unknown }).resourceType;
  if (resourceType !== type) fail(badRequest(`The body is a ${String(resourceType)} but the URL is for ${type}`, 'resourceType'));
  return body as Resource;
}
