import type { NextFunction, Request, Response } from 'express';
import type { Services } from './services.ts';
import { EMBEDDED_DB_STATE } from '../store/embedded-db.ts';
import { pingDatabase } from '../store/db.ts';
import { unavailable } from '../schema/outcomes.ts';
import { sendOutcome } from './http/errors.ts';

/**
 * What IDR knows about its store, for /healthz, /readyz, HTTP and MLLP: the embedded database's
 * supervisor state (up, or restarting after its process died), and for any store whether it
 * answers a ping. While the embedded database restarts, requests that need the store are answered
 * 503 with Retry-After at once (MLLP: AR "not stored, resend") instead of waiting for the
 * driver's timeout and failing with 500.
 */

/** The store as /healthz reports it. */
export const STORE_STATE = { up: 'up', restarting: 'restarting', stopped: 'stopped', unreachable: 'unreachable' } as const;
export type StoreState = (typeof STORE_STATE)[keyof typeof STORE_STATE];

/** Seconds a client is asked to wait while the store is unavailable. */
export const STORE_RETRY_AFTER_SECONDS = 5;

/** How long /readyz waits for a ping; /healthz (a liveness probe, always 200) waits less. */
export const PING_TIMEOUT_MS = { ready: 2000, health: 500 } as const;

const logged = new WeakSet<Services>();

/** Logs the embedded database's restarts (once per running IDR). */
export function logStoreEvents(services: Services): void {
  if (!services.embedded || logged.has(services)) return;
  logged.add(services);
  const { logger } = services;
  services.embedded.onEvent((e) => {
    if (e.state === EMBEDDED_DB_STATE.up) logger.warn({ restarts: e.restarts, reason: e.reason }, 'embedded database is up again');
    else logger.error({ state: e.state, restarts: e.restarts, reason: e.reason, retryInMs: e.retryInMs }, 'embedded database is down; restarting it');
  });
}

/** False while the embedded database is down (restarting or stopped); an external store counts as available (its errors answer 503). */
export function storeAvailable(services: Services): boolean {
  return !services.embedded || services.embedded.state === EMBEDDED_DB_STATE.up;
}

/** The store's state: the supervisor's when the embedded database is down, else whether it answers a ping within `timeoutMs`. */
export async function storeState(services: Services, timeoutMs: number = PING_TIMEOUT_MS.ready): Promise<StoreState> {
  if (services.embedded && services.embedded.state !== EMBEDDED_DB_STATE.up) return services.embedded.state;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), timeoutMs);
  });
  const ok = await Promise.race([pingDatabase(services.database), timeout]);
  clearTimeout(timer);
  return ok ? STORE_STATE.up : STORE_STATE.unreachable;
}

/** The text of a 503 / AR while the store is down. */
export function storeDownText(services: Services): string {
  return services.embedded && services.embedded.state === EMBEDDED_DB_STATE.restarting
    ? 'The database is restarting after its process stopped; nothing was done: retry shortly'
    : 'The database is not available; nothing was done: retry later';
}

/** Sends 503 with Retry-After and an OperationOutcome saying the store is unavailable. */
export function sendStoreUnavailable(res: Response, text: string): void {
  res.setHeader('Retry-After', String(STORE_RETRY_AFTER_SECONDS));
  sendOutcome(res, unavailable(text), 503);
}

/** Express middleware: 503 + Retry-After at once while the embedded database is down. */
export function storeGate(services: Services) {
  return (_req: Request, res: Response, next: NextFunction): void => {
    if (storeAvailable(services)) next();
    else sendStoreUnavailable(res, storeDownText(services));
  };
}
