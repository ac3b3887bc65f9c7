import { randomUUID } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import type { Logger } from 'pino';
import type { OperationOutcome } from '@medplum/fhirtypes';
import { badRequest, contentTooLarge, getStatus, notFound, OperationOutcomeError, unsupportedMediaType } from '@medplum/core';
import { serverErrorWithId, withText } from '../../schema/outcomes.ts';

export const FHIR_JSON = 'application/fhir+json';

/** Sends an OperationOutcome with its HTTP status. */
export function sendOutcome(res: Response, outcome: OperationOutcome, status = getStatus(outcome)): void {
  res.status(status).type(FHIR_JSON).send(JSON.stringify(outcome));
}

/** The one express error handler: OperationOutcomes as they are, body-parser errors as 400/413/415, the rest as 500 with a logged id. */
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
    const errorId = randomUUID();
    logger.error({ err, errorId, requestId: res.locals.ctx?.requestId, method: req.method, path: req.path }, 'unexpected error');
    sendOutcome(res, serverErrorWithId(errorId));
  };
}

/** 404 OperationOutcome for unknown routes. */
export function notFoundHandler(req: Request, res: Response): void {
  sendOutcome(res, withText(notFound, `No route for ${req.method} ${req.path}`));
}
