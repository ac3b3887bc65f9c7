import path from 'node:path';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import express, { type Request, type Response, type Router } from 'express';
import type { Logger } from 'pino';
import { badRequest, notFound, OperationOutcomeError } from '@medplum/core';
import { fail, withText } from '../../schema/outcomes.ts';
import type { Repository } from '../../store/repository.ts';
import type { RequestContext } from '../../store/request-context.ts';
import type { AccessRecord } from '../../store/audit-event.ts';
import { EXPORT_LEVEL, MAX_AUDITED_PATIENTS, parseExportRequest, planExport, runExport, type ExportLevel, type ExportResult } from '../../fhir/bulk-export.ts';
import { ExportFiles } from '../../fhir/export-files.ts';
import { JOB_STATUS, type AsyncJobs } from '../async-jobs.ts';
import { wantsAsync } from '../async-status.ts';
import { ctxOf } from '../http/context.ts';
import type { AccessRecorder } from '../http/access-audit.ts';
import { FHIR_JSON } from '../http/errors.ts';

/**
 * The Bulk Data export routes under /fhir: kick-off (`$export`, `Patient/$export`,
 * `Group/{id}/$export`, with `Prefer: respond-async`), the status URL (`_export/{job}`: 202 while
 * running, the manifest when done, DELETE cancels) and the files (`_export/{job}/{Type}.ndjson`),
 * all for the caller who started the job only.
 * See: https://hl7.org/fhir/uv/bulkdata/export.html
 */

export interface ExportRouterOptions {
  repo: Repository;
  jobs: AsyncJobs;
  audit: AccessRecorder;
  /** The public FHIR base URL (…/fhir). */
  baseUrl: string;
  /** IDR_DATA_DIR: files go to its `exports` folder. */
  dataDir: string;
  /** Hours a finished export's files are kept. */
  expiryHours: number;
  logger: Logger;
  /** The key of the pseudonyms in de-identified exports (store/pseudonym-key.ts). */
  pseudonymKey: () => Promise<Buffer>;
}

const JOB_KIND = 'bulk-export';
const NDJSON = 'application/fhir+ndjson';
/** How often expired exports are removed. */
const CLEANUP_MS = 15 * 60_000;

