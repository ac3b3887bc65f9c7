import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Config } from './config.ts';
import { createLogger } from './logger.ts';
import { startServices, type Services } from './services.ts';
import { createApp } from './app.ts';
import { startMllpServer, type MllpServer } from '../ingestion/listeners/mllp-server.ts';
import { mllpGate } from './admission.ts';
import { startSecurity, type Security } from './auth/security.ts';

export interface RunningServer {
  url: string;
  services: Services;
  /** The MLLP port, when the listener runs. */
  mllpPort?: number;
  /**
   * Stops gracefully: no new connections or inputs, in-flight requests and ingestion finish
   * (within the grace period; then abandoned cleanly: a stored input stays "received" and is
   * processed at the next start), then the database is closed.
   */
  close: () => Promise<void>;
  /** Token verification and, without an external issuer, the embedded authorisation server. */
  security: Security;
}

/** How long shutdown waits for in-flight requests and ingestion by default. */
export const SHUTDOWN_GRACE_MS = 10_000;

/** Starts services and the HTTP server; PORT 0 picks a free port. */
export async function startServer(config: Config, options: { shutdownGraceMs?: number } = {}): Promise<RunningServer> {
  const graceMs = options.shutdownGraceMs ?? SHUTDOWN_GRACE_MS;
  const logger = createLogger(config.LOG_LEVEL);
  const services = await startServices(config, logger);
  const server: Server = createServer();
  // Idle keep-alive connections stay open longer than the 60 s a proxy or load balancer in front
  // usually keeps its own, and than a client's pause: with Node's 5 s, a client sending on a
  // connection just as the server closes it gets "other side closed" instead of an answer (seen
  // when a request waits out a database restart and the event loop is busy).
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(config.PORT, config.HOST, () => resolve());
    });
  } catch (err) {
    await services.close();
    throw new Error(`cannot listen on ${config.HOST}:${config.PORT}: ${(err as Error).message}`, { cause: err });
  }
  // The base URL is known only once the port is bound (PORT=0 in tests).
  const port = (server.address() as AddressInfo).port;
  const url = (config.IDR_BASE_URL ?? `http://${config.HOST}:${port}`).replace(/\/$/, '');
  let security: Security;
  try {
    security = await startSecurity(services, config, url);
  } catch (err) {
    server.close();
    await services.close();
    throw err;
  }
  server.on('request', createApp(services, url, security));
  let mllp: MllpServer | undefined;
  if (config.IDR_MLLP_PORT !== 'off') {
    try {
      mllp = await startMllpServer({ pipeline: services.pipeline, port: config.IDR_MLLP_PORT, host: config.IDR_MLLP_HOST, allow: config.IDR_MLLP_ALLOW, logger, maxFrameBytes: config.IDR_MLLP_MAX_FRAME_BYTES, gate: mllpGate(services) });
    } catch (err) {
      server.close();
      await services.close();
      throw new Error(`cannot start the MLLP listener on ${config.IDR_MLLP_HOST}:${config.IDR_MLLP_PORT} (set IDR_MLLP_PORT): ${(err as Error).message}`, { cause: err });
    }
  }
  return {
    url,
    services,
    security,
    ...(mllp ? { mllpPort: mllp.port } : {}),
    close: async () => {
      const deadline = Date.now() + graceMs;
      // No new connections; idle keep-alive ones go now, busy ones once their answer is sent.
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      await mllp?.close();
      // Inputs already being processed finish; new ones are refused (stored ones stay "received").
      services.pipeline.stopAccepting();
      const abandoned = await services.pipeline.drain(Math.max(0, deadline - Date.now()));
      if (abandoned) logger.warn({ abandoned }, 'shutdown: inputs still processing were abandoned; they are processed again at the next start');
      // Connections whose answer has gone out are closed as they become idle, until the deadline.
      let done = false;
      void closed.then(() => (done = true));
      while (!done && Date.now() < deadline) {
        server.closeIdleConnections();
        await Promise.race([closed, new Promise((resolve) => setTimeout(resolve, 50))]);
      }
      server.closeAllConnections();
      await closed;
      await security.close();
      await services.close();
    },
  };
}
