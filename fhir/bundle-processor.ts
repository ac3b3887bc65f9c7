import { STATUS_CODES } from 'node:http';
import type { Bundle, BundleEntry, OperationOutcome, Resource } from '@medplum/fhirtypes';
import { badRequest, getStatus, OperationOutcomeError, preconditionFailed } from '@medplum/core';
import type { RequestContext } from '../store/request-context.ts';
import { CompensatingJournal } from '../store/journal.ts';
import { WriteBatch } from '../store/write-batch.ts';
import type { WriteScope } from '../store/version-store.ts';
import { identifierOnlyQuery } from '../store/identifier-index.ts';
import { deterministicId, newResourceId, resourceKey } from '../schema/resource-id.ts';
import type { BundleWriteScope } from '../store/reference-check.ts';
import { fail, serverErrorWithId, withText } from '../schema/outcomes.ts';
import { assertValidResource } from '../schema/validate.ts';
import { conditionalReferences, rewriteReferences, unresolvedUrnReferences } from './bundle-references.ts';
import { dispatch } from './dispatch.ts';
import { matchRoute, type Route } from './route.ts';
import { fhirUrl, type FhirDeps, type FhirRequest, type FhirResult } from './request.ts';

/**
 * Batch and transaction Bundles: each entry is turned into the FhirRequest REST would send and
 * run by the same route matching and interactions (dispatch.ts), so an entry answers exactly as
 * the REST call would. A transaction is all-or-nothing: the ids of its creates and conditional
 * updates are resolved and every resource validated before the first write; urn:uuid references
 * are rewritten to those ids; writes run in a MongoDB transaction when the server has them,
 * otherwise under a compensating journal (store/journal.ts).
 * See: https://hl7.org/fhir/R4/http.html#transaction
 */

/** Transaction order: deletes, creates, updates, then reads. See: https://hl7.org/fhir/R4/http.html#trules */
const METHOD_ORDER: Record<string, number> = { DELETE: 0, POST: 1, PUT: 2, GET: 3, HEAD: 3 };

type EntryRoute = Exclude<Route, { interaction: 'batch' }>;

interface PlannedEntry {
  index: number;
  fullUrl?: string;
  request: FhirRequest;
  route: EntryRoute;
  /** The id a create or conditional update gets, resolved before the first write. */
  id?: string;
}

/** Processes a batch or transaction Bundle and returns the response Bundle. */
export async function processBundle(deps: FhirDeps, ctx: RequestContext, bundle: Bundle): Promise<Bundle> {
  if (bundle?.resourceType !== 'Bundle') fail(badRequest('Expected a Bundle', 'Bundle'));
  if (bundle.entry !== undefined && (!Array.isArray(bundle.entry) || bundle.entry.some((e) => !e || typeof e !== 'object' || Array.isArray(e)))) {
    fail(badRequest('Bundle.entry must be an array of objects', 'Bundle.entry'));
  }
  if (bundle.type === 'transaction') return processTransaction(deps, ctx, bundle);
  if (bundle.type === 'batch') return processBatch(deps, ctx, bundle);
  return fail(badRequest(`Bundle.type must be "batch" or "transaction", got "${bundle.type}"`, 'Bundle.type'));
}

async function processBatch(deps: FhirDeps, ctx: RequestContext, bundle: Bundle): Promise<Bundle> {
  const entries: BundleEntry[] = [];
  for (const [index, entry] of (bundle.entry ?? []).entries()) {
    try {
      const p = plan(entry, index);
      entries.push(responseEntry(deps, await dispatch(deps, ctx, p.route, p.request)));
    } catch (err) {
      entries.push(errorEntry(err, index));
    }
  }
  return { resourceType: 'Bundle', type: 'batch-response', entry: entries };
}

