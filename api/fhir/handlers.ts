import type { Bundle, Resource } from '@medplum/fhirtypes';
import type { SearchRequest } from '@medplum/core';
import type { Repository } from '../../store/repository.ts';
import type { RequestContext } from '../../store/request-context.ts';
import { allOk, badRequest, created, preconditionFailed } from '@medplum/core';
import { fail, withText } from '../../schema/outcomes.ts';
import { processBundle } from '../../fhir/bundle-processor.ts';
import { assertResourceType } from '../../schema/validate.ts';
import type { SearchResult } from '../../store/repository-search.ts';
import type { FhirResult } from './result.ts';

/**
 * FHIR interactions as functions from input to FhirResult; the express routes only translate
 * HTTP to these calls, so REST, Bundles and tests share them.
 * See: https://hl7.org/fhir/R4/http.html
 */

/** read */
export async function readHandler(repo: Repository, ctx: RequestContext, type: string, id: string): Promise<FhirResult> {
  return { outcome: allOk, resource: await repo.read(ctx, type, id) };
}

/** vread */
export async function vreadHandler(repo: Repository, ctx: RequestContext, type: string, id: string, vid: string): Promise<FhirResult> {
  return { outcome: allOk, resource: await repo.vread(ctx, type, id, vid) };
}

/** create (optionally conditional with If-None-Exist) */
export async function createHandler(repo: Repository, ctx: RequestContext, type: string, body: unknown, baseUrl: string, ifNoneExist?: string): Promise<FhirResult> {
  const resource = requireResource(body, type);
  const r = await repo.create(ctx, resource, ifNoneExist ? { ifNoneExist } : {});
  return {
    outcome: r.created ? created : withText(allOk, `If-None-Exist matched ${r.resource.resourceType}/${r.resource.id}; nothing created`),
    resource: r.resource,
    headers: { Location: `${baseUrl}/${type}/${r.resource.id}/_history/${r.resource.meta?.versionId}` },
  };
}

/** update (create-on-update with a client id) */
export async function updateHandler(repo: Repository, ctx: RequestContext, type: string, id: string, body: unknown, baseUrl: string, ifMatch?: string): Promise<FhirResult> {
  const resource = requireResource(body, type);
  if (resource.id !== undefined && resource.id !== id) fail(badRequest(`The id in the body (${resource.id}) differs from the id in the URL (${id})`, `${type}.id`));
  const r = await repo.update(ctx, { ...resource, id }, ifMatch !== undefined ? { ifMatch } : {});
  return updateResult(r.resource, r.created, baseUrl);
}

/** conditional update: PUT Type?criteria */
export async function conditionalUpdateHandler(repo: Repository, ctx: RequestContext, type: string, query: string, body: unknown, baseUrl: string): Promise<FhirResult> {
  const resource = requireResource(body, type);
  const r = await repo.conditionalUpdate(ctx, resource, query);
  return updateResult(r.resource, r.created, baseUrl);
}

function updateResult(resource: Resource, wasCreated: boolean, baseUrl: string): FhirResult {
  return {
    outcome: wasCreated ? created : allOk,
    resource,
    headers: { 'Content-Location': `${baseUrl}/${resource.resourceType}/${resource.id}/_history/${resource.meta?.versionId}`, ...(wasCreated ? { Location: `${baseUrl}/${resource.resourceType}/${resource.id}/_history/${resource.meta?.versionId}` } : {}) },
  };
}

/** delete */
export async function deleteHandler(repo: Repository, ctx: RequestContext, type: string, id: string): Promise<FhirResult> {
  const r = await repo.delete(ctx, type, id);
  return { outcome: withText(allOk, r.deleted ? `Deleted ${type}/${id}` : `${type}/${id} did not exist or was already deleted`) };
}

/** conditional delete: DELETE Type?criteria (one match at most). See: https://hl7.org/fhir/R4/http.html#3.1.0.7.1 */
export async function conditionalDeleteHandler(repo: Repository, ctx: RequestContext, type: string, query: string): Promise<FhirResult> {
  assertResourceType(type);
  const found = await repo.searchByQuery(ctx, type, query, 2);
  if (found.length > 1) fail(withText(preconditionFailed, `Conditional delete "${type}?${query}" matched ${found.length} resources`));
  const id = found[0]?.id;
  if (!id) return { outcome: withText(allOk, `No ${type} matched "${query}"; nothing deleted`) };
  await repo.delete(ctx, type, id);
  return { outcome: withText(allOk, `Deleted ${type}/${id}`) };
}

/** search-type */
export async function searchHandler(repo: Repository, ctx: RequestContext, request: SearchRequest, lenient: boolean): Promise<SearchResult> {
  assertResourceType(request.resourceType);
  return repo.search(ctx, request, { lenient });
}

/** batch / transaction */
export async function bundleHandler(repo: Repository, ctx: RequestContext, body: unknown): Promise<FhirResult> {
  if (!body || typeof body !== 'object' || (body as Resource).resourceType !== 'Bundle') fail(badRequest('POST to the base URL needs a Bundle of type batch or transaction', 'Bundle'));
  const response = await processBundle(repo, ctx, body as Bundle);
  return { outcome: allOk, resource: response };
}

function requireResource(body: unknown, type: string): Resource {
  assertResourceType(type);
  if (!body || typeof body !== 'object' || Array.isArray(body)) fail(badRequest(`Expected a ${type} resource as JSON in the request body`));
  const resourceType = (body as { resourceType?: unknown }).resourceType;
  if (resourceType !== type) fail(badRequest(`The body is a ${String(resourceType)} but the URL is for ${type}`, 'resourceType'));
  return body as Resource;
}
