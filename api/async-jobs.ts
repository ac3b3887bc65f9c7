import { randomUUID } from 'node:crypto';
import type { Collection, Db } from 'mongodb';
import type { Logger } from 'pino';
import { getStatus, OperationOutcomeError } from '@medplum/core';
import { COLLECTION_NAMES } from '../schema/collections.ts';

/**
 * Long requests answered asynchronously (`Prefer: respond-async`): a large batch or transaction
 * Bundle, a large HL7 v2 batch. The request is accepted with 202 and a status URL; the work runs
 * in the background; polling the status URL answers 202 with progress while it runs, then the
 * response the request would have had. The status is kept in the database, so a restart does not
 * leave a client polling forever: work that was running when the process stopped is reported as
 * interrupted (its inputs are in the inbox, or its transaction was rolled back at start-up).
 * See: https://hl7.org/fhir/R4/async.html
 */

export const JOB_STATUS = { running: 'running', done: 'done', interrupted: 'interrupted' } as const;
export type JobStatus = (typeof JOB_STATUS)[keyof typeof JOB_STATUS];

export interface AsyncJobDoc {
  _id: string;
  kind: string;
  status: JobStatus;
  createdAt: Date;
  finishedAt?: Date;
  /** Who asked (the request context's actor): only they see the result. */
  actor: string;
  progress: { done: number; total: number };
  /** The HTTP status and body (JSON text) the request answers with, once done. */
  httpStatus?: number;
  body?: string;
}

/** What a job reports as it goes, and what it ends with. */
export interface JobControl {
  progress(done: number, total: number): void;
}

/** Finished jobs are forgotten after this long. */
const KEEP_MS = 24 * 60 * 60 * 1000;

export class AsyncJobs {
  private readonly jobs: Collection<AsyncJobDoc>;
  private readonly logger: Logger | undefined;
  private readonly running = new Set<Promise<void>>();

  constructor(db: Db, logger?: Logger) {
    this.jobs = db.collection<AsyncJobDoc>(COLLECTION_NAMES.asyncJobs);
    this.logger = logger;
  }

  /** At start-up: jobs still running belonged to a process that stopped; old finished ones go. */
  async recover(): Promise<number> {
    const stale = await this.jobs.find({ status: JOB_STATUS.running }, { projection: { _id: 1 } }).toArray();
    const body = JSON.stringify(interruptedOutcome());
    for (const j of stale) await this.jobs.updateOne({ _id: j._id }, { $set: { status: JOB_STATUS.interrupted, finishedAt: new Date(), httpStatus: 500, body } });
    for (const status of [JOB_STATUS.done, JOB_STATUS.interrupted]) {
      const old = await this.jobs.find({ status, finishedAt: { $lt: new Date(Date.now() - KEEP_MS) } }, { projection: { _id: 1 } }).toArray();
      for (const j of old) await this.jobs.deleteOne({ _id: j._id });
    }
    return stale.length;
  }

  /** Starts `work` in the background and returns the job id at once. */
  async start(kind: string, actor: string, total: number, work: (control: JobControl) => Promise<{ status: number; body: unknown }>): Promise<string> {
    const id = randomUUID();
    await this.jobs.insertOne({ _id: id, kind, status: JOB_STATUS.running, createdAt: new Date(), actor, progress: { done: 0, total } });
    let last = 0;
    // The job's status writes go one after the other: the embedded store applies an update by
    // rewriting the document, so a progress write racing the final one could undo it.
    let writes: Promise<unknown> = Promise.resolve();
    const control: JobControl = {
      progress: (done, all) => {
        // At most one status write a second: progress is for people polling, not a log.
        if (Date.now() - last < 1000 && done < all) return;
        last = Date.now();
        writes = writes.then(() => this.jobs.updateOne({ _id: id, status: JOB_STATUS.running }, { $set: { progress: { done, total: all } } })).catch(() => undefined);
      },
    };
    const run = (async () => {
      let outcome: { status: number; body: unknown };
      try {
        outcome = await work(control);
      } catch (err) {
        if (err instanceof OperationOutcomeError) {
          outcome = { status: getStatus(err.outcome), body: err.outcome };
        } else {
          this.logger?.error({ err, job: id }, 'asynchronous request failed');
          outcome = { status: 500, body: { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'exception', details: { text: `The request failed (job ${id}); see the server log.` } }] } };
        }
      }
      await writes;
      await this.jobs.updateOne({ _id: id }, { $set: { status: JOB_STATUS.done, finishedAt: new Date(), httpStatus: outcome.status, body: JSON.stringify(outcome.body), progress: { done: total, total } } });
    })();
    const tracked = run.catch((err: unknown) => this.logger?.error({ err, job: id }, 'could not record the result of an asynchronous request'));
    this.running.add(tracked);
    void tracked.finally(() => this.running.delete(tracked));
    return id;
  }

  /** The job, if it exists and belongs to `actor`. */
  async get(id: string, actor: string): Promise<AsyncJobDoc | undefined> {
    const job = await this.jobs.findOne({ _id: id });
    return job && job.actor === actor ? job : undefined;
  }

  /** Forgets a finished job (DELETE on its status URL); a running one cannot be stopped half-way. */
  async forget(id: string, actor: string): Promise<'deleted' | 'running' | 'unknown'> {
    const job = await this.get(id, actor);
    if (!job) return 'unknown';
    if (job.status === JOB_STATUS.running) return 'running';
    await this.jobs.deleteOne({ _id: id });
    return 'deleted';
  }

  /** Waits for the jobs of this process to finish (graceful shutdown, tests). */
  async drain(): Promise<void> {
    await Promise.all([...this.running]);
  }
}

function interruptedOutcome(): unknown {
  return {
    resourceType: 'OperationOutcome',
    issue: [{ severity: 'error', code: 'incomplete', details: { text: 'The service stopped while this request was being processed. Inputs received are kept in the inbox (reprocess them); a transaction Bundle was rolled back: send it again.' } }],
  };
}