async function processTransaction(deps: FhirDeps, ctx: RequestContext, bundle: Bundle): Promise<Bundle> {
  const planned = (bundle.entry ?? []).map((e, i) => {
    try {
      return plan(e, i);
    } catch (err) {
      throw prefixed(err, i);
    }
  });
  const fullUrls = new Map<string, string>();
  // Without a session the writes go together in a batch, which also reads what they replace in one go.
  const db = deps.repo.database;
  const batch = db.supportsTransactions ? undefined : new WriteBatch(db.c);
  const reads: WriteScope = batch ? { batch } : {};
  if (batch) await prefetchTargets(batch, planned);
  // Resolve the target id of every write before writing anything, so references can be rewritten.
  for (const p of planned) {
    try {
      p.id = await targetId(deps, ctx, p, reads);
    } catch (err) {
      throw prefixed(err, p.index);
    }
    if (p.fullUrl && p.id && 'type' in p.route) fullUrls.set(p.fullUrl, `${p.route.type}/${p.id}`);
  }
  // Conditional references ("Patient?identifier=…") resolve to their one match, as the store is before the transaction.
  for (const p of planned) {
    if (!isResource(p.request.body)) continue;
    for (const ref of conditionalReferences(p.request.body)) {
      if (fullUrls.has(ref)) continue;
      const [type = '', criteria = ''] = ref.split('?', 2);
      try {
        const id = await matchOne(deps, ctx, type, criteria, reads);
        if (!id) fail(badRequest(`Conditional reference ${ref} matches no resource`, `Bundle.entry[${p.index}].resource`));
        fullUrls.set(ref, `${type}/${id}`);
      } catch (err) {
        throw prefixed(err, p.index);
      }
    }
  }
  for (const p of planned) {
    if (!isResource(p.request.body)) continue;
    const resource = rewriteReferences(p.request.body, fullUrls);
    const dangling = unresolvedUrnReferences(resource).filter((r) => r.startsWith('urn:uuid:'));
    if (dangling.length) fail(badRequest(`entry[${p.index}]: reference ${dangling[0]} does not match any fullUrl in the Bundle`, `Bundle.entry[${p.index}].resource`));
    try {
      assertValidResource(resource);
    } catch (err) {
      throw prefixed(err, p.index);
    }
    p.request = { ...p.request, body: resource };
  }
  const order = [...planned].sort((a, b) => (METHOD_ORDER[a.request.method] ?? 9) - (METHOD_ORDER[b.request.method] ?? 9) || a.index - b.index);
  const responses = new Array<BundleEntry>(planned.length);
  // An entry may refer to one written after it: the reference check counts every target of this Bundle as present.
  const bundleTargets = new Set(planned.flatMap((p) => (p.id && (p.request.method === 'POST' || p.request.method === 'PUT') && 'type' in p.route ? [`${p.route.type}/${p.id}`] : [])));
  const run = async (scope: BundleWriteScope): Promise<void> => {
    for (const p of order) {
      try {
        const writesId = p.route.interaction === 'create' || p.route.interaction === 'conditional-update';
        responses[p.index] = responseEntry(deps, await dispatch(deps, ctx, p.route, p.request, { scope, ...(writesId && p.id ? { id: p.id } : {}) }));
      } catch (err) {
        throw prefixed(err, p.index);
      }
    }
    await scope.batch?.flush();
  };
  if (!batch) {
    const session = db.client.startSession();
    try {
      await session.withTransaction(() => run({ session, bundleTargets, validated: true }));
    } finally {
      await session.endSession();
    }
  } else {
    const journal = new CompensatingJournal(db.c);
    await journal.begin();
    try {
      await run({ ...journal.scope(), bundleTargets, batch, validated: true });
    } catch (err) {
      await journal.rollback();
      throw err;
    }
    await journal.commit();
  }
  return { resourceType: 'Bundle', type: 'transaction-response', entry: responses };
}

/** The request an entry stands for, matched to its route as a REST call would be. */
function plan(entry: BundleEntry, index: number): PlannedEntry {
  const method = entry.request?.method;
  const url = entry.request?.url;
  if (!method || !url) fail(badRequest(`entry[${index}]: request.method and request.url are required`, `Bundle.entry[${index}].request`));
  const q = url.indexOf('?');
  const path = (q < 0 ? url : url.slice(0, q)).replace(/^\/+/, '');
  const request: FhirRequest = {
    method,
    path,
    query: new URLSearchParams(q < 0 ? '' : url.slice(q + 1)),
    ...(entry.resource ? { body: entry.resource } : {}),
    headers: { ...(entry.request?.ifMatch ? { ifMatch: entry.request.ifMatch } : {}), ...(entry.request?.ifNoneExist ? { ifNoneExist: entry.request.ifNoneExist } : {}) },
  };
  const route = matchRoute(method, path, request.query);
  if (route.interaction === 'batch') fail(badRequest(`entry[${index}]: a Bundle entry cannot be another batch or transaction`, `Bundle.entry[${index}].request.url`));
  return { index, request, route, ...(entry.fullUrl ? { fullUrl: entry.fullUrl } : {}) };
}

