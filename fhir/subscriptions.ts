import type { Resource, Subscription } from '@medplum/fhirtypes';
import { badRequest, forbidden } from '@medplum/core';
import type { Collection } from 'mongodb';
import { COLLECTION_NAMES } from '../schema/collections.ts';
import { fail, withText } from '../schema/outcomes.ts';
import { assertPermits, describe, parseScopes, type Access, type Principal } from '../store/access.ts';
import type { Database } from '../store/db.ts';
import type { RequestContext } from '../store/request-context.ts';
import { parseSubscriptionCriteria } from './subscription-criteria.ts';

/**
 * R4 Subscriptions as IDR accepts them: what a client may write, and whose access a notification
 * is checked against. The server manages `status`: a Subscription written as `requested` (or
 * `active`, or `error` to retry after a failure) becomes `active` once its criteria parse and its
 * channel is allowed; `off` stays off. Only `rest-hook` channels to endpoints under a prefix of
 * IDR_SUBSCRIPTION_ENDPOINTS are accepted (none by default: IDR posts to no address a client
 * names, against server-side request forgery).
 *
 * Whoever writes a Subscription becomes its owner (once it has one, only the owner or an
 * administrator may change it): their access (role, scopes, patient context,
 * tumour boards) is kept beside it, and every notification is checked against that access with the
 * repository's own guard before anything is sent, so a subscriber never receives what they could
 * not read. The channel's header values (often the endpoint's own credentials) are kept there too,
 * not in the resource, which every reader of Subscriptions could see: it shows `Name: ***`, and
 * `***` written back keeps the value held. See: https://hl7.org/fhir/R4/subscription.html
 */

/** What IDR allows of Subscriptions (from the configuration). */
export interface SubscriptionPolicy {
  /** URL prefixes a rest-hook endpoint must fall under (same origin, path starting with the prefix's path). */
  endpoints: readonly string[];
}

/** A Subscription's owner: the access of whoever last wrote it, as a notification is checked against. */
export interface SubscriptionOwnerDoc {
  /** The Subscription's id. */
  _id: string;
  principal: Principal;
  unrestricted: boolean;
  /** SMART scopes as strings (`user/*.rs`). */
  scopes: string[];
  otherScopes: string[];
  patient?: string;
  /** Tumour boards (Group ids): their members are resolved at each notification. */
  boards?: string[];
  /** Board patients as they were, when the boards themselves were not known. */
  boardPatients?: string[];
  restrictedNeedsBreakGlass: boolean;
  purpose: string;
  /** The channel's headers as sent with each notification (the resource shows their values as ***). */
  headers: { name: string; value: string }[];
  /** The endpoint the headers were given for (a held value is kept only while it stays the same). */
  endpoint: string;
  at: Date;
}

/** How a header value held by IDR shows in the stored Subscription. */
export const HIDDEN_HEADER_VALUE = '***';

/** Headers a subscriber may not set: IDR sets them, or they change how the request is framed. */
const RESERVED_HEADERS = new Set(['content-type', 'content-length', 'host', 'transfer-encoding', 'connection', 'expect', 'upgrade', 'te', 'trailer']);
const HEADER = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+):[ \t]*([^\r\n\0]*)$/;
/** The payloads IDR sends: none (an empty POST, R4's "id-only" ping) or the resource itself. */
const RESOURCE_PAYLOADS = new Set(['application/fhir+json', 'application/json']);

/** The owners' collection. */
export function subscriptionOwners(database: Database): Collection<SubscriptionOwnerDoc> {
  return database.db.collection<SubscriptionOwnerDoc>(COLLECTION_NAMES.subscriptionOwners);
}

/** True when the endpoint falls under one of the allowed prefixes (same scheme, host and port; path under the prefix's). */
export function endpointAllowed(endpoint: string, prefixes: readonly string[]): boolean {
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    return false;
  }
  if (url.username || url.password) return false;
  return prefixes.some((p) => {
    const prefix = new URL(p);
    return url.origin === prefix.origin && url.pathname.startsWith(prefix.pathname);
  });
}

/** True when notifications carry the resource (payload application/fhir+json), false for empty ones. */
export function sendsResource(sub: Subscription): boolean {
  return sub.channel?.payload !== undefined && RESOURCE_PAYLOADS.has(sub.channel.payload.split(';')[0]?.trim() ?? '');
}

/**
 * Checks a Subscription a client writes and sets what the server manages (status, error); records
 * the writer as its owner. IDR's own writes (status `error` after failed deliveries) pass as they are.
 */
