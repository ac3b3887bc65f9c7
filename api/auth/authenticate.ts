import type { NextFunction, Request, Response } from 'express';
import { createLocalJWKSet, createRemoteJWKSet, errors as joseErrors, jwtVerify, type JWTPayload, type JSONWebKeySet } from 'jose';
import { forbidden, unauthorized } from '@medplum/core';
import type { Group } from '@medplum/fhirtypes';
import { withText } from '../../schema/outcomes.ts';
import { resourceOf } from '../../schema/collections.ts';
import { resourceKey } from '../../schema/resource-id.ts';
import type { Database } from '../../store/db.ts';
import { parseScopes, type Access, type ScopeGrant } from '../../store/access.ts';
import { isRole, ROLE_SCOPES, scopeWithin, type Role } from './roles.ts';
import { sendOutcome } from '../http/errors.ts';

/**
 * Bearer-token authentication for every API route: the JWT's signature, issuer, audience and
 * expiry are checked against the issuer's keys, and the request gets the caller's Access — the
 * token's SMART scopes, capped by its IDR role. Nothing a client sends besides the token (no
 * X-IDR-Actor, no claimed role) decides who it is.
 */

export interface TokenVerifier {
  issuer: string;
  audience: string;
  verify(token: string): Promise<JWTPayload>;
}

/** Verifies tokens of IDR's embedded provider with its public keys, in process. */
export function localVerifier(issuer: string, audience: string, jwks: JSONWebKeySet): TokenVerifier {
  const keys = createLocalJWKSet(jwks);
  return { issuer, audience, verify: remembered(async (token) => (await jwtVerify(token, keys, { issuer, audience, clockTolerance: 5 })).payload) };
}

const REMEMBERED_TOKENS = 10_000;

/**
 * A client sends the same token with every call until it expires: its verified claims are kept
 * (by the exact token text) until its expiry, so a signature is checked once per token, not per
 * request. A token that failed is not kept; the cache is bounded (oldest first out).
 */
function remembered(verify: (token: string) => Promise<JWTPayload>): (token: string) => Promise<JWTPayload> {
  const cache = new Map<string, JWTPayload>();
  return async (token) => {
    const hit = cache.get(token);
    if (hit && typeof hit.exp === 'number' && hit.exp * 1000 > Date.now()) return hit;
    if (hit) cache.delete(token);
    const payload = await verify(token);
    if (typeof payload.exp === 'number') {
      if (cache.size >= REMEMBERED_TOKENS) cache.delete(cache.keys().next().value as string);
      cache.set(token, payload);
    }
    return payload;
  };
}

/** Verifies tokens of an external OpenID Connect issuer, fetching its JWKS (cached, refreshed on unknown key ids). */
export async function remoteVerifier(issuer: string, audience: string): Promise<{ verifier: TokenVerifier; discovery: Record<string, unknown> }> {
  const url = `${issuer.replace(/\/$/, '')}/.well-known/openid-configuration`;
  const res = await fetch(url, { signal: AbortSignal.timeout(10_000) }).catch((err: unknown) => {
    throw new Error(`IDR_OIDC_ISSUER: cannot fetch ${url}: ${(err as Error).message}`, { cause: err });
  });
  if (!res.ok) throw new Error(`IDR_OIDC_ISSUER: ${url} answered ${res.status}`);
  const discovery = (await res.json()) as Record<string, unknown>;
  if (typeof discovery.jwks_uri !== 'string') throw new Error(`IDR_OIDC_ISSUER: ${url} names no jwks_uri`);
  const keys = createRemoteJWKSet(new URL(discovery.jwks_uri));
  const iss = typeof discovery.issuer === 'string' ? discovery.issuer : issuer;
  return { verifier: { issuer: iss, audience, verify: remembered(async (token) => (await jwtVerify(token, keys, { issuer: iss, audience, clockTolerance: 5 })).payload) }, discovery };
}

export interface AuthOptions {
  verifier: TokenVerifier;
  database: Database;
  /** Dot path of the role claim (IDR_OIDC_ROLE_CLAIM). */
  roleClaim: string;
  /** Where the SMART discovery document is, for the WWW-Authenticate hint. */
  discoveryUrl: string;
}

