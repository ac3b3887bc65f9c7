import type { Resource } from '@medplum/fhirtypes';
import type { Database } from './db.ts';
import { loadDoc, resourceOf, type HistoryDoc, type LoadedResourceDoc } from '../schema/collections.ts';
import { findAnyOf } from './find-any-of.ts';
import type { RequestContext } from './request-context.ts';
import { badRequest, gone, notFound, preconditionFailed } from '@medplum/core';
import { fail, withText } from '../schema/outcomes.ts';
import { assertResourceType, assertValidResource, isValidId } from '../schema/validate.ts';
import { deterministicId, newResourceId, resourceKey } from '../schema/resource-id.ts';
import { sameContent } from './resource-equality.ts';
import { EXCLUSIVE_IDENTIFIER_TYPES, IdentifierTakenError, identifierKeys, identifierOnlyQuery } from './identifier-index.ts';
import { putVersion, type WriteScope } from './version-store.ts';
import { searchResources, streamResources, type SearchBatch, type SearchOptions, type SearchResult } from './repository-search.ts';
import { parseFhirSearch } from './search-to-mongo.ts';
import { assertReferencesResolve, type ReferencePolicy } from './reference-check.ts';
import type { SearchRequest } from '@medplum/core';
import { assertVisible, guardedDoc, guardedResource, keepVisible } from './access-guard.ts';
import { assertPermits } from './access.ts';
import { compartmentOf } from '../schema/search-index.ts';
import { countMatching } from './count.ts';

/**
 * The one persistence contract for FHIR resources: read, vread, create, update, delete,
 * conditional create/update, history and search. Every call carries a RequestContext.
 * Versioning: meta.versionId counts 1, 2, 3…; an update that changes nothing but meta creates no
 * new version (so re-ingesting the same message is a no-op).
 */

export interface WriteResult {
  resource: Resource;
  /** True when the write created the resource (201), false for an update (200). */
  created: boolean;
  /** True when nothing changed (an identical update, or If-None-Exist matched). */
  unchanged: boolean;
}

export interface UpdateOptions {
  /** The version the client last saw (`If-Match`). */
  ifMatch?: string;
  scope?: WriteScope;
  /** The caller has validated the resource itself (assertValidResource), just before. */
  validated?: boolean;
}

export interface HistoryPage {
  entries: HistoryDoc[];
  total: number;
}

/** Told of a resource just written (create or update), with the context of the write. */
export type WriteListener = (ctx: RequestContext, resource: Resource) => void;

/** Sets what the server manages in a resource about to be written (after the access checks), or refuses it; `id` is the id it is written under. */
export type WritePreparer = (ctx: RequestContext, resource: Resource, id: string) => Promise<Resource>;
/** Checks a delete of one resource type before it is made (throws an OperationOutcomeError to refuse it). */
export type DeleteGuard = (ctx: RequestContext, id: string) => Promise<void>;

export class Repository {
  readonly database: Database;
  private readonly clock: () => Date;
  /** Which absolute references resolve outside IDR (set from the configuration at start-up). */
  referencePolicy: ReferencePolicy = { externalBases: [] };
  private readonly writeListeners: WriteListener[] = [];
  private readonly preparers = new Map<string, WritePreparer>();
  private readonly deleteGuards = new Map<string, DeleteGuard>();

  constructor(database: Database, clock: () => Date = () => new Date()) {
    this.database = database;
    this.clock = clock;
  }

  /** Registers a listener told of every resource created or updated (after the write; it must not wait on other writes). */
  onWrite(listener: WriteListener): void {
    this.writeListeners.push(listener);
  }

  /** Registers the preparer of every create and update of one resource type (Subscription: the server sets its status), and optionally the check of its deletes. */
  prepareWrites(type: string, preparer: WritePreparer, guardDelete?: DeleteGuard): void {
    this.preparers.set(type, preparer);
    if (guardDelete) this.deleteGuards.set(type, guardDelete);
  }

