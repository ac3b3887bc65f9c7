import type { OperationOutcome, OperationOutcomeIssue } from '@medplum/fhirtypes';

/**
 * OperationOutcomes: the constant ones, factories, the error that carries one, and the mapping
 * from an outcome to an HTTP status. Every FHIR error in IDR is one of these.
 * See: https://hl7.org/fhir/R4/operationoutcome.html
 */

type IssueCode = OperationOutcomeIssue['code'];

/** Issue codes with the HTTP status they stand for (first issue decides). */
const STATUS_BY_OUTCOME_ID: Record<string, number> = {
  ok: 200,
  created: 201,
  'not-modified': 304,
  'bad-request': 400,
  unauthorized: 401,
  forbidden: 403,
  'not-found': 404,
  'method-not-allowed': 405,
  'not-acceptable': 406,
  gone: 410,
  conflict: 409,
  'precondition-failed': 412,
  'too-large': 413,
  'unsupported-media-type': 415,
  unprocessable: 422,
  'server-error': 500,
  unavailable: 503,
};

function outcome(id: string, severity: OperationOutcomeIssue['severity'], code: IssueCode, text: string, expression?: string): OperationOutcome {
  const issue: OperationOutcomeIssue = { severity, code, details: { text } };
  if (expression) issue.expression = [expression];
  return { resourceType: 'OperationOutcome', id, issue: [issue] };
}

export const allOk = outcome('ok', 'information', 'informational', 'All OK');
export const created = outcome('created', 'information', 'informational', 'Created');
export const notModified = outcome('not-modified', 'information', 'informational', 'Not modified');
export const gone = outcome('gone', 'error', 'deleted', 'Deleted');

/** 201 with a text, e.g. for ingestion results. */
export function createdWith(text: string): OperationOutcome {
  return outcome('created', 'information', 'informational', text);
}

/** 200 informational with a text. */
export function okWith(text: string): OperationOutcome {
  return outcome('ok', 'information', 'informational', text);
}

/** 404 for a missing resource or route. */
export function notFound(what = 'Not found'): OperationOutcome {
  return outcome('not-found', 'error', 'not-found', what);
}

/** 410 for a deleted resource. */
export function goneWith(text: string): OperationOutcome {
  return outcome('gone', 'error', 'deleted', text);
}

/** 400 naming what is wrong and, where known, the FHIRPath of the offending element. */
export function badRequest(details: string, expression?: string): OperationOutcome {
  return outcome('bad-request', 'error', 'invalid', details, expression);
}

/** 400 for a resource that does not validate; keeps every issue the validator found. */
export function invalidResource(issues: OperationOutcomeIssue[]): OperationOutcome {
  return { resourceType: 'OperationOutcome', id: 'bad-request', issue: issues.length ? issues : [{ severity: 'error', code: 'invalid', details: { text: 'Invalid resource' } }] };
}

/** 409 when a write lost a race or would duplicate. */
export function conflict(details: string): OperationOutcome {
  return outcome('conflict', 'error', 'conflict', details);
}

/** 412 when If-Match or a conditional operation's precondition does not hold. */
export function preconditionFailed(details: string): OperationOutcome {
  return outcome('precondition-failed', 'error', 'conflict', details);
}

/** 405 for a method the endpoint does not support. */
export function methodNotAllowed(details: string): OperationOutcome {
  return outcome('method-not-allowed', 'error', 'not-supported', details);
}

/** 406 for a format IDR cannot produce. */
export function notAcceptable(details: string): OperationOutcome {
  return outcome('not-acceptable', 'error', 'not-supported', details);
}

/** 413 for a request body over the configured limit. */
export function tooLarge(details: string): OperationOutcome {
  return outcome('too-large', 'error', 'too-costly', details);
}

/** 415 for a content type the endpoint does not take. */
export function unsupportedMediaType(details: string): OperationOutcome {
  return outcome('unsupported-media-type', 'error', 'not-supported', details);
}

/** 422 for well-formed input that cannot be processed (e.g. an unmatched patient). */
export function unprocessable(details: string, expression?: string): OperationOutcome {
  return outcome('unprocessable', 'error', 'processing', details, expression);
}

/** 500 with an error id that is also written to the log. */
export function serverError(errorId: string): OperationOutcome {
  return outcome('server-error', 'error', 'exception', `Internal server error (error id ${errorId})`);
}

/** 503 when a dependency (the database) is unreachable. */
export function unavailable(details: string): OperationOutcome {
  return outcome('unavailable', 'error', 'transient', details);
}

/** The HTTP status an outcome stands for. */
export function outcomeStatus(o: OperationOutcome): number {
  return STATUS_BY_OUTCOME_ID[o.id ?? ''] ?? (o.issue?.some((i) => i.severity === 'error' || i.severity === 'fatal') ? 400 : 200);
}

/** True for outcomes that are not errors. */
export function isOk(o: OperationOutcome): boolean {
  return outcomeStatus(o) < 400;
}

/** An error that carries an OperationOutcome to the one place that sends it. */
export class OperationOutcomeError extends Error {
  readonly outcome: OperationOutcome;
  constructor(o: OperationOutcome, options?: { cause?: unknown }) {
    super(o.issue?.[0]?.details?.text ?? 'Error', options);
    this.name = 'OperationOutcomeError';
    this.outcome = o;
  }
}

/** Throws an OperationOutcomeError for the outcome. */
export function fail(o: OperationOutcome): never {
  throw new OperationOutcomeError(o);
}