/** Roles whose reading of restricted records (confidentiality R/V) needs break-the-glass, and who may break it. */
const GLASS_ROLES: ReadonlySet<Role> = new Set(['clinician', 'board-member']);

const DEFAULT_PURPOSE: Record<Role, string> = {
  clinician: 'treatment',
  'board-member': 'tumour-board',
  'data-scientist': 'research',
  ingestion: 'ingestion',
  admin: 'operations',
  patient: 'patient-request',
};
const PURPOSES = new Set(['treatment', 'tumour-board', 'research', 'ingestion', 'operations', 'patient-request', 'quality', 'legal']);

/** The principal's identity on a request (set by `authenticate`), for rate limits and logs. */
export function subjectOf(res: Response): string | undefined {
  return (res.locals.ctx as { access?: Access } | undefined)?.access?.principal.subject;
}

/** Express middleware: 401 without a valid token, 403 for a token without an IDR role; else fills the request context's access. */
export function authenticate(options: AuthOptions) {
  return async (req: Request, res: Response, next: NextFunction): Promise<void> => {
    const ctx = res.locals.ctx as { actor: string; purpose: string; access: Access };
    const header = req.header('authorization');
    const bearer = header && /^Bearer\s+([\w-]+\.[\w-]+\.[\w-]+)\s*$/i.exec(header)?.[1];
    if (!bearer) {
      challenge(res, options, header ? 'invalid_request' : undefined, header ? 'The Authorization header is not "Bearer <JWT>"' : 'Authentication required: send an OAuth 2.0 bearer token (Authorization: Bearer <token>)');
      return;
    }
    let claims: JWTPayload;
    try {
      claims = await options.verifier.verify(bearer);
    } catch (err) {
      challenge(res, options, 'invalid_token', tokenProblem(err, options.verifier));
      return;
    }
    const role = claimAt(claims, options.roleClaim);
    const roleName = (Array.isArray(role) ? role.find(isRole) : role) as unknown;
    const client = typeof claims.client_id === 'string' ? claims.client_id : typeof claims.azp === 'string' ? claims.azp : undefined;
    const principal = {
      subject: typeof claims.sub === 'string' ? claims.sub : (client ?? 'unknown'),
      issuer: options.verifier.issuer,
      role: isRole(roleName) ? roleName : 'none',
      ...(typeof claims.name === 'string' ? { name: claims.name } : {}),
      ...(client ? { client } : {}),
      ...(req.ip ? { address: req.ip } : {}),
    };
    ctx.actor = principal.subject;
    ctx.access = { principal, unrestricted: false, scopes: [], restrictedNeedsBreakGlass: true };
    if (!isRole(roleName)) {
      sendOutcome(res, withText(forbidden, `The token carries no IDR role (claim "${options.roleClaim}" should be one of ${Object.keys(ROLE_SCOPES).join(', ')})`));
      return;
    }
    const granted = String(claims.scope ?? '').split(/\s+/).filter((s) => s && scopeWithin(s, ROLE_SCOPES[roleName]));
    const access: Access = { principal, unrestricted: false, scopes: mergeGrants(parseScopes(granted.join(' '))), restrictedNeedsBreakGlass: GLASS_ROLES.has(roleName), otherScopes: granted.filter((s) => !s.includes('/') || s.startsWith('idr/')) };
    if (roleName === 'patient') {
      if (typeof claims.patient !== 'string') {
        ctx.access = access;
        sendOutcome(res, withText(forbidden, 'A patient token must carry the "patient" claim (the patient context)'));
        return;
      }
      access.patient = claims.patient;
    }
    if (roleName === 'board-member') {
      const boards = Array.isArray(claims.idr_boards) ? claims.idr_boards.filter((b): b is string => typeof b === 'string') : [];
      access.boardPatients = await boardPatients(options.database, boards);
      access.boards = boards;
    }
    const glass = req.header('x-idr-break-glass');
    if (glass !== undefined) {
      ctx.access = access;
      if (!GLASS_ROLES.has(roleName)) {
        sendOutcome(res, withText(forbidden, `Break-the-glass is for clinicians; role ${roleName} may not use it`));
        return;
      }
      const reason = glass.trim();
      if (reason.length < 5 || reason.length > 500 || [...reason].some((ch) => ch.charCodeAt(0) < 32)) {
        sendOutcome(res, withText(forbidden, 'X-IDR-Break-Glass must state the reason (5 to 500 characters)'));
        return;
      }
      access.breakGlass = reason;
    }
    const purpose = req.header('x-idr-purpose');
    ctx.purpose = access.breakGlass ? 'break-the-glass' : purpose && PURPOSES.has(purpose) ? purpose : DEFAULT_PURPOSE[roleName];
    ctx.access = access;
    next();
  };
}

