import type { NextFunction, Request, Response } from 'express';
import type { OperationOutcome } from '@medplum/fhirtypes';
import type { Config } from './config.ts';
import type { Services } from './services.ts';
import { sendOutcome } from './http/errors.ts';
import { storeAvailable, storeDownText } from './store-status.ts';
import type { MllpGate } from '../ingestion/listeners/mllp-server.ts';

/**
 * Bounded work with a queue in front (backpressure): at most `concurrency` pieces of work run at
 * once, at most `queue` more wait, none waits longer than `maxWaitMs`. Work that finds the queue
 * full, or waits too long, is refused at once with a retry delay, instead of piling up until
 * clients time out (and resend). Ingestion (HTTP /ingest/* and MLLP share one queue) and reads
 * (FHIR reads and searches, GraphQL, the inbox listing) have separate queues, so searches keep
 * answering while ingestion is saturated.
 */

/** Limits of one queue. */
export interface AdmissionLimits {
  concurrency: number;
  queue: number;
  maxWaitMs: number;
}

/** Why work was not admitted. */
export const REFUSAL = { full: 'full', waitedTooLong: 'waited-too-long', gone: 'gone' } as const;
export type Refusal = (typeof REFUSAL)[keyof typeof REFUSAL];

/** The outcome of asking for a slot: a release function, or why there is none. */
export type Admission = { admitted: true; release: () => void } | { admitted: false; why: Refusal };

interface Waiter {
  grant: (a: Admission) => void;
  timer: NodeJS.Timeout;
}

/** One bounded queue: `acquire` a slot, run, `release`. */
export class AdmissionQueue {
  readonly name: string;
  readonly limits: AdmissionLimits;
  private active = 0;
  private readonly waiting: Waiter[] = [];
  /** Moving average of how long admitted work held its slot (ms), for Retry-After. */
  private averageMs = 0;
  /** Counters since start: admitted, refused because full, refused after waiting too long. */
  readonly counts = { admitted: 0, full: 0, waitedTooLong: 0 };

  constructor(name: string, limits: AdmissionLimits) {
    this.name = name;
    this.limits = limits;
  }

  /** Running and waiting work right now. */
  get load(): { active: number; waiting: number } {
    return { active: this.active, waiting: this.waiting.length };
  }

  /** Waits for a slot (bounded by the queue size and `maxWaitMs`); `signal` withdraws the request. */
  acquire(signal?: AbortSignal): Promise<Admission> {
    if (signal?.aborted) return Promise.resolve({ admitted: false, why: REFUSAL.gone });
    if (this.active < this.limits.concurrency) return Promise.resolve(this.grant());
    if (this.waiting.length >= this.limits.queue) {
      this.counts.full++;
      return Promise.resolve({ admitted: false, why: REFUSAL.full });
    }
    return new Promise<Admission>((resolve) => {
      const waiter: Waiter = {
        grant: resolve,
        timer: setTimeout(() => {
          this.drop(waiter);
          this.counts.waitedTooLong++;
          resolve({ admitted: false, why: REFUSAL.waitedTooLong });
        }, this.limits.maxWaitMs),
      };
      signal?.addEventListener(
        'abort',
        () => {
          if (this.drop(waiter)) resolve({ admitted: false, why: REFUSAL.gone });
        },
        { once: true },
      );
      this.waiting.push(waiter);
    });
  }

  /** Seconds a refused client should wait: the time the work ahead of it needs, 1 to 60. */
  retryAfterSeconds(): number {
    const ahead = this.active + this.waiting.length + 1;
    const ms = (this.averageMs || 1000) * (ahead / this.limits.concurrency);
    return Math.min(60, Math.max(1, Math.ceil(ms / 1000)));
  }

  private grant(): Admission {
    this.active++;
    this.counts.admitted++;
    const started = Date.now();
    let released = false;
    return {
      admitted: true,
      release: () => {
        if (released) return;
        released = true;
        this.averageMs = this.averageMs ? this.averageMs * 0.8 + (Date.now() - started) * 0.2 : Date.now() - started;
        this.active--;
        const next = this.waiting.shift();
        if (next) {
          clearTimeout(next.timer);
          next.grant(this.grant());
        }
      },
    };
  }

