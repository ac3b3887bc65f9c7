/**
 * IDR's roles and the most each may be granted (its scope ceiling). A token carries one role
 * (`idr_role`) and only scopes its role allows: a wider scope than allowed is narrowed to what the
 * role may have (`user/*.cruds` becomes `user/*.rs` for a clinician), anything else is dropped.
 *
 * Scopes follow SMART App Launch v2 (`user/*.rs`, `patient/Observation.rs`, `system/*.cruds`)
 * plus IDR's own `idr/ingest` (send data to /ingest) and `idr/audit` (read the audit trail).
 * See: https://hl7.org/fhir/smart-app-launch/scopes-and-launch-context.html
 */

import { parseScopes } from '../../store/access.ts';

export const ROLES = ['clinician', 'board-member', 'data-scientist', 'ingestion', 'admin', 'patient'] as const;
export type Role = (typeof ROLES)[number];

/** The scopes each role may be granted; a narrower SMART scope inside one of them is allowed too, and a wider one is narrowed to it. */
export const ROLE_SCOPES: Record<Role, readonly string[]> = {
  // Subscriptions: each notification is checked against its owner's access (fhir/subscriptions.ts), so subscribing grants no more than reading.
  // A clinician puts a case on a tumour board's agenda (a Task with the question); the board
  // plans its meetings, prepares and shares the case and records its decision (docs/tumour-board.md).
  clinician: ['openid', 'fhirUser', 'user/*.rs', 'user/Subscription.cruds', 'user/Task.c'],
  'board-member': ['openid', 'fhirUser', 'user/*.rs', 'user/Subscription.cruds', 'user/Appointment.cu', 'user/Task.cu', 'user/Bundle.c', 'user/ClinicalImpression.c'],
  'data-scientist': ['openid', 'fhirUser', 'user/Group.cruds'],
  ingestion: ['idr/ingest'],
  admin: ['openid', 'fhirUser', 'user/*.cruds', 'system/*.cruds', 'idr/ingest', 'idr/audit'],
  patient: ['openid', 'fhirUser', 'launch/patient', 'patient/*.rs'],
};

/** True for one of IDR's role names. */
export function isRole(value: unknown): value is Role {
  return typeof value === 'string' && (ROLES as readonly string[]).includes(value);
}

/** A SMART v2 resource scope, split: context/type.permissions (v1 `.read`, `.write`, `.*` mapped to v2 letters). */
interface SmartScope {
  context: 'patient' | 'user' | 'system';
  type: string;
  permissions: string;
}

/** One SMART resource scope, through the parser the repository's access checks use (store/access.ts). */
function parseSmartScope(scope: string): SmartScope | undefined {
  const [grant] = parseScopes(scope);
  return grant ? { context: grant.level, type: grant.type, permissions: [...grant.permissions].join('') } : undefined;
}

/** True when `scope` is in `ceiling`, or is a SMART scope no wider than one in it (`user/Observation.r` within `user/*.rs`). */
export function scopeWithin(scope: string, ceiling: readonly string[]): boolean {
  if (ceiling.includes(scope)) return true;
  const wanted = parseSmartScope(scope);
  if (!wanted || wanted.permissions === '') return false;
  return ceiling.some((c) => {
    const has = parseSmartScope(c);
    return (
      has !== undefined &&
      has.context === wanted.context &&
      (has.type === '*' || has.type === wanted.type) &&
      [...wanted.permissions].every((p) => has.permissions.includes(p))
    );
  });
}

/**
 * What `ceiling` allows of one requested scope: the scope itself when it is within, else the
 * SMART scopes it narrows to (`user/*.cruds` under `user/*.rs` gives `user/*.rs`; under
 * `user/Group.cruds` it gives `user/Group.cruds`), else nothing.
 */
export function narrowScope(scope: string, ceiling: readonly string[]): string[] {
  if (scopeWithin(scope, ceiling)) return [scope];
  const wanted = parseSmartScope(scope);
  if (!wanted) return [];
  const narrowed: string[] = [];
  for (const c of ceiling) {
    const has = parseSmartScope(c);
    if (!has || has.context !== wanted.context) continue;
    const type = wanted.type === '*' ? has.type : has.type === '*' || has.type === wanted.type ? wanted.type : undefined;
    const permissions = [...'cruds'].filter((p) => wanted.permissions.includes(p) && has.permissions.includes(p)).join('');
    if (type && permissions) narrowed.push(`${wanted.context}/${type}.${permissions}`);
  }
  return narrowed;
}

/** The requested scopes narrowed to `ceiling`, in request order, without duplicates (what it allows nothing of is dropped). */
export function narrowScopes(requested: Iterable<string>, ceiling: readonly string[]): string[] {
  return [...new Set([...requested].flatMap((s) => narrowScope(s, ceiling)))];
}

/** The requested scopes narrowed to what `role` may have (see narrowScope). */
export function grantableScopes(role: Role, requested: Iterable<string>): string[] {
  return narrowScopes(requested, ROLE_SCOPES[role]);
}

/** True when some role may be granted `scope`: the scopes IDR knows at all. */
export function isKnownScope(scope: string): boolean {
  return ROLES.some((r) => scopeWithin(scope, ROLE_SCOPES[r]));
}
