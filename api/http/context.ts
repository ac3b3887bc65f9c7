import { randomUUID } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import type { RequestContext } from '../../store/request-context.ts';

/**
 * Attaches a RequestContext to every request: a request id (echoed in X-Request-Id), the actor
 * (until authentication exists: the X-IDR-Actor header, else "anonymous") and the purpose of use
 * (X-IDR-Purpose, default "treatment").
 */
export function requestContext(req: Request, res: Response, next: NextFunction): void {
  const incoming = req.header('x-request-id');
  const requestId = incoming && /^[\w.-]{1,64}$/.test(incoming) ? incoming : randomUUID();
  res.setHeader('X-Request-Id', requestId);
  res.locals.ctx = {
    requestId,
    actor: sanitize(req.header('x-idr-actor')) ?? 'anonymous',
    purpose: sanitize(req.header('x-idr-purpose')) ?? 'treatment',
  } satisfies RequestContext;
  next();
}

function sanitize(v: string | undefined): string | undefined {
  return v && /^[\w:@./-]{1,128}$/.test(v) ? v : undefined;
}

/** The RequestContext of a request. */
export function ctxOf(res: Response): RequestContext {
  return res.locals.ctx as RequestContext;
}
