import type { Resource } from '@medplum/fhirtypes';
import type { SearchRequest } from '@medplum/core';
import { resourceOf, type ResourceDoc } from '../schema/collections.ts';
import type { Database } from './db.ts';
import { findAnyOf } from './find-any-of.ts';
import { resolveChains } from './search-chains.ts';
import { DEFAULT_COUNT, MAX_COUNT, searchToMongo } from './search-to-mongo.ts';
import { badRequest } from '@medplum/core';
import { fail } from '../schema/outcomes.ts';
import { isResourceType, searchParamsFor } from '../schema/fhir-definitions.ts';
import { paramValues, searchKey } from '../schema/search-index.ts';
import type { RequestContext } from './request-context.ts';
import { guardedDoc, keepVisible } from './access-guard.ts';
import type { Filter } from 'mongodb';
import { countMatching } from './count.ts';

export interface SearchOptions {
  /** Ignore unknown parameters instead of failing (Prefer: handling=lenient). */
  lenient?: boolean;
}

export interface SearchResult {
  resources: Resource[];
  /** Resources added by _include / _revinclude (not counted in total). */
  included: Resource[];
  total?: number;
  /** True when there are more matches after this page. */
  hasMore: boolean;
  offset: number;
  count: number;
  ignored: string[];
  /** Matches on this page left out because the caller may not see them (restricted records, other patients). */
  withheld: number;
}

const MAX_INCLUDED = 1000;

/** Runs a search: one query for the page (plus a count when more pages follow, and one per include). */
export async function searchResources(database: Database, ctx: RequestContext, request: SearchRequest, options: SearchOptions = {}): Promise<SearchResult> {
  const c = database.c;
  const req = await resolveChains(database, request);
  const { filter: matching, sort, ignored } = searchToMongo(req, { lenient: options.lenient });
  const filter = withinPatientContext(ctx, req.resourceType, matching);
  const count = Math.min(Math.max(req.count ?? DEFAULT_COUNT, 0), MAX_COUNT);
  const offset = Math.max(req.offset ?? 0, 0);
  if (req.count !== undefined && (Number.isNaN(req.count) || req.count < 0)) fail(badRequest('_count must be a non-negative integer', '_count'));
  if (req.offset !== undefined && (Number.isNaN(req.offset) || req.offset < 0)) fail(badRequest('_offset must be a non-negative integer', '_offset'));

  validateIncludes(req);

  // A search over many patients without _sort reads only its page (see storageOrdered).
  const unsorted = storageOrdered(req, filter);
  const cursor = count === 0 ? undefined : c.resources.find(filter, { projection: { json: 1, patients: 1, lu: 1 } });
  const found = cursor ? await (unsorted ? cursor : cursor.sort(sort)).skip(offset).limit(count + 1).toArray() : [];
  const hasMore = found.length > count;
  // The last page of a storage-ordered search is put in the usual order.
  const docs = unsorted && !hasMore ? [...found].sort(newestFirst) : found;
  // The page that holds the last match knows the total (what came before it and what it holds), so
  // the matches are counted only for a page with more after it: counting reads every match again.
  // A storage-ordered search is counted only when asked (_total, _summary=count).
  const known = count > 0 && !hasMore && (offset === 0 || found.length > 0) ? offset + found.length : undefined;
  const wantCount = req.total === 'accurate' || req.total === 'estimate' || (req.total === undefined && (count === 0 || !unsorted));
  const total = req.total === 'none' ? undefined : (known ?? (wantCount ? await countMatching(database.db, c.resources, filter) : undefined));
  const matched = hasMore ? docs.slice(0, count) : docs;
  const page = await keepVisible(database, ctx, matched, guardedDoc);
  const withheld = matched.length - page.length;
  const included = await keepVisible(database, ctx, await includes(database, req, page), guardedDoc);
  return {
    resources: page.map((d) => resourceOf(d) as Resource),
    included: included.map((d) => resourceOf(d) as Resource),
    // A total counting records the caller may not see would tell of them: left out then.
    ...(total !== undefined && !withheld ? { total } : {}),
    hasMore,
    offset,
    count,
    ignored,
    withheld,
  };
}

