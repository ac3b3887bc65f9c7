import type { NextFunction, Request, Response } from 'express';
import type { Logger } from 'pino';
import type { RequestContext } from '../../store/request-context.ts';
import type { AccessRecord } from '../../store/audit-event.ts';

/**
 * The access audit of the HTTP API (NEN 7513): every call to /fhir, /graphql and /ingest — reads,
 * searches, GraphQL queries, raw downloads, writes, and refusals — leaves one AccessRecord with
 * who (from the verified token), what (the patients and resources the repository returned or
 * wrote), when, why (purpose of use, break-the-glass) and the outcome.
 *
 * The answer goes out only after its record is durably buffered: `res.end` waits for it. If the
 * record cannot be written the request fails closed (503, nothing of the answer sent).
 */

export interface AccessRecorder {
  record(r: AccessRecord): Promise<void>;
}

type Interaction = AccessRecord['interaction'];

/** Express middleware for the audited API routes; `api` names the mount ("fhir", "graphql", "ingest"). */
export function accessAudit(trail: AccessRecorder, logger: Logger, api: 'fhir' | 'graphql' | 'ingest') {
  return (req: Request, res: Response, next: NextFunction): void => {
    if (api === 'fhir' && (req.path === '/metadata' || req.path.startsWith('/.well-known/'))) {
      next();
      return;
    }
    const end = res.end.bind(res) as (...args: unknown[]) => Response;
    let held = false;
    res.end = ((...args: unknown[]) => {
      if (held) return end(...args);
      held = true;
      const ctx = res.locals.ctx as RequestContext;
      trail.record(accessRecord(req, res, ctx, api)).then(
        () => end(...args),
        (err: unknown) => {
          logger.error({ err, requestId: ctx.requestId }, 'the access could not be recorded in the audit trail: the answer is withheld');
          if (res.headersSent) {
            res.destroy();
            return;
          }
          res.statusCode = 503;
          for (const h of ['content-length', 'etag', 'last-modified', 'location', 'content-location']) res.removeHeader(h);
          res.setHeader('content-type', 'application/fhir+json');
          res.setHeader('retry-after', '5');
          end(JSON.stringify({ resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'transient', details: { text: 'The access could not be recorded in the audit trail, so nothing is returned: retry shortly' } }] }));
        },
      );
      return res;
    }) as typeof res.end;
    next();
  };
}

function accessRecord(req: Request, res: Response, ctx: RequestContext, api: 'fhir' | 'graphql' | 'ingest'): AccessRecord {
  const status = res.statusCode;
  const interaction = interactionOf(req, api);
  const seen = ctx.seen;
  const p = ctx.access.principal;
  const path = req.originalUrl.split('?')[0] ?? req.originalUrl;
  const query = api === 'graphql' ? graphqlOperation(req) : req.originalUrl;
  return {
    time: new Date(),
    requestId: ctx.requestId,
    agent: { subject: p.subject, issuer: p.issuer, role: p.role, ...(p.name ? { name: p.name } : {}), ...(p.client ? { client: p.client } : {}), ...(p.address ?? req.ip ? { address: p.address ?? req.ip } : {}), ...(ctx.access.patient ? { patient: ctx.access.patient } : {}) },
    purpose: ctx.purpose,
    ...(ctx.access.breakGlass ? { breakGlass: ctx.access.breakGlass } : {}),
    interaction,
    action: actionOf(interaction),
    outcome: status === 401 || status === 403 ? 'denied' : status >= 400 ? 'failed' : 'success',
    status,
    ...(status >= 400 ? { reason: `${req.method} ${path} answered ${status}` } : {}),
    patients: [...(seen?.patients ?? [])],
    resources: [...(seen?.resources ?? [])],
    ...(seen && seen.count > seen.resources.length ? { resourceCount: seen.count } : {}),
    types: [...(seen?.types ?? [])],
    ...(query ? { query: query.slice(0, 2000) } : {}),
  };
}

/** The FHIR interaction (or IDR action) of a request. See: https://hl7.org/fhir/R4/http.html */
function interactionOf(req: Request, api: 'fhir' | 'graphql' | 'ingest'): Interaction {
  if (api === 'graphql') return 'graphql';
  const parts = req.path.split('/').filter(Boolean);
  if (api === 'ingest') {
    if (req.method === 'GET' && parts.at(-1) === 'raw') return 'raw-download';
    return req.method === 'GET' || req.method === 'HEAD' ? 'read' : 'ingest';
  }
  if (parts.some((s) => s.startsWith('$'))) return 'operation';
  switch (req.method) {
    case 'POST':
      if (parts.length === 0) return (req.body as { type?: string } | undefined)?.type === 'transaction' ? 'transaction' : 'batch';
      return parts.at(-1) === '_search' ? 'search' : 'create';
    case 'PUT':
      return 'update';
    case 'PATCH':
      return 'patch';
    case 'DELETE':
      return 'delete';
    default:
      if (parts.includes('_history')) return parts.length === 4 ? 'vread' : 'history';
      return parts.length === 2 ? 'read' : 'search';
  }
}

function actionOf(i: Interaction): AccessRecord['action'] {
  switch (i) {
    case 'create':
      return 'C';
    case 'update':
    case 'patch':
      return 'U';
    case 'delete':
      return 'D';
    case 'operation':
    case 'batch':
    case 'transaction':
    case 'ingest':
    case 'export':
      return 'E';
    default:
      return 'R';
  }
}

/** "graphql <operationName>" for a GraphQL call (the query text itself may hold identifiers: not kept). */
function graphqlOperation(req: Request): string {
  const body = req.body as { operationName?: unknown } | undefined;
  const name = typeof body?.operationName === 'string' ? body.operationName : typeof req.query.operationName === 'string' ? req.query.operationName : undefined;
  return `graphql${name ? ` ${name.slice(0, 100)}` : ''}`;
}
