import path from 'node:path';
import type { Logger } from 'pino';
import type { Config } from './config.ts';
import { connectDatabase, type Database } from '../schema/db.ts';
import { startEmbeddedDb, type EmbeddedDb } from '../schema/embedded-db.ts';
import { Repository } from '../schema/repository.ts';
import { recoverPendingJournals } from '../schema/journal.ts';
import { loadFhirDefinitions } from '../schema/fhir-definitions.ts';
import { Inbox } from '../schema/inbox.ts';
import { Pipeline } from '../ingestion/pipeline.ts';
import { defaultAdapters } from '../ingestion/adapter-registry.ts';
import { identifierSystemResolver } from '../ingestion/identifier-systems.ts';

/** The long-lived parts of a running IDR: database (embedded or external) and repository. */
export interface Services {
  config: Config;
  logger: Logger;
  database: Database;
  repo: Repository;
  pipeline: Pipeline;
  embedded?: EmbeddedDb;
  /** The MongoDB URL in use (the embedded one when MONGODB_URL is unset). */
  mongoUrl: string;
  close: () => Promise<void>;
}

/** Starts the database (FerretDB when MONGODB_URL is unset), connects, and recovers half-applied Bundles. */
export async function startServices(config: Config, logger: Logger): Promise<Services> {
  loadFhirDefinitions();
  let embedded: EmbeddedDb | undefined;
  let mongoUrl = config.MONGODB_URL;
  if (!mongoUrl) {
    embedded = await startEmbeddedDb({ dataDir: path.join(config.IDR_DATA_DIR, 'ferretdb') });
    mongoUrl = embedded.url;
    logger.info({ dataDir: config.IDR_DATA_DIR }, 'embedded FerretDB started');
  }
  let database: Database;
  try {
    database = await connectDatabase(mongoUrl, config.IDR_DB_NAME);
  } catch (err) {
    await embedded?.stop();
    throw err;
  }
  const recovered = await recoverPendingJournals(database.c);
  if (recovered) logger.warn({ recovered }, 'rolled back transaction Bundles left half-applied by an earlier process');
  const repo = new Repository(database);
  const inbox = new Inbox(database.db);
  await inbox.ensureIndexes();
  const pipeline = new Pipeline({
    repo,
    inbox,
    adapters: defaultAdapters({ hl7v2: { defaultTimezone: config.IDR_HL7_TIMEZONE } }),
    identifierSystem: identifierSystemResolver(config.IDR_IDENTIFIER_SYSTEMS),
    logger,
  });
  return {
    config,
    logger,
    database,
    repo,
    pipeline,
    mongoUrl,
    ...(embedded ? { embedded } : {}),
    close: async () => {
      await database.close();
      await embedded?.stop();
    },
  };
}