/** The id a write entry will have: the match of its criteria, else a new (or the criteria's deterministic) id. */
async function targetId(deps: FhirDeps, ctx: RequestContext, p: PlannedEntry, scope: WriteScope): Promise<string | undefined> {
  const { route, request } = p;
  if (route.interaction === 'update') return route.id;
  if (route.interaction === 'create') {
    const criteria = createCriteria(p);
    return (criteria ? await matchOne(deps, ctx, route.type, criteria, scope) : undefined) ?? newResourceId();
  }
  if (route.interaction === 'conditional-update') {
    const criteria = request.query.toString();
    const bodyId = isResource(request.body) ? request.body.id : undefined;
    return (await matchOne(deps, ctx, route.type, criteria, scope)) ?? bodyId ?? (await deps.repo.conditionalId(ctx, route.type, criteria, scope));
  }
  return undefined;
}

function createCriteria(p: PlannedEntry): string | undefined {
  return p.request.headers?.ifNoneExist?.replace(/^[A-Za-z]+\?/, '');
}

/**
 * Reads at once what resolving the entries' targets needs (one `$in` query each): the claims of
 * the identifiers their criteria name, the resources holding them, the resources updated by id,
 * and those the deterministic ids of conditional updates would name.
 */
async function prefetchTargets(batch: WriteBatch, planned: PlannedEntry[]): Promise<void> {
  const keys: string[] = [];
  const identifiers: string[] = [];
  for (const { route, request } of planned) {
    if (route.interaction === 'update') keys.push(resourceKey(route.type, route.id));
    const criteria = route.interaction === 'conditional-update' ? request.query.toString() : route.interaction === 'create' ? createCriteria({ route, request } as PlannedEntry) : undefined;
    if (!criteria || !('type' in route)) continue;
    identifiers.push(...(identifierOnlyQuery(route.type, criteria) ?? []));
    if (route.interaction === 'conditional-update') keys.push(resourceKey(route.type, deterministicId(`${route.type}?${criteria}`)));
  }
  await batch.prefetch(keys, identifiers);
}

async function matchOne(deps: FhirDeps, ctx: RequestContext, type: string, criteria: string, scope: WriteScope): Promise<string | undefined> {
  const found = await deps.repo.searchByQuery(ctx, type, criteria, 2, scope);
  if (found.length > 1) fail(withText(preconditionFailed, `Criteria "${type}?${criteria}" matched ${found.length} resources`));
  return found[0]?.id;
}

/** The response entry for a result: the resource (or, without one, the outcome) as REST sends it, with its status, location and version. */
function responseEntry(deps: FhirDeps, result: FhirResult): BundleEntry {
  const r = result.resource;
  const meta = r && r.resourceType !== 'Bundle' ? r.meta : undefined;
  return {
    ...(r && r.resourceType !== 'Bundle' && r.id ? { fullUrl: fhirUrl(deps, `${r.resourceType}/${r.id}`) } : {}),
    ...(r ? { resource: r } : {}),
    response: {
      status: statusLine(getStatus(result.outcome)),
      ...(result.location ? { location: result.location } : {}),
      ...(meta?.versionId ? { etag: `W/"${meta.versionId}"` } : {}),
      ...(meta?.lastUpdated ? { lastModified: meta.lastUpdated } : {}),
      ...(r ? {} : { outcome: result.outcome }),
    },
  };
}

function errorEntry(err: unknown, index: number): BundleEntry {
  const o = err instanceof OperationOutcomeError ? err.outcome : serverErrorWithId(`batch-${index}`);
  return { response: { status: statusLine(getStatus(o)), outcome: o } };
}

function statusLine(status: number): string {
  return `${status} ${STATUS_CODES[status] ?? ''}`.trim();
}

function isResource(body: unknown): body is Resource {
  return !!body && typeof body === 'object' && !Array.isArray(body) && typeof (body as { resourceType?: unknown }).resourceType === 'string';
}

/** A transaction fails as a whole: its outcome names the entry that failed. */
function prefixed(err: unknown, index: number): unknown {
  if (!(err instanceof OperationOutcomeError)) return err;
  const o: OperationOutcome = {
    ...err.outcome,
    issue: (err.outcome.issue ?? []).map((i) => ({ ...i, details: { text: i.details?.text?.startsWith('entry[') ? i.details.text : `entry[${index}]: ${i.details?.text ?? ''}` } })),
  };
  return new OperationOutcomeError(o, { cause: err });
}
