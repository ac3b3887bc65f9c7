import type { Response } from 'express';
import { getStatus } from '@medplum/core';
import type { FhirResult } from '../../fhir/request.ts';
import { FHIR_JSON } from '../http/errors.ts';

/**
 * Sends a FhirResult: the resource if there is one (with ETag/Last-Modified, and Location /
 * Content-Location for a write), else the outcome; Prefer: return=minimal / OperationOutcome.
 * See: https://hl7.org/fhir/R4/http.html#ops
 */
export function sendResult(res: Response, result: FhirResult, options: { baseUrl: string; preferMinimal?: boolean; preferOutcome?: boolean }): void {
  const status = getStatus(result.outcome);
  const r = result.resource;
  if (result.location) {
    const url = `${options.baseUrl}/${result.location}`;
    res.setHeader('Content-Location', url);
    if (status === 201 || res.req.method === 'POST') res.setHeader('Location', url);
  }
  const meta = r && r.resourceType !== 'Bundle' ? r.meta : undefined;
  if (meta?.versionId) {
    res.setHeader('ETag', `W/"${meta.versionId}"`);
    if (meta.lastUpdated) res.setHeader('Last-Modified', new Date(meta.lastUpdated).toUTCString());
  }
  if (options.preferMinimal && r) {
    res.status(status).end();
    return;
  }
  const body = options.preferOutcome || !r ? result.outcome : r;
  res.status(status).type(FHIR_JSON).send(JSON.stringify(body));
}
