import path from 'node:path';
import { AuditTrail } from '../store/audit-trail.ts';
import type { Logger } from 'pino';
import type { Config } from './config.ts';
import { connectDatabase, type Database } from '../store/db.ts';
import { startEmbeddedDb, type EmbeddedDb } from '../store/embedded-db.ts';
import type { Repository } from '../store/repository.ts';
import { TIMELINE_TASK, TimelineRepository } from '../timeline/repository.ts';
import { DeriveOutbox } from '../store/derive-outbox.ts';
import { TimelineStore } from '../timeline/projection.ts';
import { recoverPendingJournals } from '../store/journal.ts';
import { STORE_SHAPE_VERSION, storedShapeVersion } from '../store/reindex.ts';
import { loadFhirDefinitions } from '../schema/fhir-definitions.ts';
import { Inbox } from '../ingestion/inbox.ts';
import { Pipeline, PipelineClosedError } from '../ingestion/pipeline.ts';
import { publishExtensionDefinitions } from '../ingestion/extension-definitions.ts';
import { defaultAdapters } from '../ingestion/adapter-registry.ts';
import { identifierSystemResolver } from '../ingestion/identifier-systems.ts';
import { IMAGING_LINKS_TASK, linkReportsToImaging } from '../ingestion/imaging/report-links.ts';
import { ImagingLinkIndex } from '../ingestion/imaging/link-index.ts';
import { DicomwebImporter, startDicomwebSchedule } from '../ingestion/listeners/dicomweb-import.ts';
import { AsyncJobs } from './async-jobs.ts';
import { SubscriptionNotifier } from '../fhir/subscription-delivery.ts';
import { guardSubscriptionDelete } from '../fhir/subscriptions.ts';

/** How often inputs waiting for their patient are checked against the patients written since. */
const WAITING_SWEEP_MS = 60_000;

/** How often the background pass re-derives what the derived-data outbox still holds. */
const OUTBOX_INTERVAL_MS = 5_000;

/**
 * After the database came back (or when inputs wait that its absence interrupted): rolls back
 * journals nobody applies any more, then processes the interrupted inputs and, with
 * `receivedBefore`, every input left received before then; a few tries while the driver reconnects.
 */
async function recoverAfterOutage(database: Database, pipeline: Pipeline, receivedBefore: Date | undefined, logger: Logger): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      const journals = await recoverPendingJournals(database.c);
      const reprocessed = (await pipeline.retryInterrupted()) + (receivedBefore ? await pipeline.recoverReceived(receivedBefore) : 0);
      if (journals || reprocessed) logger.warn({ journals, reprocessed }, 'finished what the database outage interrupted');
      return;
    } catch (err) {
      if (err instanceof PipelineClosedError) return;
      if (attempt >= 5) {
        logger.error({ err }, 'recovery after the database outage failed; it runs again at the next start');
        return;
      }
      await new Promise((r) => setTimeout(r, 2_000 * attempt));
    }
  }
}

/** The long-lived parts of a running IDR: database (embedded or external) and repository. */
export interface Services {
  config: Config;
  logger: Logger;
  database: Database;
  repo: Repository;
  pipeline: Pipeline;
  /** The materialised patient timeline (kept in step by the repository and the pipeline). */
  timeline: TimelineStore;
  /** DICOMweb (QIDO-RS) import, on demand and on the optional schedule (IDR_DICOMWEB_URL). */
  dicomweb: DicomwebImporter;
  /** Requests answered asynchronously (Prefer: respond-async), their status kept in the database. */
  asyncJobs: AsyncJobs;
  embedded?: EmbeddedDb;
  /** The MongoDB URL in use (the embedded one when MONGODB_URL is unset). */
  mongoUrl: string;
  /** Derived data (timeline, report <-> study links) still to be re-derived after writes. */
  outbox: DeriveOutbox;
  /** The access audit: records buffered durably, chained into AuditEvents in the background. */
  audit: AuditTrail;
  /** R4 Subscriptions: notifications queued after each committed write, sent in the background. */
  subscriptions: SubscriptionNotifier;
  /** Start-up work running in the background: the derived-data outbox and the inputs left "received". */
  recovery: Promise<void>;
  close: () => Promise<void>;
}

