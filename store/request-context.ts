/**
 * Who is asking and why. Every repository call takes one, so access control and the audit log
 * can be added without changing any signature.
 */
export interface RequestContext {
  /** The authenticated user, client or internal component (e.g. "system:ingestion"). */
  actor: string;
  /** The purpose of use, e.g. "treatment", "tumour-board", "research", "ingestion". */
  purpose: string;
  /** Correlates log lines and audit records of one request. */
  requestId: string;
}

/** A context for IDR's own components (ingestion, seeding, start-up checks). */
export function systemContext(component: string, requestId = `${component}-${Date.now().toString(36)}`): RequestContext {
  return { actor: `system:${component}`, purpose: 'system', requestId };
}
