import { unrestrictedAccess, type Access } from './access.ts';

/**
 * Who is asking and why. Every repository call takes one: access control (store/access.ts) and
 * the access audit read it.
 */
export interface RequestContext {
  /** The authenticated user, client or internal component (e.g. "system:ingestion"), for logs and provenance. */
  actor: string;
  /** The purpose of use, e.g. "treatment", "tumour-board", "research", "ingestion". */
  purpose: string;
  /** Correlates log lines and audit records of one request. */
  requestId: string;
  /** What the caller may see and do (from the verified token; unrestricted for IDR's own components). */
  access: Access;
  /** What the request returned or wrote, collected for its audit record (absent for internal work). */
  seen?: AccessLog;
}

/** A context for IDR's own components (ingestion, seeding, start-up checks). */
export function systemContext(component: string, requestId = `${component}-${Date.now().toString(36)}`): RequestContext {
  return { actor: `system:${component}`, purpose: 'system', requestId, access: unrestrictedAccess(component) };
}

/** The resources and patients one request returned or wrote (the "what" of its audit record). */
export class AccessLog {
  static readonly MAX_LISTED = 100;
  readonly patients = new Set<string>();
  readonly types = new Set<string>();
  /** "Type/id" of the first MAX_LISTED resources; `count` has them all. */
  readonly resources: string[] = [];
  count = 0;
  /** Resources left out of an answer because the caller may not see them. */
  withheld = 0;
  /** True when break-the-glass made something visible that otherwise would not have been. */
  glassBroken = false;
  private readonly listed = new Set<string>();

  add(type: string, id: string, patients: readonly string[]): void {
    this.types.add(type);
    for (const p of type === 'Patient' ? [id] : patients) this.patients.add(p);
    const ref = `${type}/${id}`;
    if (this.listed.has(ref)) return;
    this.listed.add(ref);
    this.count++;
    if (this.resources.length < AccessLog.MAX_LISTED) this.resources.push(ref);
  }
}