/** Starts the database (FerretDB when MONGODB_URL is unset), connects, and recovers half-applied Bundles. */
export async function startServices(config: Config, logger: Logger): Promise<Services> {
  loadFhirDefinitions();
  let embedded: EmbeddedDb | undefined;
  let mongoUrl = config.MONGODB_URL;
  if (!mongoUrl) {
    embedded = await startEmbeddedDb({ dataDir: path.join(config.IDR_DATA_DIR, 'db'), privateRoot: config.IDR_DATA_DIR, cacheDir: config.IDR_CACHE_DIR, logLevel: config.IDR_DB_LOG_LEVEL, restartBackoffMs: { initial: config.IDR_DB_RESTART_BACKOFF_MS, max: Math.max(config.IDR_DB_RESTART_BACKOFF_MS, config.IDR_DB_RESTART_MAX_BACKOFF_MS) } });
    mongoUrl = embedded.url;
    logger.info({ dataDir: config.IDR_DATA_DIR }, 'embedded database started (FerretDB on PostgreSQL)');
  }
  let database: Database;
  try {
    database = await connectDatabase(mongoUrl, config.IDR_DB_NAME);
  } catch (err) {
    await embedded?.stop();
    throw err;
  }
  const shape = await storedShapeVersion(database);
  if (shape < STORE_SHAPE_VERSION) {
    logger.error({ stored: shape, current: STORE_SHAPE_VERSION }, 'stored documents are of an older shape: searches miss them until "make reindex" (node api/reindex.ts) has run');
  }
  // Journals a dead process left are rolled back in the background (a long one must not keep
  // HTTP and MLLP from listening); ingestion waits for it (below), inputs are stored meanwhile.
  const journalsRecovered = recoverPendingJournals(database.c).then(
    (recovered) => {
      if (recovered) logger.warn({ recovered }, 'rolled back transaction Bundles left half-applied by an earlier process');
    },
    (err: unknown) => logger.error({ err }, 'rolling back the journals of an earlier process failed; it runs again at the next start'),
  );
  const startedAt = new Date();
  const timeline = new TimelineStore(database);
  const audit = new AuditTrail({ database, logger });
  const outbox = new DeriveOutbox(database, { onError: (err, entryId) => logger.warn({ err, entryId }, 're-deriving timeline or links failed; retried later') });
  outbox.register(TIMELINE_TASK, async (refs, written) => {
    await timeline.project(refs, written);
    // Subscription notifications of what was written, queued from the same durable entry.
    await subscriptions.enqueue(refs);
  });
  // Ingestion projects each message's resources at once (outbox hooks below); other writes project as they go.
  const repo: Repository = new TimelineRepository(database, timeline, { defer: (ctx) => ctx.actor === 'system:ingestion', outbox });
  repo.referencePolicy = { externalBases: config.IDR_EXTERNAL_REFERENCE_BASES };
  const subscriptions = new SubscriptionNotifier(
    { database, repo, audit, logger },
    { endpoints: config.IDR_SUBSCRIPTION_ENDPOINTS, timeoutMs: config.IDR_SUBSCRIPTION_TIMEOUT_MS, retries: config.IDR_SUBSCRIPTION_RETRIES, backoffMs: config.IDR_SUBSCRIPTION_BACKOFF_MS, intervalMs: Math.min(1000, Math.max(50, config.IDR_SUBSCRIPTION_BACKOFF_MS)) },
  );
  repo.prepareWrites('Subscription', subscriptions.prepare, (ctx, id) => guardSubscriptionDelete(database, ctx, id));
  repo.onWrite((_ctx, resource) => {
    if (resource.resourceType === 'Subscription') subscriptions.invalidate();
  });
  await publishExtensionDefinitions(repo);
  const inbox = new Inbox(database.db);
  const pipeline = new Pipeline({
    repo,
    inbox,
    adapters: defaultAdapters({
      hl7v2: { defaultTimezone: config.IDR_HL7_TIMEZONE },
      imaging: { repo, defaultTimezone: config.IDR_HL7_TIMEZONE },
      documents: {
        repo,
        maxExtractBytes: config.IDR_DOCUMENT_MAX_EXTRACT_BYTES,
        pdfLimits: { maxPages: config.IDR_PDF_MAX_PAGES, maxInflatedBytes: config.IDR_PDF_MAX_INFLATED_BYTES, timeoutMs: config.IDR_PDF_EXTRACT_TIMEOUT_MS, memoryMb: config.IDR_PDF_EXTRACT_MEMORY_MB },
      },
    }),
    identifierSystem: identifierSystemResolver(config.IDR_IDENTIFIER_SYSTEMS),
    logger,
  });
  pipeline.holdUntil(journalsRecovered);
  // Inputs waiting for a patient are filed when it is written: by the pipeline itself after an
  // ingested message, in the background after any other write (REST, Bundles).
  repo.onWrite((ctx, resource) => {
    if (resource.resourceType !== 'Patient' || ctx.actor === 'system:ingestion') return;
    const identifiers = (resource as { identifier?: { system?: string; value?: string }[] }).identifier?.flatMap((i) => (i.system && i.value ? [`${i.system}|${i.value}`] : [])) ?? [];
    if (identifiers.length) void pipeline.fileWaiting(identifiers).catch((err: unknown) => logger.error({ err }, 'filing inputs waiting for a patient failed; they stay waiting'));
  });
  // Radiology / pathology reports <-> ImagingStudy, whichever arrives second makes the link.
  const imagingLinks = new ImagingLinkIndex(database.db);
  outbox.register(IMAGING_LINKS_TASK, async (refs) => {
    await linkReportsToImaging(repo, imagingLinks, refs);
  });
  // What a message wrote is re-derived from the outbox: recorded before the message is marked
  // processed, run right after, and again in the background until it succeeds.
  const outboxId = (inboxId: string): string => `inbox|${inboxId}`;
  // A group of messages written together (Pipeline.processMany) has one entry, named by its first.
  pipeline.afterCommit(async (written, entries) => {
    await outbox.add({ id: outboxId(entries[0]?._id ?? ''), refs: written, tasks: [TIMELINE_TASK, IMAGING_LINKS_TASK] });
  });
  pipeline.afterWrite(async (_written, entries, resources) => {
    await outbox.run(outboxId(entries[0]?._id ?? ''), undefined, new Map(resources.map((r) => [`${r.resourceType}/${r.id}`, r])));
  });
  // Start-up recovery in the background (HTTP and MLLP listen meanwhile): what the outbox holds
  // from before, then the inputs an earlier process stored but did not process.
  const recovery = (async () => {
    await journalsRecovered;
    const derived = await outbox.processDue({ createdBefore: startedAt });
    if (derived) logger.warn({ derived }, 're-derived timeline events and links left over by an earlier process');
    const reprocessed = await pipeline.recoverReceived(startedAt);
    if (reprocessed) logger.warn({ reprocessed }, 'processed inputs an earlier process had stored but not processed');
    const filed = await pipeline.fileAllWaiting();
    if (filed) logger.warn({ filed }, 'filed waiting inputs whose patient had arrived before an earlier process stopped');
  })().catch((err: unknown) => {
    if (!(err instanceof PipelineClosedError)) logger.error({ err }, 'start-up recovery stopped; it runs again at the next start');
  });
  outbox.start(OUTBOX_INTERVAL_MS);
  // When the embedded database died under a running IDR and is back, what its death interrupted
  // is finished the same way: journals nobody is applying any more rolled back, inputs received
  // before it died and left unprocessed processed (the outbox's own pass retries the rest).
  // Inputs whose processing failed because the database was away are retried the same way.
  let downSince: Date | undefined;
  let outageRecovery = Promise.resolve();
  const recoverLater = (receivedBefore?: Date): void => {
    outageRecovery = outageRecovery.then(() => recoverAfterOutage(database, pipeline, receivedBefore, logger));
  };
  embedded?.onEvent((e) => {
    if (e.state !== 'up') {
      downSince ??= new Date();
      return;
    }
    // A new database process: connect to it afresh first (Database.reconnect).
    const receivedBefore = downSince ?? new Date();
    outageRecovery = outageRecovery.then(() => database.reconnect().catch((err: unknown) => logger.error({ err }, 'reconnecting to the restarted embedded database failed; the driver keeps trying')));
    recoverLater(receivedBefore);
    downSince = undefined;
  });
  let journalCheck = false;
  let startupRecovered = false;
  void recovery.finally(() => {
    startupRecovered = true;
  });
  const retryTimer = setInterval(() => {
    if (downSince) return;
    if (pipeline.interruptedCount) {
      recoverLater();
      return;
    }
    // A journal whose writer gave up while the database was away (its undo could not run) is left
    // pending with nobody applying it: the same pass rolls it back — once start-up recovery is
    // over, so the two never undo the same journal at once.
    if (journalCheck || !startupRecovered) return;
    journalCheck = true;
    void database.c.journal
      .countDocuments({ status: 'pending', startedAt: { $lt: new Date(Date.now() - OUTBOX_INTERVAL_MS) } })
      .then((pending) => void (pending && recoverLater()))
      .catch(() => undefined)
      .finally(() => {
        journalCheck = false;
      });
  }, OUTBOX_INTERVAL_MS);
  retryTimer.unref();
  // Inputs waiting for a patient that was written without filing them (a notice missed: a
  // transaction not committed yet when it fired, an outage) are filed by a pass every minute.
  let waitingSweep = Promise.resolve();
  let sweeping = false;
  const waitingTimer = setInterval(() => {
    if (sweeping || downSince) return;
    sweeping = true;
    waitingSweep = pipeline
      .fileAllWaiting()
      .then((filed) => void (filed && logger.info({ filed }, 'filed waiting inputs whose patient has arrived')))
      .catch((err: unknown) => void (err instanceof PipelineClosedError || logger.error({ err }, 'filing waiting inputs failed; tried again in a minute')))
      .finally(() => {
        sweeping = false;
      });
  }, WAITING_SWEEP_MS);
  waitingTimer.unref();
  const dicomweb = new DicomwebImporter({ pipeline, db: database.db, logger, timeoutMs: config.IDR_DICOMWEB_TIMEOUT_MS, retries: config.IDR_DICOMWEB_RETRIES, backoffMs: config.IDR_DICOMWEB_BACKOFF_MS, sources: config.IDR_DICOMWEB_SOURCES, ...(config.IDR_DICOMWEB_URL ? { defaultUrl: config.IDR_DICOMWEB_URL } : {}) });
  const schedule = config.IDR_DICOMWEB_URL && config.IDR_DICOMWEB_SYNC_MINUTES
    ? startDicomwebSchedule({ importer: dicomweb, url: config.IDR_DICOMWEB_URL, minutes: config.IDR_DICOMWEB_SYNC_MINUTES, logger })
    : undefined;
  audit.start();
  subscriptions.start();
  const asyncJobs = new AsyncJobs(database.db, logger);
  const interrupted = await asyncJobs.recover();
  if (interrupted) logger.warn({ interrupted }, 'asynchronous requests interrupted by the last stop are reported as such');
  return {
    config,
    logger,
    database,
    repo,
    pipeline,
    timeline,
    dicomweb,
    asyncJobs,
    mongoUrl,
    outbox,
    audit,
    subscriptions,
    recovery,
    ...(embedded ? { embedded } : {}),
    close: async () => {
      await schedule?.stop();
      clearInterval(retryTimer);
      clearInterval(waitingTimer);
      pipeline.stopAccepting();
      await asyncJobs.drain();
      await outbox.stop();
      await recovery;
      await outageRecovery;
      await waitingSweep;
      await subscriptions.stop();
      await audit.stop();
      await timeline.summaryReads.settled();
      await database.close();
      await embedded?.stop();
    },
  };
}
