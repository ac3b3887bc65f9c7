import express, { type Request, type Router } from 'express';
import { handleFhirRequest } from '../../fhir/router.ts';
import type { FhirDeps, FhirRequest } from '../../fhir/request.ts';
import type { Repository } from '../../store/repository.ts';
import type { TimelineStore } from '../../timeline/projection.ts';
import { ctxOf } from '../http/context.ts';
import { sendResult } from './result.ts';
import { viewDefinitionRoutes } from './view-definition-routes.ts';
import { checkBundleEntryCount, DEFAULT_MAX_BUNDLE_ENTRIES } from './bundle-entry-limit.ts';
import { getStatus } from '@medplum/core';
import type { AsyncJobs } from '../async-jobs.ts';
import { deleteJob, sendAccepted, sendJobStatus, wantsAsync } from '../async-status.ts';
import { FHIR_JSON } from '../http/errors.ts';

/**
 * The FHIR R4 REST API, mounted at /fhir: an HTTP adapter over the FHIR router (fhir/router.ts),
 * which serves batch and transaction entries the same way.
 */
export function fhirRouter(options: { repo: Repository; baseUrl: string; version: string; maxBodyBytes: number; maxBundleEntries?: number; timeline?: TimelineStore; mergePatients?: FhirDeps['mergePatients']; asyncJobs?: AsyncJobs; security?: FhirDeps['security']; pseudonymKey?: () => Promise<Buffer> }): Router {
  const deps: FhirDeps = {
    repo: options.repo,
    baseUrl: options.baseUrl,
    version: options.version,
    ...(options.timeline ? { timeline: options.timeline } : {}),
    ...(options.security ? { security: options.security } : {}),
    ...(options.mergePatients ? { mergePatients: options.mergePatients } : {}),
  };
  const router = express.Router();
  router.use(express.json({ type: ['application/json', 'application/fhir+json', 'application/json-patch+json'], limit: options.maxBodyBytes, strict: true }));
  router.use(express.urlencoded({ extended: false, limit: options.maxBodyBytes, type: 'application/x-www-form-urlencoded' }));
  const jobs = options.asyncJobs;
  if (jobs) {
    router.get('/_async/:id', (req, res) => sendJobStatus(jobs, req, res, FHIR_JSON));
    router.delete('/_async/:id', (req, res) => deleteJob(jobs, req, res));
  }
  // SQL on FHIR: ViewDefinition is not an R4 type, so its read and $run routes come before the FHIR router.
  router.use(viewDefinitionRoutes({ repo: options.repo, baseUrl: options.baseUrl, ...(options.pseudonymKey ? { pseudonymKey: options.pseudonymKey } : {}) }));
  router.use(async (req, res) => {
    if (req.method === 'POST' && req.path === '/') checkBundleEntryCount(req.body, options.maxBundleEntries ?? DEFAULT_MAX_BUNDLE_ENTRIES);
    if (jobs && req.method === 'POST' && req.path === '/' && wantsAsync(req)) {
      // A batch or transaction Bundle answered later: 202 now, the batch-/transaction-response at the status URL.
      const request = fhirRequest(req);
      const ctx = ctxOf(res);
      const entries = (req.body as { entry?: unknown[] } | undefined)?.entry?.length ?? 0;
      const id = await jobs.start('fhir-bundle', ctx.actor, entries, async () => {
        const result = await handleFhirRequest(deps, ctx, request);
        return { status: getStatus(result.outcome), body: result.resource ?? result.outcome };
      });
      sendAccepted(res, `${options.baseUrl}/_async/${id}`, FHIR_JSON);
      return;
    }
    const result = await handleFhirRequest(deps, ctxOf(res), fhirRequest(req));
    const prefer = req.header('prefer') ?? '';
    sendResult(res, result, { baseUrl: options.baseUrl, preferMinimal: /return=minimal/.test(prefer), preferOutcome: /return=OperationOutcome/i.test(prefer) });
  });
  return router;
}

/** The FhirRequest of an HTTP request (path below the mount point, the raw query string as sent). */
function fhirRequest(req: Request): FhirRequest {
  const i = req.originalUrl.indexOf('?');
  const ifMatch = req.header('if-match');
  const ifNoneExist = req.header('if-none-exist');
  const prefer = req.header('prefer');
  return {
    method: req.method,
    path: req.path,
    query: new URLSearchParams(i < 0 ? '' : req.originalUrl.slice(i + 1)),
    ...(req.body !== undefined ? { body: req.body } : {}),
    headers: { ...(ifMatch ? { ifMatch } : {}), ...(ifNoneExist ? { ifNoneExist } : {}), ...(prefer ? { prefer } : {}) },
  };
}
