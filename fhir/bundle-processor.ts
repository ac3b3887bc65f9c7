import type { Bundle, BundleEntry, OperationOutcome, Resource } from '@medplum/fhirtypes';
import type { RequestContext } from '../store/request-context.ts';
import type { Repository, WriteResult } from '../store/repository.ts';
import { CompensatingJournal } from '../store/journal.ts';
import type { WriteScope } from '../store/version-store.ts';
import { allOk, badRequest, getStatus, OperationOutcomeError, preconditionFailed } from '@medplum/core';
import { fail, serverErrorWithId, withText } from '../schema/outcomes.ts';
import { newResourceId } from '../schema/resource-id.ts';
import { rewriteReferences, unresolvedUrnReferences } from './bundle-references.ts';
import { assertValidResource } from '../schema/validate.ts';
import { parseFhirSearch } from '../store/search-to-mongo.ts';

/**
 * Processes batch and transaction Bundles on top of the Repository.
 * A transaction is all-or-nothing: every entry is resolved and validated before the first write;
 * writes then run in a MongoDB transaction when the server has them, otherwise under a
 * compensating journal (see journal.ts). References to urn:uuid fullUrls are rewritten to the
 * ids the entries get. See: https://hl7.org/fhir/R4/http.html#transaction
 */

const METHOD_ORDER: Record<string, number> = { DELETE: 0, POST: 1, PUT: 2, PATCH: 2, GET: 3, HEAD: 3 };

interface PlannedEntry {
  index: number;
  entry: BundleEntry;
  method: string;
  type: string;
  /** The id this entry reads/writes, when known before the write. */
  id?: string;
  query?: string;
  resource?: Resource;
}

/** Processes a batch or transaction Bundle and returns the response Bundle. */
export async function processBundle(repo: Repository, ctx: RequestContext, bundle: Bundle): Promise<Bundle> {
  if (bundle?.resourceType !== 'Bundle') fail(badRequest('Expected a Bundle', 'Bundle'));
  if (bundle.entry !== undefined && (!Array.isArray(bundle.entry) || bundle.entry.some((e) => !e || typeof e !== 'object' || Array.isArray(e)))) {
    fail(badRequest('Bundle.entry must be an array of objects', 'Bundle.entry'));
  }
  if (bundle.type === 'transaction') return processTransaction(repo, ctx, bundle);
  if (bundle.type === 'batch') return processBatch(repo, ctx, bundle);
  return fail(badRequest(`Bundle.type must be "batch" or "transaction", got "${bundle.type}"`, 'Bundle.type'));
}

async function processBatch(repo: Repository, ctx: RequestContext, bundle: Bundle): Promise<Bundle> {
  const entries: BundleEntry[] = [];
  for (const [index, entry] of (bundle.entry ?? []).entries()) {
    try {
      const planned = plan(entry, index);
      if (planned.resource) assertValidResource(planned.resource);
      entries.push(await execute(repo, ctx, planned, {}));
    } catch (err) {
      entries.push(errorEntry(err, index));
    }
  }
  return { resourceType: 'Bundle', type: 'batch-response', entry: entries };
}

async function processTransaction(repo: Repository, ctx: RequestContext, bundle: Bundle): Promise<Bundle> {
  const planned = (bundle.entry ?? []).map((e, i) => plan(e, i));
  const fullUrls = new Map<string, string>();
  // Resolve the target id of every write before writing anything, so references can be rewritten.
  for (const p of planned) {
    if (p.method === 'POST' && p.resource) {
      const ifNoneExist = p.entry.request?.ifNoneExist;
      const match = ifNoneExist ? await matchOne(repo, ctx, p.type, ifNoneExist, p.index) : undefined;
      p.id = match ?? newResourceId();
    } else if (p.method === 'PUT' && p.query !== undefined) {
      p.id = (await matchOne(repo, ctx, p.type, p.query, p.index)) ?? p.resource?.id ?? (await repo.conditionalId(ctx, p.type, p.query));
    }
    if (p.entry.fullUrl && p.id && (p.method === 'POST' || p.method === 'PUT')) fullUrls.set(p.entry.fullUrl, `${p.type}/${p.id}`);
  }
  for (const p of planned) {
    if (!p.resource) continue;
    p.resource = rewriteReferences(p.resource, fullUrls);
    const dangling = unresolvedUrnReferences(p.resource).filter((r) => r.startsWith('urn:uuid:'));
    if (dangling.length) fail(badRequest(`entry[${p.index}]: reference ${dangling[0]} does not match any fullUrl in the Bundle`, `Bundle.entry[${p.index}].resource`));
    try {
      assertValidResource(p.resource);
    } catch (err) {
      throw prefixed(err, p.index);
    }
  }
  const order = [...planned].sort((a, b) => (METHOD_ORDER[a.method] ?? 9) - (METHOD_ORDER[b.method] ?? 9) || a.index - b.index);
  const responses = new Array<BundleEntry>(planned.length);
  const run = async (scope: WriteScope): Promise<void> => {
    for (const p of order) {
      try {
        responses[p.index] = await execute(repo, ctx, p, scope);
      } catch (err) {
        throw prefixed(err, p.index);
      }
    }
  };
  const db = repo.database;
  if (db.supportsTransactions) {
    const session = db.client.startSession();
    try {
      await session.withTransaction(() => run({ session }));
    } finally {
      await session.endSession();
    }
  } else {
    const journal = new CompensatingJournal(db.c);
    await journal.begin();
    try {
      await run(journal.scope());
    } catch (err) {
      await journal.rollback();
      throw err;
    }
    await journal.commit();
  }
  return { resourceType: 'Bundle', type: 'transaction-response', entry: responses };
}