  private async prepared(ctx: RequestContext, resource: Resource, id: string): Promise<Resource> {
    const preparer = this.preparers.get(resource.resourceType);
    return preparer ? preparer(ctx, resource, id) : resource;
  }

  /** Tells the listeners of a write: at once, or when the batch holding it has been applied. */
  private written(ctx: RequestContext, resource: Resource, patients: readonly string[], scope: WriteScope | undefined): void {
    const tell = (): void => {
      ctx.seen?.add(resource.resourceType, resource.id ?? '', patients);
      for (const listener of this.writeListeners) listener(ctx, resource);
    };
    const key = resourceKey(resource.resourceType, resource.id ?? '');
    if (scope?.batch?.isQueued(key, Number(resource.meta?.versionId))) {
      scope.batch.afterFlush(`written|${key}|${resource.meta?.versionId}`, key, async () => tell());
      return;
    }
    tell();
  }

  /** Reads the current version; 404 if unknown, 410 if deleted. */
  async read(ctx: RequestContext, type: string, id: string): Promise<Resource> {
    assertPermits(ctx.access, type, 'r');
    const doc = await this.currentDoc(type, id);
    if (!doc) fail(withText(notFound, `${type}/${id} not found`));
    await assertVisible(this.database, ctx, guardedDoc(doc), 'r');
    if (doc.deleted || !doc.res) fail(withText(gone, `${type}/${id} was deleted`));
    return doc.res;
  }

  /** Reads several resources by "Type/id" reference in one query; missing or deleted ones are left out. */
  async readMany(ctx: RequestContext, references: string[]): Promise<Map<string, Resource>> {
    const out = new Map<string, Resource>();
    if (!references.length) return out;
    const keys = [...new Set(references)];
    const found = await findAnyOf(this.database.c.resources, { deleted: false }, '_id', keys, { projection: { json: 1, patients: 1 } });
    const docs = await keepVisible(this.database, ctx, found, guardedDoc);
    for (const d of docs) {
      const res = resourceOf(d);
      if (res) out.set(d._id, res);
    }
    return out;
  }

  /** Reads one version from the history; 404 if there is no such version, 410 for a delete. */
  async vread(ctx: RequestContext, type: string, id: string, versionId: string): Promise<Resource> {
    assertResourceType(type);
    assertPermits(ctx.access, type, 'r');
    const vid = Number(versionId);
    if (!Number.isInteger(vid) || vid < 1) fail(withText(notFound, `${type}/${id}/_history/${versionId} not found`));
    const doc = await this.database.c.history.findOne({ _id: `${type}/${id}/${vid}` });
    if (!doc) fail(withText(notFound, `${type}/${id}/_history/${versionId} not found`));
    const res = resourceOf(doc);
    if (doc.deleted || !res) {
      const current = await this.currentDoc(type, id);
      if (current) await assertVisible(this.database, ctx, guardedDoc(current), 'r');
      fail(withText(gone, `${type}/${id} version ${versionId} is a deletion`));
    }
    await assertVisible(this.database, ctx, guardedResource(res, compartmentOf(res)), 'r');
    return res;
  }

