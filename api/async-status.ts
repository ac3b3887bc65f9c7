import type { Request, Response } from 'express';
import { notFound } from '@medplum/core';
import { fail, withText } from '../schema/outcomes.ts';
import { JOB_STATUS, type AsyncJobs } from './async-jobs.ts';
import { ctxOf } from './http/context.ts';

/** True when the client asked for an asynchronous answer. See: https://hl7.org/fhir/R4/async.html */
export function wantsAsync(req: Request): boolean {
  return /(^|[\s,;])respond-async([\s,;]|$)/.test(req.header('prefer') ?? '');
}

/** 202 Accepted with the status URL to poll (Content-Location) and an informational outcome. */
export function sendAccepted(res: Response, statusUrl: string, contentType: string): void {
  res.setHeader('Content-Location', statusUrl);
  res.status(202).type(contentType).send(JSON.stringify({ resourceType: 'OperationOutcome', issue: [{ severity: 'information', code: 'informational', details: { text: `Accepted; poll ${statusUrl} for the result` } }] }));
}

/** GET on a status URL: 202 with progress while the job runs, then the answer the request would have had. */
export async function sendJobStatus(jobs: AsyncJobs, req: Request, res: Response, contentType: string): Promise<void> {
  const job = await jobs.get(String(req.params.id), ctxOf(res).actor);
  if (!job) fail(withText(notFound, `No asynchronous request ${String(req.params.id)}`));
  if (job.status === JOB_STATUS.running) {
    res.setHeader('X-Progress', `${job.progress.done} of ${job.progress.total} done`);
    res.setHeader('Retry-After', '1');
    res.status(202).end();
    return;
  }
  res.status(job.httpStatus ?? 200).type(contentType).send(job.body ?? '{}');
}

/** DELETE on a status URL: forgets a finished job; a running one cannot be stopped half-way (409). */
export async function deleteJob(jobs: AsyncJobs, req: Request, res: Response): Promise<void> {
  const r = await jobs.forget(String(req.params.id), ctxOf(res).actor);
  if (r === 'unknown') fail(withText(notFound, `No asynchronous request ${String(req.params.id)}`));
  if (r === 'running') {
    res.status(409).json({ resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'conflict', details: { text: 'The request is being processed and cannot be stopped half-way; delete it once it is done' } }] });
    return;
  }
  res.status(202).end();
}
