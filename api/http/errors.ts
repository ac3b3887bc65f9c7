import { randomUUID } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import type { Logger } from 'pino';
import type { OperationOutcome } from '@medplum/fhirtypes';
import { badRequest, contentTooLarge, getStatus, notFound, OperationOutcomeError, unsupportedMediaType } from '@medplum/core';
import { serverErrorWithId, unavailable, withText } from '../../schema/outcomes.ts';
import { PipelineClosedError } from '../../ingestion/pipeline.ts';
import { isStoreUnavailable } from '../../store/store-unavailable.ts';

export const FHIR_JSON = 'application/fhir+json';

/** Sends an OperationOutcome with its HTTP status. */
export function sendOutcome(res: Response, outcome: OperationOutcome, status = getStatus(outcome)): void {
  res.status(status).type(FHIR_JSON).send(JSON.stringify(outcome));
}

/** The one express error handler: OperationOutcomes as they are, body-parser errors as 400/413/415, an unreachable database as 503 with Retry-After, the rest as 500 with a logged id. */
export function errorHandler(logger: Logger) {
  return (err: unknown, req: Request, res: Response, _next: NextFunction): void => {
    if (res.headersSent) {
      res.end();
      return;
    }
    if (err instanceof OperationOutcomeError) {
      sendOutcome(res, err.outcome);
      return;
    }
    const e = err as { type?: string; status?: number; message?: string; limit?: number; length?: number };
    if (e.type === 'entity.parse.failed') {
      sendOutcome(res, badRequest(`Malformed JSON in request body: ${e.message ?? 'parse error'}`));
      return;
    }
    if (e.type === 'entity.too.large') {
      sendOutcome(res, contentTooLarge(`Request body of ${e.length ?? '?'} bytes exceeds the limit of ${e.limit ?? '?'} bytes`));
      return;
    }
    if (e.type === 'encoding.unsupported' || e.type === 'charset.unsupported') {
      sendOutcome(res, withText(unsupportedMediaType, e.message ?? 'Unsupported encoding'));
      return;
    }
    if (err instanceof PipelineClosedError) {
      res.setHeader('Retry-After', String(STORE_UNAVAILABLE_RETRY_AFTER));
      sendOutcome(res, unavailable(`${err.message}: retry shortly`), 503);
      return;
    }
    if (isStoreUnavailable(err)) {
      logger.warn({ err: (err as Error).message, requestId: res.locals.ctx?.requestId, method: req.method, path: req.path }, 'database unavailable; answered 503');
      res.setHeader('Retry-After', String(STORE_UNAVAILABLE_RETRY_AFTER));
      sendOutcome(res, unavailable('The database is not available (it may be restarting); the request may not have completed: retry shortly'), 503);
      return;
    }
    const errorId = randomUUID();
    logger.error({ err, errorId, requestId: res.locals.ctx?.requestId, method: req.method, path: req.path }, 'unexpected error');
    sendOutcome(res, serverErrorWithId(errorId));
  };
}

/** Seconds a client is asked to wait after the database could not be reached. */
const STORE_UNAVAILABLE_RETRY_AFTER = 5;

/** 404 OperationOutcome for unknown routes. */
export function notFoundHandler(req: Request, res: Response): void {
  sendOutcome(res, withText(notFound, `No route for ${req.method} ${req.path}`));
}