export async function prepareSubscription(database: Database, policy: SubscriptionPolicy, ctx: RequestContext, resource: Resource, id: string): Promise<Resource> {
  if (ctx.access.unrestricted) return resource;
  const sub = resource as Subscription;
  const criteria = parseSubscriptionCriteria(sub.criteria);
  // A subscriber receives what matches: they must be able to read that type themselves.
  assertPermits(ctx.access, criteria.resourceType, 'r');
  if (ctx.access.patient !== undefined && !confinedTo(criteria.request.filters ?? [], ctx.access.patient)) {
    fail(withText(forbidden, `A subscription in a patient context must name your own record only (patient=Patient/${ctx.access.patient} in Subscription.criteria); your access: ${describe(ctx.access)}`, 'Subscription.criteria'));
  }
  const channel = sub.channel;
  if (channel?.type !== 'rest-hook') fail(badRequest(`Subscription.channel.type: "${channel?.type ?? ''}" is not supported; IDR delivers rest-hook notifications only`, 'Subscription.channel.type'));
  const endpoint = channel.endpoint ?? '';
  if (!policy.endpoints.length) {
    fail(badRequest('Subscription.channel.endpoint: no rest-hook endpoint is allowed on this server (IDR_SUBSCRIPTION_ENDPOINTS is empty)', 'Subscription.channel.endpoint'));
  }
  if (!/^https?:\/\//i.test(endpoint) || !endpointAllowed(endpoint, policy.endpoints)) {
    fail(badRequest(`Subscription.channel.endpoint: "${endpoint}" is not an allowed endpoint; it must start with one of ${policy.endpoints.join(', ')} (IDR_SUBSCRIPTION_ENDPOINTS)`, 'Subscription.channel.endpoint'));
  }
  if (channel.payload !== undefined && !sendsResource(sub)) {
    fail(badRequest(`Subscription.channel.payload: "${channel.payload}" is not supported; use application/fhir+json (the resource in the body) or leave it out (an empty notification)`, 'Subscription.channel.payload'));
  }
  const owners = subscriptionOwners(database);
  const previous = await owners.findOne({ _id: id });
  assertOwner(previous, ctx, id, 'change');
  // Held header values (the endpoint's credentials) never follow a Subscription to another endpoint.
  const held = previous?.endpoint === endpoint ? previous.headers : [];
  const headers = (channel.header ?? []).map((h, i): { name: string; value: string } => {
    const at = `Subscription.channel.header[${i}]`;
    const m = HEADER.exec(h);
    if (!m) fail(badRequest(`${at}: expected "Name: value" on one line`, at));
    const name = m[1] as string;
    const value = (m[2] as string).trim();
    if (RESERVED_HEADERS.has(name.toLowerCase())) fail(badRequest(`${at}: IDR sets ${name} itself`, at));
    if (value !== HIDDEN_HEADER_VALUE) return { name, value };
    const kept = held.find((k) => k.name.toLowerCase() === name.toLowerCase());
    if (!kept) fail(badRequest(`${at}: "${HIDDEN_HEADER_VALUE}" keeps the value IDR holds for ${name}, but this Subscription has none for this endpoint: give the value`, at));
    return { name, value: kept.value };
  });
  await owners.replaceOne({ _id: id }, ownerOf(id, ctx, headers, endpoint), { upsert: true });
  const { error: _error, ...rest } = sub;
  const shown = headers.length ? { ...channel, header: headers.map((h) => `${h.name}: ${HIDDEN_HEADER_VALUE}`) } : channel;
  return { ...rest, channel: shown, status: sub.status === 'off' ? 'off' : 'active' } as Subscription;
}

/** Refuses (403) a change or delete of a Subscription by anyone but its owner or an administrator. */
function assertOwner(owner: SubscriptionOwnerDoc | null, ctx: RequestContext, id: string, what: 'change' | 'delete'): void {
  if (owner && !ctx.access.unrestricted && !sameSubject(owner.principal, ctx.access.principal) && ctx.access.principal.role !== 'admin') {
    fail(withText(forbidden, `Subscription/${id} belongs to ${owner.principal.name ?? owner.principal.subject}: only its owner or an administrator may ${what} it`));
  }
}

/** The repository's check of a Subscription delete: its owner or an administrator only. */
export async function guardSubscriptionDelete(database: Database, ctx: RequestContext, id: string): Promise<void> {
  assertOwner(await subscriptionOwners(database).findOne({ _id: id }), ctx, id, 'delete');
}

function sameSubject(a: Principal, b: Principal): boolean {
  return a.subject === b.subject && a.issuer === b.issuer;
}

/** True when some patient or subject filter names only this patient. */
function confinedTo(filters: readonly { code: string; operator: string; value: string }[], patient: string): boolean {
  return filters.some((f) => (f.code === 'patient' || f.code === 'subject') && f.operator === 'eq' && f.value.split(',').every((v) => v === patient || v === `Patient/${patient}`));
}

function ownerOf(id: string, ctx: RequestContext, headers: SubscriptionOwnerDoc['headers'], endpoint: string): SubscriptionOwnerDoc {
  const a = ctx.access;
  return {
    _id: id,
    principal: a.principal,
    unrestricted: a.unrestricted,
    scopes: a.scopes.map((s) => `${s.level}/${s.type}.${[...s.permissions].join('')}`),
    otherScopes: [...(a.otherScopes ?? [])],
    ...(a.patient !== undefined ? { patient: a.patient } : {}),
    ...(a.boards ? { boards: [...a.boards] } : a.boardPatients ? { boardPatients: [...a.boardPatients] } : {}),
    restrictedNeedsBreakGlass: a.restrictedNeedsBreakGlass,
    purpose: ctx.purpose,
    headers,
    endpoint,
    at: new Date(),
  };
}

/** The owner's access as a notification is checked against (boards resolved to their current members by `members`). */
export async function ownerAccess(owner: SubscriptionOwnerDoc, members: (group: string) => Promise<ReadonlySet<string>>): Promise<Access> {
  let boardPatients: Set<string> | undefined;
  if (owner.boards) {
    boardPatients = new Set<string>();
    for (const b of owner.boards) for (const p of await members(b)) boardPatients.add(p);
  } else if (owner.boardPatients) boardPatients = new Set(owner.boardPatients);
  return {
    principal: owner.principal,
    unrestricted: owner.unrestricted,
    scopes: parseScopes(owner.scopes.join(' ')),
    otherScopes: owner.otherScopes,
    ...(owner.patient !== undefined ? { patient: owner.patient } : {}),
    ...(boardPatients ? { boardPatients } : {}),
    restrictedNeedsBreakGlass: owner.restrictedNeedsBreakGlass,
  };
}