  /** Creates a resource with a server-assigned id; with `ifNoneExist`, returns the match instead. */
  async create(ctx: RequestContext, resource: Resource, options: { ifNoneExist?: string; scope?: WriteScope; id?: string } = {}): Promise<WriteResult> {
    if (!options.scope?.validated) assertValidResource(resource);
    await this.assertMayWrite(ctx, resource, 'c');
    if (options.ifNoneExist) {
      const matches = await this.searchByQuery(ctx, resource.resourceType, options.ifNoneExist, 2, options.scope);
      if (matches.length > 1) fail(withText(preconditionFailed, `If-None-Exist "${options.ifNoneExist}" matched ${matches.length} ${resource.resourceType} resources`));
      if (matches[0]) return { resource: matches[0], created: false, unchanged: true };
    }
    const id = options.id ?? (options.ifNoneExist ? await this.conditionalId(ctx, resource.resourceType, options.ifNoneExist, options.scope) : newResourceId());
    // A deterministic id may belong to a deleted resource: its tombstone is the previous version.
    const previous = options.ifNoneExist && !options.id ? await this.currentDoc(resource.resourceType, id, options.scope) : null;
    // …or to a matching one a concurrent create has just written: that one is the match.
    if (previous && !previous.deleted && previous.res) return { resource: previous.res, created: false, unchanged: true };
    resource = await this.prepared(ctx, resource, id);
    await assertReferencesResolve(this.database, resource, this.referencePolicy, options.scope);
    const doc = await putVersion(this.database.c, { type: resource.resourceType, id, resource, previous, method: 'POST', now: this.clock() }, options.scope).catch(conditionalRefusal(!!options.ifNoneExist));
    this.written(ctx, doc.res as Resource, doc.patients, options.scope);
    return { resource: doc.res as Resource, created: true, unchanged: false };
  }

  /**
   * Updates (or creates, with a client id) a resource. `ifMatch` is the ETag or version the
   * client last saw; a mismatch is 412. `validated`: the caller has just validated the resource.
   */
  async update(ctx: RequestContext, resource: Resource, options: UpdateOptions = {}): Promise<WriteResult> {
    if (!options.validated && !options.scope?.validated) assertValidResource(resource);
    const id = resource.id;
    if (!id) fail(badRequest('Missing id: an update needs the id of the resource it replaces', `${resource.resourceType}.id`));
    if (!isValidId(id)) fail(badRequest(`Invalid id ${JSON.stringify(id)}`, `${resource.resourceType}.id`));
    const previous = await this.currentDoc(resource.resourceType, id, options.scope);
    // Update-as-create needs the create permission; an update must be allowed on the old and the new compartments.
    if (previous && !previous.deleted) await assertVisible(this.database, ctx, guardedDoc(previous), 'u');
    await this.assertMayWrite(ctx, resource, previous && !previous.deleted ? 'u' : 'c');
    if (options.ifMatch !== undefined) {
      const expected = parseETag(options.ifMatch);
      if (!previous || previous.deleted || String(previous.vid) !== expected) {
        fail(withText(preconditionFailed, `If-Match ${options.ifMatch} does not match the current version ${previous && !previous.deleted ? `W/"${previous.vid}"` : '(none)'} of ${resource.resourceType}/${id}`));
      }
    }
    resource = await this.prepared(ctx, resource, id);
    if (previous && !previous.deleted && previous.res && sameContent(previous.res, resource)) {
      return { resource: previous.res, created: false, unchanged: true };
    }
    await assertReferencesResolve(this.database, resource, this.referencePolicy, options.scope);
    const doc = await putVersion(this.database.c, { type: resource.resourceType, id, resource, previous, method: 'PUT', now: this.clock() }, options.scope);
    this.written(ctx, doc.res as Resource, doc.patients, options.scope);
    return { resource: doc.res as Resource, created: !previous || previous.deleted, unchanged: false };
  }

  /**
   * Conditional update: no match creates (with a deterministic id, so concurrent creators converge),
   * one match updates it, several matches are 412.
   * See: https://hl7.org/fhir/R4/http.html#cond-update
   */
  async conditionalUpdate(ctx: RequestContext, resource: Resource, query: string, options: { scope?: WriteScope } = {}): Promise<WriteResult> {
    assertValidResource(resource);
    const matches = await this.searchByQuery(ctx, resource.resourceType, query, 2);
    if (matches.length > 1) fail(withText(preconditionFailed, `Conditional update "${resource.resourceType}?${query}" matched ${matches.length} resources`));
    const match = matches[0];
    if (match && resource.id && resource.id !== match.id) {
      fail(badRequest(`Conditional update matched ${resource.resourceType}/${match.id} but the body has id ${resource.id}`, `${resource.resourceType}.id`));
    }
    const id = match?.id ?? resource.id ?? (await this.conditionalId(ctx, resource.resourceType, query));
    return this.update(ctx, { ...resource, id }, { ...(options.scope ? { scope: options.scope } : {}), validated: true }).catch(conditionalRefusal(true));
  }