function plan(entry: BundleEntry, index: number): PlannedEntry {
  const method = entry.request?.method;
  const url = entry.request?.url;
  if (!method || !url) fail(badRequest(`entry[${index}]: request.method and request.url are required`, `Bundle.entry[${index}].request`));
  const [path = '', query] = url.replace(/^\//, '').split('?', 2);
  const [type = '', id, ...rest] = path.split('/');
  const resource = entry.resource;
  const p: PlannedEntry = { index, entry, method, type, ...(id ? { id } : {}), ...(query !== undefined ? { query } : {}), ...(resource ? { resource } : {}) };
  if (method === 'PATCH') fail(badRequest(`entry[${index}]: PATCH is not supported`, `Bundle.entry[${index}].request.method`));
  if ((method === 'POST' || method === 'PUT') && !resource) fail(badRequest(`entry[${index}]: ${method} needs a resource`, `Bundle.entry[${index}].resource`));
  if (resource && resource.resourceType !== type) fail(badRequest(`entry[${index}]: request.url is for ${type} but the resource is a ${resource.resourceType}`, `Bundle.entry[${index}].request.url`));
  if (method === 'PUT' && !id && query === undefined) fail(badRequest(`entry[${index}]: PUT needs Type/id or Type?criteria`, `Bundle.entry[${index}].request.url`));
  if (method === 'PUT' && id && resource?.id && resource.id !== id) fail(badRequest(`entry[${index}]: url id ${id} differs from resource id ${resource.id}`, `Bundle.entry[${index}].resource.id`));
  if (rest.length > 2) fail(badRequest(`entry[${index}]: unsupported url ${url}`, `Bundle.entry[${index}].request.url`));
  return p;
}

async function matchOne(repo: Repository, ctx: RequestContext, type: string, query: string, index: number): Promise<string | undefined> {
  try {
    const found = await repo.searchByQuery(ctx, type, query, 2);
    if (found.length > 1) fail(withText(preconditionFailed, `entry[${index}]: criteria "${type}?${query}" matched ${found.length} resources`));
    return found[0]?.id;
  } catch (err) {
    throw prefixed(err, index);
  }
}

async function execute(repo: Repository, ctx: RequestContext, p: PlannedEntry, scope: WriteScope): Promise<BundleEntry> {
  const s = scope.session || scope.beforeWrite ? { scope } : {};
  switch (p.method) {
    case 'GET': {
      if (p.id) return { resource: await repo.read(ctx, p.type, p.id), response: { status: '200 OK' } };
      const result = await repo.search(ctx, parseFhirSearch(p.type, p.query ?? ''));
      const searchset: Bundle = { resourceType: 'Bundle', type: 'searchset', ...(result.total !== undefined ? { total: result.total } : {}), entry: result.resources.map((r) => ({ resource: r, search: { mode: 'match' } })) };
      return { resource: searchset, response: { status: '200 OK' } };
    }
    case 'POST': {
      const r = await repo.create(ctx, p.resource as Resource, { ...s, ...(p.entry.request?.ifNoneExist ? { ifNoneExist: p.entry.request.ifNoneExist } : {}), ...(p.id ? { id: p.id } : {}) });
      return writeEntry(r);
    }
    case 'PUT': {
      if (p.query !== undefined && !p.id) return writeEntry(await repo.conditionalUpdate(ctx, p.resource as Resource, p.query, s));
      const ifMatch = p.entry.request?.ifMatch;
      return writeEntry(await repo.update(ctx, { ...(p.resource as Resource), id: p.id as string }, { ...s, ...(ifMatch ? { ifMatch } : {}) }));
    }
    case 'DELETE': {
      if (!p.id) {
        const found = await repo.searchByQuery(ctx, p.type, p.query ?? '', 2);
        if (found.length > 1) fail(withText(preconditionFailed, `Conditional delete matched ${found.length} resources`));
        if (!found[0]?.id) return { response: { status: '204 No Content' } };
        p.id = found[0].id;
      }
      await repo.delete(ctx, p.type, p.id, s);
      return { response: { status: '204 No Content', outcome: allOk } };
    }
    default:
      return fail(badRequest(`entry[${p.index}]: unsupported method ${p.method}`, `Bundle.entry[${p.index}].request.method`));
  }
}

function writeEntry(r: WriteResult): BundleEntry {
  const meta = r.resource.meta;
  return {
    fullUrl: `${r.resource.resourceType}/${r.resource.id}`,
    resource: r.resource,
    response: {
      status: r.created ? '201 Created' : '200 OK',
      location: `${r.resource.resourceType}/${r.resource.id}/_history/${meta?.versionId}`,
      etag: `W/"${meta?.versionId}"`,
      ...(meta?.lastUpdated ? { lastModified: meta.lastUpdated } : {}),
    },
  };
}

function prefixed(err: unknown, index: number): unknown {
  if (!(err instanceof OperationOutcomeError)) return err;
  const o: OperationOutcome = {
    ...err.outcome,
    issue: (err.outcome.issue ?? []).map((i) => ({ ...i, details: { text: i.details?.text?.startsWith('entry[') ? i.details.text : `entry[${index}]: ${i.details?.text ?? ''}` } })),
  };
  return new OperationOutcomeError(o, { cause: err });
}

function errorEntry(err: unknown, index: number): BundleEntry {
  const o = err instanceof OperationOutcomeError ? (prefixed(err, index) as OperationOutcomeError).outcome : serverErrorWithId(`batch-${index}`);
  const status = getStatus(o);
  return { response: { status: String(status), outcome: o } };
}