/**
 * Whether a search is answered in storage order: no `_sort`, and nothing that confines it to a few
 * resources — not one patient (the compartment or the caller's patient context), not an id, an
 * identifier or a reference. `Patient?_count=100` or `Observation?code=…&value-quantity=gt…` over
 * the whole population are such searches. Sorting them means reading and sorting every match (the
 * embedded store sorts in its own process, after decoding each document), so their cost would
 * grow with the store; without a sort the store stops reading once the page is full. FHIR leaves
 * the order of a search without `_sort` to the server (https://hl7.org/fhir/R4/search.html#sort);
 * a page that holds the last match is still sorted newest first, so small results read as before.
 */
function storageOrdered(req: SearchRequest, filter: Filter<ResourceDoc>): boolean {
  if (req.sortRules?.length) return false;
  const f = filter as Record<string, unknown>;
  if (typeof f['patients'] === 'string' || typeof f['_id'] === 'string') return false;
  const params = searchParamsFor(req.resourceType);
  const confining = (code: string): boolean => code === '_id' || code === 'identifier' || params[code]?.type === 'reference';
  return !(req.filters ?? []).some((x) => confining(x.code) && (x.operator === undefined || x.operator === 'eq') && !x.value.includes(','));
}

/** The default order of search results: last updated, newest first, then by id. */
function newestFirst(a: ResourceDoc, b: ResourceDoc): number {
  return b.lu.getTime() - a.lu.getTime() || (a._id < b._id ? -1 : a._id > b._id ? 1 : 0);
}

/** One batch of a streamed search: what the caller may see, and how many matches were left out. */
export interface SearchBatch {
  resources: Resource[];
  withheld: number;
}

/**
 * Every match of a search in batches of up to `batch`, from one cursor (bulk export): the filter
 * and access checks of searchResources, without sort, paging, totals or _include; each batch
 * holds only what the caller may see, noted in the caller's access log as it is read.
 */
export async function* streamResources(database: Database, ctx: RequestContext, request: SearchRequest, batch = MAX_COUNT): AsyncGenerator<SearchBatch> {
  const req = await resolveChains(database, request);
  const filter = withinPatientContext(ctx, req.resourceType, searchToMongo(req).filter);
  const cursor = database.c.resources.find(filter, { projection: { json: 1, patients: 1 } }).batchSize(batch);
  const visible = async (docs: Pick<ResourceDoc, '_id' | 'json' | 'patients'>[]): Promise<SearchBatch> => {
    const shown = await keepVisible(database, ctx, docs, guardedDoc);
    return { resources: shown.map((d) => resourceOf(d) as Resource), withheld: docs.length - shown.length };
  };
  try {
    let docs: Pick<ResourceDoc, '_id' | 'json' | 'patients'>[] = [];
    for await (const d of cursor) {
      docs.push(d);
      if (docs.length < batch) continue;
      yield await visible(docs);
      docs = [];
    }
    if (docs.length) yield await visible(docs);
  } finally {
    await cursor.close();
  }
}

/**
 * Patient-context access (patient/ scopes only) searches the patient's compartment: a top-level
 * equality on `patients` (indexed on both stores), so paging and totals count only what is visible.
 */
function withinPatientContext(ctx: RequestContext, type: string, filter: Filter<ResourceDoc>): Filter<ResourceDoc> {
  const patient = ctx.access.patient;
  if (ctx.access.unrestricted || patient === undefined) return filter;
  if (ctx.access.scopes.some((s) => s.level !== 'patient' && (s.type === '*' || s.type === type) && s.permissions.has('s'))) return filter;
  // A search of this patient's own data is confined already (and keeps its top-level keys).
  if (type !== 'Patient' && filter.patients === patient) return filter;
  const limit: Filter<ResourceDoc> = type === 'Patient' ? { _id: `Patient/${patient}` } : { patients: patient };
  const clash = Object.keys(limit).some((k) => k in filter);
  return clash ? { $and: [filter, limit] } : { ...filter, ...limit };
}