  /**
   * The id for a resource created by a conditional create/update that matched nothing: derived
   * from the criteria, so concurrent creators collide instead of duplicating; a fresh one when a
   * live resource that no longer matches the criteria already has that id.
   */
  async conditionalId(ctx: RequestContext, type: string, query: string, scope?: WriteScope): Promise<string> {
    const id = deterministicId(`${type}?${query}`);
    const existing = await this.currentDoc(type, id, scope);
    if (!existing || existing.deleted) return id;
    const matches = await this.searchByQuery(ctx, type, query, 2, scope);
    return matches.some((r) => r.id === id) ? id : newResourceId();
  }

  /** Deletes a resource (a tombstone version); deleting a missing or deleted resource is a no-op. */
  async delete(ctx: RequestContext, type: string, id: string, options: { scope?: WriteScope } = {}): Promise<{ deleted: boolean }> {
    assertResourceType(type);
    assertPermits(ctx.access, type, 'd');
    const previous = await this.currentDoc(type, id, options.scope);
    if (!previous || previous.deleted) return { deleted: false };
    await assertVisible(this.database, ctx, guardedDoc(previous), 'd');
    await this.deleteGuards.get(type)?.(ctx, id);
    await putVersion(this.database.c, { type, id, resource: undefined, previous, method: 'DELETE', now: this.clock() }, options.scope);
    ctx.seen?.add(type, id, previous.patients);
    return { deleted: true };
  }

  /** The history of one resource (newest first) or of a whole type. */
  async history(ctx: RequestContext, type: string, id: string | undefined, page: { count: number; offset: number; since?: Date }): Promise<HistoryPage> {
    assertResourceType(type);
    assertPermits(ctx.access, type, 'r');
    const filter: Record<string, unknown> = { rt: type };
    if (id) filter.id = id;
    if (page.since) filter.lu = { $gte: page.since };
    const current = id ? await this.currentDoc(type, id) : null;
    if (id && !current) fail(withText(notFound, `${type}/${id} not found`));
    if (current) await assertVisible(this.database, ctx, guardedDoc(current), 'r');
    const [found, total] = await Promise.all([
      this.database.c.history.find(filter).sort(id ? { vid: -1 } : { lu: -1, _id: 1 }).skip(page.offset).limit(page.count).toArray(),
      countMatching(this.database.db, this.database.c.history, filter),
    ]);
    // A type's history spans patients: each version shows only when the caller may read it.
    const entries = current ? found : await keepVisible(this.database, ctx, found, (h) => {
      const res = resourceOf(h);
      return { type: h.rt, id: h.id, patients: res ? compartmentOf(res) : [] };
    });
    return { entries, total };
  }

  /** Searches with a parsed FHIR search request. */
  async search(ctx: RequestContext, request: SearchRequest, options: SearchOptions = {}): Promise<SearchResult> {
    assertResourceType(request.resourceType);
    assertPermits(ctx.access, request.resourceType, 's');
    return searchResources(this.database, ctx, request, options);
  }

  /** Every match of a search, batch by batch from one cursor (bulk export), with the same access checks as search. */
  searchStream(ctx: RequestContext, request: SearchRequest, batch?: number): AsyncGenerator<SearchBatch> {
    assertResourceType(request.resourceType);
    assertPermits(ctx.access, request.resourceType, 's');
    return streamResources(this.database, ctx, request, batch);
  }