/** The export router; removes unfinished and expired exports now and expired ones on a timer. */
export function exportRouter(options: ExportRouterOptions): Router {
  const files = new ExportFiles(path.join(options.dataDir, 'exports'), options.expiryHours);
  const cleanup = (unfinished: boolean): void => {
    files.cleanup({ unfinished }).then(
      (removed) => void (removed && options.logger.info({ removed }, 'removed expired bulk export files')),
      (err: unknown) => options.logger.warn({ err }, 'removing expired bulk export files failed; tried again later'),
    );
  };
  cleanup(true);
  setInterval(() => cleanup(false), CLEANUP_MS).unref();
  const running = new Map<string, { abort: AbortController; done: Promise<unknown> }>();
  const router = express.Router();

  const kickOff = (level: ExportLevel) => async (req: Request, res: Response): Promise<void> => {
    const accept = req.header('accept') ?? '';
    if (!/(^|[\s,])application\/fhir\+json(\s*(;|,|$))/.test(accept)) fail(badRequest(`$export needs "Accept: application/fhir+json" (got "${accept}")`, 'Accept'));
    if (!wantsAsync(req)) fail(badRequest('$export needs "Prefer: respond-async": it is answered asynchronously', 'Prefer'));
    const i = req.originalUrl.indexOf('?');
    const query = new URLSearchParams(i < 0 ? '' : req.originalUrl.slice(i + 1));
    const groupId = level === EXPORT_LEVEL.group ? String((req.params as Record<string, string>)[0]) : undefined;
    const request = parseExportRequest(level, query, { ...(groupId ? { groupId } : {}), lenient: /handling=lenient/.test(req.header('prefer') ?? '') });
    const ctx = ctxOf(res);
    const plan = await planExport(options.repo, ctx, request);
    const transactionTime = new Date();
    const requestUrl = `${options.baseUrl.replace(/\/fhir$/, '')}${req.originalUrl}`;
    const agent = agentOf(req, ctx);
    let setId: (id: string) => void = () => undefined;
    const idKnown = new Promise<string>((resolve) => (setId = resolve));
    const id = await options.jobs.start(JOB_KIND, ctx.actor, level === EXPORT_LEVEL.system ? plan.exportTypes.length : (plan.patients?.length ?? 0), async (control) => {
      const jobId = await idKnown;
      const abort = new AbortController();
      let finish: () => void = () => undefined;
      running.set(jobId, { abort, done: new Promise<void>((resolve) => (finish = resolve)) });
      let result: ExportResult | undefined;
      try {
        await files.create(jobId);
        result = await runExport({ repo: options.repo, files, jobId, fileUrl: (name) => `${options.baseUrl}/_export/${jobId}/${name}`, signal: abort.signal, progress: control.progress, transactionTime, ...(plan.deidentify ? { pseudonymKey: await options.pseudonymKey() } : {}) }, ctx, plan);
        await files.complete(jobId);
        await options.audit.record(exportRecord(agent, ctx, requestUrl, 200, result));
        return { status: 200, body: { transactionTime: transactionTime.toISOString(), request: requestUrl, requiresAccessToken: true, output: result.output, error: result.error } };
      } catch (err) {
        await files.remove(jobId).catch(() => undefined);
        const status = abort.signal.aborted ? 499 : err instanceof OperationOutcomeError ? 400 : 500;
        await options.audit.record(exportRecord(agent, ctx, requestUrl, status, result)).catch((e: unknown) => options.logger.error({ err: e, job: jobId }, 'the failed export could not be recorded in the audit trail'));
        throw err;
      } finally {
        running.delete(jobId);
        finish();
      }
    });
    setId(id);
    const statusUrl = `${options.baseUrl}/_export/${id}`;
    res.setHeader('Content-Location', statusUrl);
    res.status(202).type(FHIR_JSON).send(JSON.stringify({ resourceType: 'OperationOutcome', issue: [{ severity: 'information', code: 'informational', details: { text: `Export accepted; poll ${statusUrl}` } }] }));
  };

  router.get(/^\/\$export$/, kickOff(EXPORT_LEVEL.system));
  router.get(/^\/Patient\/\$export$/, kickOff(EXPORT_LEVEL.patient));
  router.get(/^\/Group\/([A-Za-z0-9\-.]{1,64})\/\$export$/, kickOff(EXPORT_LEVEL.group));

  router.get('/_export/:id', async (req, res) => {
    const id = String(req.params.id);
    const job = await ownJob(options.jobs, id, ctxOf(res));
    if (job.status === JOB_STATUS.running) {
      res.setHeader('X-Progress', job.progress.total ? `${job.progress.done} of ${job.progress.total} done` : 'in progress');
      res.setHeader('Retry-After', '2');
      res.status(202).end();
      return;
    }
    if (job.httpStatus === 200) {
      const expires = await files.expiresAt(id);
      if (!expires) fail(withText(notFound, `Export ${id} has expired; its files were removed`));
      res.setHeader('Expires', expires.toUTCString());
      res.status(200).type('application/json').send(job.body ?? '{}');
      return;
    }
    res.status(job.httpStatus ?? 500).type(FHIR_JSON).send(job.body ?? '{}');
  });

  router.delete('/_export/:id', async (req, res) => {
    const id = String(req.params.id);
    const ctx = ctxOf(res);
    await ownJob(options.jobs, id, ctx);
    const run = running.get(id);
    if (run) {
      run.abort.abort();
      await run.done;
    }
    // The job's final status is written just after its work ends.
    for (let i = 0; i < 100 && (await options.jobs.forget(id, ctx.actor)) === 'running'; i++) await new Promise((r) => setTimeout(r, 50));
    await files.remove(id);
    res.status(202).type(FHIR_JSON).send(JSON.stringify({ resourceType: 'OperationOutcome', issue: [{ severity: 'information', code: 'informational', details: { text: `Export ${id} was cancelled and its files removed` } }] }));
  });

  router.get('/_export/:id/:file', async (req, res) => {
    const id = String(req.params.id);
    const job = await ownJob(options.jobs, id, ctxOf(res));
    const file = files.filePath(id, String(req.params.file));
    const size = job.status === JOB_STATUS.done && file && (await files.expiresAt(id)) ? (await stat(file).catch(() => undefined))?.size : undefined;
    if (size === undefined || !file) fail(withText(notFound, `No file ${String(req.params.file)} in export ${id}`));
    res.status(200).type(NDJSON).setHeader('Content-Length', String(size));
    await pipeline(createReadStream(file), res);
  });

  return router;
}

/** The job, if it is an export of this caller (404 otherwise: another caller's job is not shown to exist). */
async function ownJob(jobs: AsyncJobs, id: string, ctx: RequestContext): Promise<NonNullable<Awaited<ReturnType<AsyncJobs['get']>>>> {
  const job = /^[A-Za-z0-9-]{1,64}$/.test(id) ? await jobs.get(id, ctx.actor) : undefined;
  if (!job || job.kind !== JOB_KIND) fail(withText(notFound, `No export ${id}`));
  return job;
}

function agentOf(req: Request, ctx: RequestContext): AccessRecord['agent'] {
  const p = ctx.access.principal;
  const address = p.address ?? req.ip;
  return { subject: p.subject, issuer: p.issuer, role: p.role, ...(p.name ? { name: p.name } : {}), ...(p.client ? { client: p.client } : {}), ...(address ? { address } : {}), ...(ctx.access.patient ? { patient: ctx.access.patient } : {}) };
}

/** The export's one access record: who, the patients and types written, when it finished. */
function exportRecord(agent: AccessRecord['agent'], ctx: RequestContext, requestUrl: string, status: number, result: ExportResult | undefined): AccessRecord {
  const note = result?.morePatients ? ` (the first ${MAX_AUDITED_PATIENTS} patients are named)` : '';
  return {
    time: new Date(),
    requestId: ctx.requestId,
    agent,
    purpose: ctx.purpose,
    ...(ctx.access.breakGlass ? { breakGlass: ctx.access.breakGlass } : {}),
    interaction: 'export',
    action: 'E',
    outcome: status === 200 ? 'success' : 'failed',
    status,
    ...(status !== 200 ? { reason: status === 499 ? 'export cancelled by the client' : `export failed (${status})` } : {}),
    patients: result?.patients ?? [],
    resources: [],
    ...(result ? { resourceCount: result.resourceCount } : {}),
    types: result?.types ?? [],
    query: `${requestUrl}${note}`.slice(0, 2000),
  };
}
