import { forbidden } from '@medplum/core';
import { fail, withText } from '../schema/outcomes.ts';

/**
 * Who may see what: SMART App Launch v2 scopes, patient context, tumour-board patient lists and
 * break-the-glass, checked in one place for every repository call (REST, Bundle entries, GraphQL,
 * operations). See: https://build.fhir.org/ig/HL7/smart-app-launch/scopes-and-launch-context.html
 *
 * Scopes are parsed in v2 form (`patient/Observation.rs`) and v1 form (`user/*.read`): v1 `read`
 * is `rs`, `write` is `cud`, `*` is `cruds`. A scope with granular parameters
 * (`patient/Observation.rs?category=laboratory`) grants nothing here: IDR does not evaluate them,
 * and granting the whole type would be broader than what was asked.
 */

/** The SMART permissions: create, read, update, delete, search. */
export type Permission = 'c' | 'r' | 'u' | 'd' | 's';

export interface ScopeGrant {
  level: 'patient' | 'user' | 'system';
  /** A resource type or "*". */
  type: string;
  permissions: ReadonlySet<Permission>;
}

/** The person or system behind a request, as the verified token says. */
export interface Principal {
  /** The token subject ("sub"), or "system:<component>" for IDR itself. */
  subject: string;
  /** The token issuer (empty for IDR's own components). */
  issuer: string;
  /** IDR role: clinician, board-member, data-scientist, ingestion, admin, patient, or system. */
  role: string;
  name?: string;
  /** The OAuth client the token was issued to. */
  client?: string;
  /** The network address the request came from. */
  address?: string;
}

export interface Access {
  principal: Principal;
  /** IDR's own components (ingestion, seeding, start-up work): every interaction on every resource. */
  unrestricted: boolean;
  scopes: readonly ScopeGrant[];
  /** Patient context (patient/ scopes): the one patient whose compartment is visible. */
  patient?: string;
  /** Tumour-board members: the patients on their boards (resolved from the boards' Groups per request). */
  boardPatients?: ReadonlySet<string>;
  /** Tumour-board members: the boards (Group ids) themselves, for work done later on their behalf (subscriptions). */
  boards?: readonly string[];
  /** Patients whose record is marked restricted (confidentiality R or V) need break-the-glass for this principal. */
  restrictedNeedsBreakGlass: boolean;
  /** The stated reason, when the caller broke the glass for this request. */
  breakGlass?: string;
  /** Scopes other than resource scopes that the token holds (idr/ingest, idr/audit, openid…). */
  otherScopes?: readonly string[];
}

/** No access at all: the context of a request before (or without) authentication. */
export function noAccess(address?: string): Access {
  return { principal: { subject: 'anonymous', issuer: '', role: 'none', ...(address ? { address } : {}) }, unrestricted: false, scopes: [], restrictedNeedsBreakGlass: true };
}

/** Full access, for IDR's own components. */
export function unrestrictedAccess(component: string): Access {
  return { principal: { subject: `system:${component}`, issuer: '', role: 'system' }, unrestricted: true, scopes: [], restrictedNeedsBreakGlass: false };
}

const SCOPE = /^(patient|user|system)\/(\*|[A-Z][A-Za-z]+)\.(read|write|\*|c?r?u?d?s?)$/;

/** Parses the SMART resource scopes of a space-separated scope string; other scopes (openid, launch/patient, idr/ingest) are ignored here. */
export function parseScopes(scope: string): ScopeGrant[] {
  const out: ScopeGrant[] = [];
  for (const s of scope.split(/\s+/)) {
    const m = SCOPE.exec(s);
    if (!m?.[3]) continue;
    const perms = m[3] === 'read' ? 'rs' : m[3] === 'write' ? 'cud' : m[3] === '*' ? 'cruds' : m[3];
    if (!perms) continue;
    out.push({ level: m[1] as ScopeGrant['level'], type: m[2] as string, permissions: new Set(perms.split('') as Permission[]) });
  }
  return out;
}

/**
 * True when some scope grants `permission` on `type` ("*" = on every type: only a wildcard scope
 * does). The audit trail is special: AuditEvents are written by IDR alone, never through the API,
 * and read only with the idr/audit scope (auditors, administrators).
 */
export function permits(access: Access, type: string, permission: Permission): boolean {
  if (access.unrestricted) return true;
  if (type === 'AuditEvent') {
    // One AuditEvent may name several patients: a patient sees theirs through Patient/{id}/$access-log.
    if (permission !== 'r' && permission !== 's') return false;
    if (!access.otherScopes?.includes('idr/audit')) return false;
  }
  return access.scopes.some((s) => (s.type === '*' || s.type === type) && s.permissions.has(permission) && (s.level !== 'patient' || access.patient !== undefined));
}

/** True when only patient-level scopes grant `permission` on `type` (the patient context then limits what is visible). */
function patientLevelOnly(access: Access, type: string, permission: Permission): boolean {
  return !access.scopes.some((s) => s.level !== 'patient' && (s.type === '*' || s.type === type) && s.permissions.has(permission));
}

const PERMISSION_NAMES: Record<Permission, string> = { c: 'create', r: 'read', u: 'update', d: 'delete', s: 'search' };

/** 403 unless some scope grants `permission` on `type`. */
export function assertPermits(access: Access, type: string, permission: Permission): void {
  if (!permits(access, type, permission)) {
    fail(withText(forbidden, `Your access (${describe(access)}) does not allow ${PERMISSION_NAMES[permission]} on ${type}`));
  }
}

/** What a principal's access is, for error messages: role and scopes, never a token. */
export function describe(access: Access): string {
  const scopes = access.scopes.map((s) => `${s.level}/${s.type}.${[...s.permissions].join('')}`);
  return `role ${access.principal.role}${scopes.length ? `, scopes ${scopes.join(' ')}` : ', no resource scopes'}`;
}

/** Why a resource in the compartments `patients` (of a resource of `type` with id `id`) is not visible, or undefined when it is. */
export function hiddenBecause(access: Access, type: string, id: string, patients: readonly string[], permission: Permission, restricted: (patient: string) => boolean): string | undefined {
  if (access.unrestricted) return undefined;
  const compartment = type === 'Patient' ? [id] : patients;
  if (access.patient !== undefined && patientLevelOnly(access, type, permission)) {
    // A Group lists other patients too: never shown in a patient context.
    if (!compartment.includes(access.patient) || type === 'Group') return `${type}/${id} is outside the patient context of your access`;
  }
  if (access.boardPatients && compartment.length && !compartment.some((p) => access.boardPatients?.has(p))) {
    if (!access.breakGlass) return `${type}/${id} belongs to a patient who is not on your tumour boards (break the glass with a stated reason to read it)`;
  }
  if (access.restrictedNeedsBreakGlass && !access.breakGlass && compartment.some(restricted)) {
    return `${type}/${id} belongs to a patient whose record is restricted (break the glass with a stated reason to read it)`;
  }
  return undefined;
}

/** True when a Patient's security labels mark the record restricted (v3 Confidentiality R or V). */
export function isRestrictedRecord(patient: { meta?: { security?: { system?: string; code?: string }[] } }): boolean {
  return (patient.meta?.security ?? []).some((c) => c.system === 'http://terminology.hl7.org/CodeSystem/v3-Confidentiality' && (c.code === 'R' || c.code === 'V'));
}
