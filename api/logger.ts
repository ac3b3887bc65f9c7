import { pino, type Logger } from 'pino';

/** Structured logger; PHI-bearing fields are redacted wherever they appear in a log object. */
export function createLogger(level: string): Logger {
  return pino({
    level,
    redact: {
      paths: ['*.name', '*.birthDate', '*.address', '*.telecom', '*.identifier', 'req.headers.authorization', '*.resource', '*.body'],
      censor: '[redacted]',
    },
  });
}
