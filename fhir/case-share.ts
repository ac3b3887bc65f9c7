import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { Bundle, BundleEntry, ContactDetail, Parameters, Patient, Resource, Task } from '@medplum/fhirtypes';
import { badRequest } from '@medplum/core';
import { COLLECTION_NAMES } from '../schema/collections.ts';
import { fail } from '../schema/outcomes.ts';
import { assertPermits } from '../store/access.ts';
import type { Repository } from '../store/repository.ts';
import { systemContext, type RequestContext } from '../store/request-context.ts';
import { Deidentifier, patientFacts } from './deidentify.ts';
import type { FhirDeps } from './request.ts';
import { latestPack } from './tumour-board.ts';

/**
 * Sharing a tumour board's case outside the hospital, pseudonymised (docs/tumour-board.md,
 * "Sharing a case outside the hospital"). `POST Task/{id}/$share` makes a share of the Task's
 * latest case pack for one named recipient: a random secret (32 bytes) of which only the SHA-256
 * hash is kept, so the link `/shared/{secret}` is answered once and can never be shown again.
 * The link is a bearer capability for that recipient, valid until it expires or is revoked
 * (`POST Task/{id}/$unshare`). Opening it shows the case pack de-identified (fhir/deidentify.ts):
 * identity stays in the hospital, the recipient sees the clinical content under pseudonyms.
 */

/** Why a case is shared. */
export const SHARE_PURPOSES = ['consultation', 'revision', 'second-opinion'] as const;
export type SharePurpose = (typeof SHARE_PURPOSES)[number];

/** A share's default and longest lifetime. */
export const SHARE_DEFAULT_DAYS = 14;
export const SHARE_MAX_DAYS = 90;
const DAY_MS = 86_400_000;

/** One share as stored (collection `case_shares`); `_id` is the SHA-256 (hex) of the secret. */
export interface CaseShareDoc {
  _id: string;
  /** The share's public id (for revocation and in the audit: agent `share:<id>`). */
  id: string;
  task: string;
  /** The case pack shared: "Bundle/{id}". */
  pack: string;
  patient: string;
  recipient: { name: string; email: string };
  purpose: SharePurpose;
  expires: Date;
  created: Date;
  createdBy: { subject: string; name?: string; role: string };
  revoked?: Date;
  revokedBy?: string;
}

function shares(repo: Repository) {
  return repo.database.db.collection<CaseShareDoc>(COLLECTION_NAMES.caseShares);
}

/** The SHA-256 (hex) of a link's secret: what is stored and looked up. */
export function secretHash(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}

function parametersOf(body: unknown, op: string): NonNullable<Parameters['parameter']> {
  if ((body as Parameters | undefined)?.resourceType !== 'Parameters') fail(badRequest(`${op} takes a Parameters body`, 'Parameters'));
  return (body as Parameters).parameter ?? [];
}

/** "Name <e-mail>" as a valueString, or a ContactDetail with a name and an email telecom. */
function recipientOf(params: NonNullable<Parameters['parameter']>): { name: string; email: string } {
  const p = params.find((x) => x.name === 'recipient');
  const where = "Parameters.parameter.where(name='recipient')";
  let name = '';
  let email = '';
  if (typeof p?.valueString === 'string') {
    const m = /^\s*(.+?)\s*<\s*([^<>\s]+@[^<>\s]+)\s*>\s*$/.exec(p.valueString);
    if (m) [, name = '', email = ''] = m;
  } else if (p?.valueContactDetail) {
    const c: ContactDetail = p.valueContactDetail;
    name = c.name?.trim() ?? '';
    email = c.telecom?.find((t) => t.system === 'email')?.value?.trim() ?? '';
  }
  if (!name || !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(email)) fail(badRequest('$share needs the recipient: a name and an e-mail address, as valueString "Name <e-mail>" or a valueContactDetail', where));
  if (name.length > 200 || email.length > 200) fail(badRequest('the recipient\'s name and e-mail address are at most 200 characters each', where));
  return { name, email };
}

function expiryOf(params: NonNullable<Parameters['parameter']>, now: Date): Date {
  const p = params.find((x) => x.name === 'expires');
  if (!p) return new Date(now.getTime() + SHARE_DEFAULT_DAYS * DAY_MS);
  const text = p.valueDateTime ?? p.valueInstant ?? '';
  const at = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/.test(text) ? new Date(text) : new Date(Number.NaN);
  const where = "Parameters.parameter.where(name='expires')";
  if (Number.isNaN(at.getTime())) fail(badRequest('expires must be a dateTime with a time and zone (valueDateTime)', where));
  if (at <= now) fail(badRequest('expires must be in the future', where));
  if (at.getTime() > now.getTime() + SHARE_MAX_DAYS * DAY_MS) fail(badRequest(`a case is shared for at most ${SHARE_MAX_DAYS} days`, where));
  return at;
}