  private drop(waiter: Waiter): boolean {
    const i = this.waiting.indexOf(waiter);
    if (i < 0) return false;
    this.waiting.splice(i, 1);
    clearTimeout(waiter.timer);
    return true;
  }
}

/** The queues of one running IDR. */
export interface AdmissionQueues {
  ingestion: AdmissionQueue;
  reads: AdmissionQueue;
}

const perServices = new WeakMap<Services, AdmissionQueues>();

/** The queues of a running IDR (made once from its configuration; HTTP and MLLP share them). */
export function admissionQueues(services: Services): AdmissionQueues {
  let queues = perServices.get(services);
  if (!queues) {
    queues = queuesFromConfig(services.config);
    perServices.set(services, queues);
  }
  return queues;
}

/** The queues the configuration asks for (IDR_INGEST_* and IDR_READ_* limits). */
export function queuesFromConfig(config: Pick<Config, 'IDR_INGEST_CONCURRENCY' | 'IDR_INGEST_QUEUE' | 'IDR_READ_CONCURRENCY' | 'IDR_READ_QUEUE' | 'IDR_QUEUE_MAX_WAIT_MS'>): AdmissionQueues {
  return {
    ingestion: new AdmissionQueue('ingestion', { concurrency: config.IDR_INGEST_CONCURRENCY, queue: config.IDR_INGEST_QUEUE, maxWaitMs: config.IDR_QUEUE_MAX_WAIT_MS }),
    reads: new AdmissionQueue('reads', { concurrency: config.IDR_READ_CONCURRENCY, queue: config.IDR_READ_QUEUE, maxWaitMs: config.IDR_QUEUE_MAX_WAIT_MS }),
  };
}

/** The 503 outcome for a refused request, naming the queue and what to do. */
export function busyOutcome(queue: AdmissionQueue, why: Refusal, retryAfter: number): OperationOutcome {
  const reason = why === REFUSAL.full ? `its ${queue.name} queue is full (${queue.limits.queue} waiting)` : `the request waited ${queue.limits.maxWaitMs} ms for one of ${queue.limits.concurrency} ${queue.name} slots`;
  return {
    resourceType: 'OperationOutcome',
    id: 'busy',
    issue: [{ severity: 'error', code: 'transient', details: { text: `IDR is busy: ${reason}. Nothing was done; retry after ${retryAfter} s.` } }],
  };
}

/**
 * Express middleware that runs the rest of the request in a slot of `queue` (released when the
 * response is done or the client goes away: a handler that goes on after its client left, as
 * ingestion does for the message in hand, then runs outside the bound), or answers 503 with
 * Retry-After and an OperationOutcome when the queue refuses it. A client that leaves while
 * waiting gives its place up. `applies` picks the requests it governs.
 */
export function admit(queue: AdmissionQueue, applies: (req: Request) => boolean = () => true) {
  return async (req: Request, res: Response, next: NextFunction): Promise<void> => {
    if (!applies(req)) {
      next();
      return;
    }
    const gone = new AbortController();
    const onClose = (): void => gone.abort();
    res.once('close', onClose);
    const admission = await queue.acquire(gone.signal);
    res.off('close', onClose);
    if (!admission.admitted) {
      if (admission.why === REFUSAL.gone) return;
      const retryAfter = queue.retryAfterSeconds();
      res.setHeader('Retry-After', String(retryAfter));
      sendOutcome(res, busyOutcome(queue, admission.why, retryAfter), 503);
      return;
    }
    if (res.writableFinished || res.destroyed) {
      admission.release();
      return;
    }
    res.once('close', admission.release);
    next();
  };
}

/** The MLLP listener's gate: AR while the store is down, the shared ingestion queue otherwise. */
export function mllpGate(services: Services): MllpGate {
  const queue = admissionQueues(services).ingestion;
  return {
    storeDown: () => (storeAvailable(services) ? undefined : storeDownText(services)),
    admit: async () => {
      const a = await queue.acquire();
      return a.admitted ? a : { admitted: false, retryAfterSeconds: queue.retryAfterSeconds() };
    },
  };
}
