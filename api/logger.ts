import type { NextFunction, Request, Response } from 'express';
import { pino, type DestinationStream, type Logger } from 'pino';

/** Structured logger; PHI-bearing fields are redacted wherever they appear in a log object. Logs to stdout unless given a destination. */
export function createLogger(level: string, destination?: DestinationStream): Logger {
  const options = {
    level,
    redact: {
      paths: ['*.name', '*.birthDate', '*.address', '*.telecom', '*.identifier', 'req.headers.authorization', '*.resource', '*.body'],
      censor: '[redacted]',
    },
  };
  return destination ? pino(options, destination) : pino(options);
}

/**
 * One access-log line per request, when its response is finished. The path is the full path as
 * received (`/ingest/hl7v2`, not the `/hl7v2` a mounted router sees) without the query string,
 * which may carry identifiers.
 */
export function accessLog(logger: Logger) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const start = process.hrtime.bigint();
    res.on('finish', () => {
      // A shared case's link is a capability: its secret never goes into the log.
      const path = req.originalUrl.split('?')[0]?.replace(/^\/shared\/[^/]+/, '/shared/{secret}');
      logger.info({ requestId: res.locals.ctx?.requestId, method: req.method, path, status: res.statusCode, ms: Number(process.hrtime.bigint() - start) / 1e6 }, 'request');
    });
    next();
  };
}