function purposeOf(params: NonNullable<Parameters['parameter']>): SharePurpose {
  const p = params.find((x) => x.name === 'purpose');
  const v = p?.valueCode ?? p?.valueString ?? p?.valueCoding?.code ?? '';
  if (!(SHARE_PURPOSES as readonly string[]).includes(v)) fail(badRequest(`purpose must be one of ${SHARE_PURPOSES.join(', ')}`, "Parameters.parameter.where(name='purpose')"));
  return v as SharePurpose;
}

/** The server root of the FHIR base ("https://idr.example/fhir" → "https://idr.example"). */
function rootOf(baseUrl: string): string {
  return baseUrl.replace(/\/fhir\/?$/, '');
}

/**
 * `POST Task/{id}/$share`: shares the Task's latest case pack with one recipient (Parameters:
 * recipient, purpose, optional expires). Needs write access to the Task and read access to the
 * pack. Answers Parameters: link (the only time it is shown), share (the id), expires.
 */
export async function shareCase(deps: FhirDeps, ctx: RequestContext, id: string, body: unknown, method: string | undefined): Promise<Parameters> {
  if (method === 'GET') return listShares(deps, ctx, id);
  if (method !== 'POST') fail(badRequest('$share changes data: use POST', '$share'));
  assertPermits(ctx.access, 'Task', 'u');
  const params = parametersOf(body, '$share');
  const now = new Date();
  const recipient = recipientOf(params);
  const purpose = purposeOf(params);
  const expires = expiryOf(params, now);
  const task = (await deps.repo.read(ctx, 'Task', id)) as Task;
  const pack = latestPack(task);
  if (!pack) fail(badRequest(`Task/${id} has no case pack yet: POST Task/${id}/$prepare first`, 'Task.output'));
  // The caller must be able to read what they share (board membership included).
  const bundle = (await deps.repo.read(ctx, 'Bundle', pack.bundle.slice('Bundle/'.length))) as Bundle;
  const patient = packPatient(bundle);
  if (!patient?.id) fail(badRequest(`${pack.bundle} holds no Patient`, 'Bundle.entry'));
  const secret = randomBytes(32).toString('base64url');
  const p = ctx.access.principal;
  const doc: CaseShareDoc = {
    _id: secretHash(secret),
    id: randomUUID(),
    task: `Task/${id}`,
    pack: pack.bundle,
    patient: patient.id,
    recipient,
    purpose,
    expires,
    created: now,
    createdBy: { subject: p.subject, role: p.role, ...(p.name ? { name: p.name } : {}) },
  };
  await shares(deps.repo).insertOne(doc);
  return {
    resourceType: 'Parameters',
    parameter: [
      { name: 'link', valueUrl: `${rootOf(deps.baseUrl)}/shared/${secret}` },
      { name: 'share', valueString: doc.id },
      { name: 'expires', valueDateTime: expires.toISOString() },
      { name: 'pack', valueReference: { reference: pack.bundle } },
    ],
  };
}

/**
 * `GET Task/{id}/$share`: the Task's shares, newest first — id, recipient, purpose, pack,
 * created (by whom), expires and state (active, expired, revoked); never a link or its hash.
 */
export async function listShares(deps: FhirDeps, ctx: RequestContext, id: string): Promise<Parameters> {
  await deps.repo.read(ctx, 'Task', id);
  const now = new Date();
  const found = await shares(deps.repo).find({ task: `Task/${id}` }).toArray();
  found.sort((a, b) => b.created.getTime() - a.created.getTime());
  return {
    resourceType: 'Parameters',
    parameter: found.map((s) => ({
      name: 'share',
      part: [
        { name: 'id', valueString: s.id },
        { name: 'recipient', valueString: `${s.recipient.name} <${s.recipient.email}>` },
        { name: 'purpose', valueCode: s.purpose },
        { name: 'pack', valueReference: { reference: s.pack } },
        { name: 'created', valueDateTime: s.created.toISOString() },
        { name: 'createdBy', valueString: s.createdBy.name ?? s.createdBy.subject },
        { name: 'expires', valueDateTime: s.expires.toISOString() },
        { name: 'state', valueCode: s.revoked ? 'revoked' : s.expires <= now ? 'expired' : 'active' },
        ...(s.revoked ? [{ name: 'revoked', valueDateTime: s.revoked.toISOString() }] : []),
      ],
    })),
  };
}

/**
 * `POST Task/{id}/$unshare`: revokes a share of the Task (Parameters or query: share = the id
 * `$share` answered). The link answers 410 from then on. Needs write access to the Task.
 */
