import { OperationOutcomeError } from '@medplum/core';
import type { OperationOutcome, OperationOutcomeIssue } from '@medplum/fhirtypes';

/**
 * What IDR adds to @medplum/core's OperationOutcomes (allOk, notFound, gone, badRequest,
 * OperationOutcomeError, getStatus, …, which every module imports from core directly): a text on
 * a constant outcome, the validator's issues as one outcome, a 500 that names a logged error id,
 * and `fail`. See: https://hl7.org/fhir/R4/operationoutcome.html
 */

/** A copy of a constant outcome (same id, so the same HTTP status) whose issue says `text`. */
export function withText(outcome: OperationOutcome, text: string, expression?: string): OperationOutcome {
  const first = outcome.issue?.[0] ?? { severity: 'error', code: 'processing' };
  const issue: OperationOutcomeIssue = { ...first, details: { text } };
  if (expression) issue.expression = [expression];
  return { ...outcome, issue: [issue] };
}

/** 400 for a resource that does not validate; keeps every issue the validator found. */
export function invalidResource(issues: OperationOutcomeIssue[]): OperationOutcome {
  return { resourceType: 'OperationOutcome', issue: issues.length ? issues : [{ severity: 'error', code: 'invalid', details: { text: 'Invalid resource' } }] };
}

/** 500 with an error id that is also written to the log (core's serverError would show the error's own message). */
export function serverErrorWithId(errorId: string): OperationOutcome {
  return { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'exception', details: { text: `Internal server error (error id ${errorId})` } }] };
}

/** Outcome for an unreachable dependency (the database); core has no 503, so send it with status 503 explicitly. */
export function unavailable(details: string): OperationOutcome {
  return { resourceType: 'OperationOutcome', id: 'unavailable', issue: [{ severity: 'error', code: 'transient', details: { text: details } }] };
}

/** Throws an OperationOutcomeError (core's) for the outcome. */
export function fail(o: OperationOutcome): never {
  throw new OperationOutcomeError(o);
}
