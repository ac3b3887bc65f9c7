import type { Response } from 'express';
import type { OperationOutcome, Resource } from '@medplum/fhirtypes';
import { getStatus } from '@medplum/core';
import { FHIR_JSON } from '../http/errors.ts';

/** What a FHIR handler returns: an outcome, optionally a resource, and any extra headers. */
export interface FhirResult {
  outcome: OperationOutcome;
  resource?: Resource;
  headers?: Record<string, string>;
}

/** Sends a FhirResult: the resource if there is one (with ETag/Last-Modified), else the outcome. */
export function sendResult(res: Response, result: FhirResult, options: { preferMinimal?: boolean; preferOutcome?: boolean } = {}): void {
  const status = getStatus(result.outcome);
  for (const [k, v] of Object.entries(result.headers ?? {})) res.setHeader(k, v);
  const meta = result.resource?.meta;
  if (result.resource && result.resource.resourceType !== 'Bundle' && meta?.versionId) {
    res.setHeader('ETag', `W/"${meta.versionId}"`);
    if (meta.lastUpdated) res.setHeader('Last-Modified', new Date(meta.lastUpdated).toUTCString());
  }
  if (options.preferMinimal && result.resource) {
    res.status(status).end();
    return;
  }
  const body = options.preferOutcome || !result.resource ? result.outcome : result.resource;
  res.status(status).type(FHIR_JSON).send(JSON.stringify(body));
}