export async function unshareCase(deps: FhirDeps, ctx: RequestContext, id: string, query: URLSearchParams, body: unknown, method: string | undefined): Promise<Parameters> {
  if (method !== 'POST') fail(badRequest('$unshare changes data: use POST', '$unshare'));
  assertPermits(ctx.access, 'Task', 'u');
  const fromBody = (body as Parameters | undefined)?.resourceType === 'Parameters' ? (body as Parameters).parameter?.find((p) => p.name === 'share')?.valueString : undefined;
  const shareId = fromBody ?? query.get('share') ?? '';
  if (!/^[0-9a-f-]{36}$/.test(shareId)) fail(badRequest('$unshare needs the share id that $share answered', 'share'));
  await deps.repo.read(ctx, 'Task', id);
  const now = new Date();
  const found = await shares(deps.repo).findOne({ id: shareId, task: `Task/${id}` });
  if (!found) fail(badRequest(`Task/${id} has no share ${shareId}`, 'share'));
  if (!found.revoked) await shares(deps.repo).updateOne({ _id: found._id }, { $set: { revoked: now, revokedBy: ctx.access.principal.subject } });
  return { resourceType: 'Parameters', parameter: [{ name: 'share', valueString: shareId }, { name: 'revoked', valueDateTime: (found.revoked ?? now).toISOString() }] };
}

function packPatient(bundle: Bundle): Patient | undefined {
  return bundle.entry?.find((e) => e.resource?.resourceType === 'Patient')?.resource as Patient | undefined;
}

/** What opening a link finds. */
export type OpenedShare =
  | { status: 'unknown' }
  | { status: 'gone'; share: CaseShareDoc; why: 'expired' | 'revoked' }
  | { status: 'open'; share: CaseShareDoc; bundle: Bundle; resources: string[]; pack: Bundle; deidentifier: Deidentifier };

/**
 * Opens a link: the share and its case pack de-identified — every resource through the
 * Deidentifier with the patient's facts, entries as `urn:uuid:` fullUrls that the Composition's
 * references point to, no ids, UIDs, names or dates of the hospital's record. `resources` lists
 * what was shown ("Type/id", the stored ids) for the access audit; `pack` is the stored pack, for
 * IDR's own use (the images of the case, fhir/case-share-images.ts), never for the recipient.
 */
export async function openShare(repo: Repository, key: Buffer, secret: string, now = new Date()): Promise<OpenedShare> {
  if (!/^[A-Za-z0-9_-]{43}$/.test(secret)) return { status: 'unknown' };
  const share = await shares(repo).findOne({ _id: secretHash(secret) });
  if (!share) return { status: 'unknown' };
  if (share.revoked) return { status: 'gone', share, why: 'revoked' };
  if (share.expires <= now) return { status: 'gone', share, why: 'expired' };
  // Read as IDR itself: the recipient holds no token; the share is the authorisation.
  const pack = (await repo.read(systemContext('case-share'), 'Bundle', share.pack.slice('Bundle/'.length))) as Bundle;
  const deidentifier = new Deidentifier(key);
  return { status: 'open', share, pack, deidentifier, bundle: deidentifiedPack(pack, deidentifier), resources: [share.pack, ...(pack.entry ?? []).flatMap((e) => (e.resource?.id && e.resource.resourceType !== 'Composition' ? [`${e.resource.resourceType}/${e.resource.id}`] : []))] };
}

/** A case pack with every resource de-identified and every entry under a `urn:uuid:` fullUrl. */
export function deidentifiedPack(pack: Bundle, deid: Deidentifier): Bundle {
  const patient = packPatient(pack);
  const facts = patient ? patientFacts(patient) : undefined;
  const uuidOf = (ref: string): string => {
    const h = createHash('sha256').update(`shared\u0000${ref}`).digest('hex');
    return `urn:uuid:${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-${((parseInt(h.slice(16, 17), 16) & 0x3) | 0x8).toString(16)}${h.slice(17, 20)}-${h.slice(20, 32)}`;
  };
  const out = (pack.entry ?? []).flatMap((e) => (e.resource ? [deid.deidentify(e.resource, facts)] : []));
  const urls = new Map(out.map((r) => [`${r.resourceType}/${r.id}`, uuidOf(`${r.resourceType}/${r.id}`)]));
  const relink = (v: unknown, key: string): unknown => {
    if (Array.isArray(v)) return v.map((x) => relink(x, key));
    if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, relink(x, k)]));
    return key === 'reference' && typeof v === 'string' ? (urls.get(v) ?? v) : v;
  };
  const entry: BundleEntry[] = out.map((r) => ({ fullUrl: urls.get(`${r.resourceType}/${r.id}`) as string, resource: relink(r, '') as Resource }));
  const shift = facts ? deid.shiftDays(facts.id) : 0;
  return {
    resourceType: 'Bundle',
    identifier: { system: 'urn:ietf:rfc:3986', value: uuidOf(`Bundle/${deid.pseudonym('Bundle', pack.id ?? '')}`) },
    type: 'document',
    ...(pack.timestamp ? { timestamp: new Date(Date.parse(pack.timestamp) + shift * DAY_MS).toISOString() } : {}),
    entry,
  };
}