/** _include must name the searched type, _revinclude a known type: else 400, whatever the page holds. */
function validateIncludes(req: SearchRequest): void {
  for (const inc of req.include ?? []) {
    // _include:iterate applies to included resources too: any type that has the parameter.
    if (inc.modifier !== 'iterate' && inc.resourceType !== req.resourceType) fail(badRequest(`_include=${inc.resourceType}:${inc.searchParam} does not start with ${req.resourceType} (use _include:iterate for included resources)`, '_include'));
    if (!isResourceType(inc.resourceType)) fail(badRequest(`_include=${inc.resourceType}:${inc.searchParam}: unknown resource type`, '_include'));
    if (searchParamsFor(inc.resourceType)[inc.searchParam]?.type !== 'reference') fail(badRequest(`_include=${inc.resourceType}:${inc.searchParam}: not a reference search parameter`, '_include'));
  }
  for (const rev of req.revInclude ?? []) {
    if (!isResourceType(rev.resourceType)) fail(badRequest(`_revinclude=${rev.resourceType}:${rev.searchParam}: unknown resource type`, '_revinclude'));
    if (searchParamsFor(rev.resourceType)[rev.searchParam]?.type !== 'reference') fail(badRequest(`_revinclude=${rev.resourceType}:${rev.searchParam}: not a reference search parameter`, '_revinclude'));
  }
}

/** Rounds of _include:iterate / _revinclude:iterate after the first level. */
const MAX_ITERATIONS = 3;

type IncludedDoc = Pick<ResourceDoc, '_id' | 'json' | 'patients'>;
/** A resource whose references an _include follows: they are evaluated on its JSON, not read from its keys (half the document). */
type IncludeSource = Pick<ResourceDoc, '_id' | 'json'>;

/**
 * _include and _revinclude of a page: first the plain ones (from the matches), then the
 * `:iterate` ones, applied to the matches and everything included so far, again on what each round
 * adds, for at most MAX_ITERATIONS rounds and MAX_INCLUDED resources.
 * See: https://hl7.org/fhir/R4/search.html#revinclude
 */
async function includes(database: Database, req: SearchRequest, page: IncludeSource[]): Promise<Pick<ResourceDoc, '_id' | 'json' | 'patients'>[]> {
  if (!page.length || (!req.include?.length && !req.revInclude?.length)) return [];
  const seen = new Set(page.map((d) => d._id));
  const out: IncludedDoc[] = [];
  const add = (docs: IncludedDoc[]): IncludedDoc[] => {
    const added: IncludedDoc[] = [];
    for (const d of docs) {
      if (out.length >= MAX_INCLUDED || seen.has(d._id) || !resourceOf(d)) continue;
      seen.add(d._id);
      out.push(d);
      added.push(d);
    }
    return added;
  };
  const plain = { include: (req.include ?? []).filter((i) => i.modifier !== 'iterate'), revInclude: (req.revInclude ?? []).filter((i) => i.modifier !== 'iterate') };
  const iterate = { include: (req.include ?? []).filter((i) => i.modifier === 'iterate'), revInclude: (req.revInclude ?? []).filter((i) => i.modifier === 'iterate') };
  const iterating = iterate.include.length > 0 || iterate.revInclude.length > 0;
  let frontier: IncludeSource[] = [...page, ...add(await includeRound(database, plain, page))];
  for (let round = 0; round < MAX_ITERATIONS && frontier.length && iterating && out.length < MAX_INCLUDED; round++) {
    frontier = add(await includeRound(database, iterate, frontier));
  }
  return out;
}

/**
 * One round: the targets of `include` from `from` (the resources of each include's type) and the
 * resources whose `revInclude` parameter points at them.
 */
async function includeRound(database: Database, req: Pick<SearchRequest, 'include' | 'revInclude'>, from: IncludeSource[]): Promise<IncludedDoc[]> {
  const resources = database.c.resources;
  const projection = { json: 1, patients: 1 };
  const found: IncludedDoc[] = [];
  for (const inc of req.include ?? []) {
    const refs = new Set<string>();
    for (const d of from) {
      const resource = d._id.startsWith(`${inc.resourceType}/`) ? resourceOf(d) : undefined;
      if (!resource) continue;
      for (const v of paramValues(resource, inc.searchParam)) {
        const type = v.split('/')[0] ?? '';
        if (v.includes('/') && isResourceType(type) && (!inc.targetType || inc.targetType === type)) refs.add(v);
      }
    }
    if (refs.size) found.push(...(await findAnyOf(resources, { deleted: false }, '_id', [...refs].slice(0, MAX_INCLUDED), { projection })));
  }
  const targets = from.map((d) => d._id);
  for (const rev of req.revInclude ?? []) {
    const keys = targets.map((t) => searchKey(rev.searchParam, t));
    const docs = await findAnyOf(resources, { rt: rev.resourceType, deleted: false }, 'keys', keys, { projection, limit: MAX_INCLUDED });
    found.push(...docs.slice(0, MAX_INCLUDED));
  }
  return found;
}