  /** 403 unless the caller may write this resource into the compartments it names. */
  private async assertMayWrite(ctx: RequestContext, resource: Resource, permission: 'c' | 'u'): Promise<void> {
    assertPermits(ctx.access, resource.resourceType, permission);
    if (ctx.access.unrestricted) return;
    await assertVisible(this.database, ctx, guardedResource(resource, compartmentOf(resource)), permission, false);
  }

  /**
   * Runs a query string such as "identifier=sys|val" and returns up to `limit` resources.
   * Identifier-only queries use the identifier index (`_id` lookups) instead of a search.
   */
  async searchByQuery(ctx: RequestContext, type: string, query: string, limit: number, scope?: WriteScope): Promise<Resource[]> {
    const keys = identifierOnlyQuery(type, query);
    if (keys) return this.findByIdentifierKeys(type, keys, limit, scope);
    // A search sees what the store holds: first apply what a batch holds.
    if (scope?.batch?.size) await scope.batch.flush();
    const request = parseFhirSearch(type, query.replace(/^\?/, ''));
    if (!request.filters?.length) fail(badRequest(`Conditional query "${query}" has no search criteria`));
    request.count = limit;
    request.total = 'none';
    const result = await this.search(ctx, request);
    return result.resources;
  }

  private async findByIdentifierKeys(type: string, keys: string[], limit: number, scope?: WriteScope): Promise<Resource[]> {
    const ids = new Set<string>();
    // The claims a batch has read already, then the others in one `$in` query on `_id`.
    const unknown: string[] = [];
    for (const key of keys) {
      const known = scope?.batch?.claim(key);
      if (known === undefined) unknown.push(key);
      else if (known) ids.add(known.id);
    }
    for (const hit of await findAnyOf(this.database.c.identifiers, {}, '_id', unknown)) ids.add(hit.id);
    // Exclusive types: the index names one holder, so a duplicate stored before identifiers were
    // exclusive is found by its search keys, and a lookup then matches both (412, never a guess).
    if (EXCLUSIVE_IDENTIFIER_TYPES.has(type)) {
      const searchKeys = keys.map((key) => `identifier=${key.slice(type.length + 1)}`);
      const carriers = await findAnyOf(this.database.c.resources, { rt: type }, 'keys', searchKeys, { projection: { id: 1, deleted: 1 }, limit: keys.length * (limit + 1) });
      for (const d of carriers) if (!d.deleted) ids.add(d.id);
    }
    const out: Resource[] = [];
    for (const id of ids) {
      const doc = await this.currentDoc(type, id, scope);
      // The index is a hint: confirm the current version still carries one of the identifiers.
      if (doc?.res && !doc.deleted && identifierKeys(doc.res).some((k) => keys.includes(k))) out.push(doc.res);
      if (out.length >= limit) break;
    }
    return out;
  }

  /** The current document (including tombstones), or null; in a batch's scope, as the batch sees it. */
  async currentDoc(type: string, id: string, scope?: WriteScope): Promise<LoadedResourceDoc | null> {
    assertResourceType(type);
    if (!isValidId(id)) fail(withText(notFound, `${type}/${id} not found (not a valid id)`));
    const known = scope?.batch?.current(resourceKey(type, id));
    if (known !== undefined) return known;
    const doc = await this.database.c.resources.findOne({ _id: resourceKey(type, id) });
    return doc && loadDoc(doc);
  }
}

/** An identifier another resource holds refuses a conditional interaction with 412 (409 otherwise). See: https://hl7.org/fhir/R4/http.html#cond-update */
function conditionalRefusal(conditional: boolean): (err: unknown) => never {
  return (err) => {
    throw conditional && err instanceof IdentifierTakenError ? err.asPrecondition() : err;
  };
}

/** Accepts W/"3", "3" or 3 and returns "3". */
export function parseETag(value: string): string {
  return value.trim().replace(/^W\//, '').replace(/^"(.*)"$/, '$1');
}
