import { loadConfig } from './config.ts';
import { createLogger } from './logger.ts';
import { startServices } from './services.ts';
import { AuditTrail } from '../store/audit-trail.ts';

/**
 * `node api/audit-verify.ts` (make audit-verify): walks the access audit chain from its first
 * AuditEvent and checks every record's content hash and link to the one before. Prints
 * "audit chain intact: N records" (exit 0) or the first broken link (exit 1). Read-only; stop the
 * service first when it uses the embedded database (one process owns its files).
 */
async function main(): Promise<number> {
  const config = loadConfig();
  const logger = createLogger('warn');
  const services = await startServices(config, logger);
  try {
    const trail = new AuditTrail({ database: services.database, logger });
    const result = await trail.verify();
    const buffered = await trail.buffer.countDocuments({});
    const note = buffered ? ` (${buffered} more buffered, chained at the next start)` : '';
    if (result.ok) {
      process.stdout.write(`audit chain intact: ${result.checked} records${note}\n`);
      return 0;
    }
    const b = result.firstBroken;
    process.stdout.write(`audit chain BROKEN at record ${b?.sequence} (AuditEvent/${b?.id}): ${b?.reason}; ${result.checked} records before it are intact${note}\n`);
    return 1;
  } finally {
    await services.close();
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`audit-verify failed: ${(err as Error).message}\n`);
    process.exit(2);
  },
);
