import { randomUUID } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import { AccessLog, type RequestContext } from '../../store/request-context.ts';
import { noAccess } from '../../store/access.ts';

/**
 * Attaches a RequestContext to every request: a request id (echoed in X-Request-Id), no access
 * (authentication, api/auth/authenticate.ts, fills in the caller's) and an empty access log for
 * the audit record. Headers never name the actor: only a verified token does.
 */
export function requestContext(req: Request, res: Response, next: NextFunction): void {
  const incoming = req.header('x-request-id');
  const requestId = incoming && /^[\w.-]{1,64}$/.test(incoming) ? incoming : randomUUID();
  res.setHeader('X-Request-Id', requestId);
  res.locals.ctx = {
    requestId,
    actor: 'anonymous',
    purpose: 'treatment',
    access: noAccess(req.ip),
    seen: new AccessLog(),
  } satisfies RequestContext;
  next();
}

/** The RequestContext of a request. */
export function ctxOf(res: Response): RequestContext {
  return res.locals.ctx as RequestContext;
}