/** 403 unless the caller's token holds `scope` (an IDR scope such as idr/ingest or idr/audit). */
export function requireScope(scope: string, what: string) {
  return (_req: Request, res: Response, next: NextFunction): void => {
    const access = (res.locals.ctx as { access: Access }).access;
    if (access.unrestricted || access.otherScopes?.includes(scope)) {
      next();
      return;
    }
    sendOutcome(res, withText(forbidden, `${what} needs the scope ${scope} (role ingestion or admin); your token has role ${access.principal.role}`));
  };
}

function challenge(res: Response, options: AuthOptions, error: string | undefined, description: string): void {
  const params = [`realm="IDR"`, ...(error ? [`error="${error}"`, `error_description="${description.replace(/["\\]/g, "'")}"`] : [])];
  res.setHeader('WWW-Authenticate', `Bearer ${params.join(', ')}`);
  sendOutcome(res, withText(unauthorized, `${description}. Tokens come from the authorisation server named in ${options.discoveryUrl}`), 401);
}

/** A token problem in words, without echoing the token. */
function tokenProblem(err: unknown, verifier: TokenVerifier): string {
  if (err instanceof joseErrors.JWTExpired) return 'The bearer token has expired';
  if (err instanceof joseErrors.JWTClaimValidationFailed) {
    if (err.claim === 'aud') return `The bearer token is not for this server (audience must be ${verifier.audience})`;
    if (err.claim === 'iss') return `The bearer token was not issued by ${verifier.issuer}`;
    return `The bearer token's "${err.claim}" claim is not valid`;
  }
  if (err instanceof joseErrors.JWSSignatureVerificationFailed || err instanceof joseErrors.JWKSNoMatchingKey) return 'The bearer token signature does not verify against the issuer keys';
  return 'The bearer token is not a valid signed JWT';
}

function claimAt(claims: JWTPayload, dotPath: string): unknown {
  let v: unknown = claims;
  for (const k of dotPath.split('.')) v = v && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined;
  return v;
}

/** Joins grants of one level and type (user/*.r + user/*.s = user/*.rs). */
function mergeGrants(grants: ScopeGrant[]): ScopeGrant[] {
  const byKey = new Map<string, ScopeGrant>();
  for (const g of grants) {
    const key = `${g.level}/${g.type}`;
    const had = byKey.get(key);
    byKey.set(key, had ? { ...g, permissions: new Set([...had.permissions, ...g.permissions]) } : g);
  }
  return [...byKey.values()];
}

/** The patients on the given boards: the members of each board's Group. */
async function boardPatients(database: Database, boards: string[]): Promise<Set<string>> {
  const out = new Set<string>();
  for (const board of boards) {
    if (!/^[A-Za-z0-9\-.]{1,64}$/.test(board)) continue;
    const doc = await database.c.resources.findOne({ _id: resourceKey('Group', board) }, { projection: { json: 1 } });
    const group = doc && !doc.deleted ? (resourceOf(doc) as Group | undefined) : undefined;
    for (const m of group?.member ?? []) {
      const ref = m.entity.reference ?? '';
      if (ref.startsWith('Patient/') && !m.inactive) out.add(ref.slice('Patient/'.length));
    }
  }
  return out;
}
