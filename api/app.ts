import express, { type Express, type Request } from 'express';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Services } from './services.ts';
import { requestContext } from './http/context.ts';
import { accessLog } from './logger.ts';
import { sendLandingPage, wantsLandingPage, type LandingInfo } from './landing.ts';
import { errorHandler, notFoundHandler } from './http/errors.ts';
import { fhirRouter } from './fhir/routes.ts';
import { graphqlHandler } from './graphql/handler.ts';
import { ingestRouter } from './ingest/routes.ts';
import { dicomRouter } from './ingest/dicom-routes.ts';
import { documentRouter } from './ingest/document-routes.ts';
import { admissionQueues, admit } from './admission.ts';
import { logStoreEvents, sendStoreUnavailable, storeDownText, storeGate, storeState, PING_TIMEOUT_MS, STORE_STATE } from './store-status.ts';
import { mergePatients } from '../ingestion/patient-merge.ts';

/** The IDR version from package.json. */
export const VERSION = (JSON.parse(readFileSync(path.resolve(import.meta.dirname, '..', 'package.json'), 'utf8')) as { version: string }).version;

/** Builds the express app over running services; `baseUrl` is the public URL of the server root. */
export function createApp(services: Services, baseUrl: string): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('query parser', 'simple');
  app.set('env', services.config.NODE_ENV);
  // No automatic body-hash ETags: FHIR reads set W/"versionId" themselves; errors and searches have none.
  app.set('etag', false);
  app.use(requestContext);
  app.use(accessLog(services.logger));
  const landing: LandingInfo = {
    baseUrl,
    version: VERSION,
    graphiql: services.config.NODE_ENV === 'development',
    ...(typeof services.config.IDR_MLLP_PORT === 'number' && services.config.IDR_MLLP_PORT > 0 ? { mllpPort: services.config.IDR_MLLP_PORT } : {}),
  };
  app.get('/', (_req, res) => sendLandingPage(res, landing));
  app.get('/fhir', (req, res, next) => (wantsLandingPage(req) ? sendLandingPage(res, landing) : next()));
  // /healthz: the process is up (always 200); its body says whether the store is (up, restarting, stopped, unreachable).
  app.get('/healthz', async (_req, res) => {
    const database = await storeState(services, PING_TIMEOUT_MS.health);
    res.json({ status: 'ok', version: VERSION, database, ...(services.embedded ? { databaseRestarts: services.embedded.restarts } : {}) });
  });
  // /readyz: 200 only when the store answers; 503 with Retry-After otherwise.
  app.get('/readyz', async (_req, res) => {
    const database = await storeState(services);
    if (database === STORE_STATE.up) res.json({ status: 'ready', database: 'reachable' });
    else sendStoreUnavailable(res, database === STORE_STATE.unreachable ? 'The database is not reachable' : storeDownText(services));
  });
  logStoreEvents(services);
  // While the embedded database restarts, calls that need it are answered 503 at once.
  const gate = storeGate(services);
  app.use(['/fhir', '/graphql', '/ingest'], (req, res, next) => (req.path === '/metadata' ? next() : gate(req, res, next)));
  // Backpressure: ingestion and reads wait in separate bounded queues (api/admission.ts).
  const queues = admissionQueues(services);
  app.use('/ingest', admit(queues.ingestion, (req) => req.method === 'POST'));
  app.use('/ingest', admit(queues.reads, (req) => req.method === 'GET' || req.method === 'HEAD'));
  app.use('/fhir', admit(queues.reads, isFhirRead));
  app.use('/graphql', admit(queues.reads));
  app.use('/fhir', fhirRouter({ repo: services.repo, baseUrl: `${baseUrl}/fhir`, version: VERSION, maxBodyBytes: services.config.IDR_MAX_BODY_BYTES, maxBundleEntries: services.config.IDR_BUNDLE_MAX_ENTRIES, timeline: services.timeline, mergePatients: (ctx, source, target) => mergePatients({ repo: services.repo, timeline: services.timeline }, ctx, source, target), asyncJobs: services.asyncJobs }));
  app.use('/graphql', graphqlHandler({ repo: services.repo, timeline: services.timeline, development: services.config.NODE_ENV === 'development', logger: services.logger, timeZone: services.config.IDR_TIMEZONE, limits: { maxCost: services.config.IDR_GRAPHQL_MAX_COST, maxRootFields: services.config.IDR_GRAPHQL_MAX_ROOT_FIELDS, maxAliases: services.config.IDR_GRAPHQL_MAX_ALIASES } }));
  app.use('/ingest', ingestRouter({ pipeline: services.pipeline, maxBodyBytes: services.config.IDR_MAX_BODY_BYTES, maxMessages: services.config.IDR_INGEST_MAX_MESSAGES, logger: services.logger, asyncJobs: services.asyncJobs }));
  app.use('/ingest', dicomRouter({ pipeline: services.pipeline, importer: services.dicomweb, headerBytes: services.config.IDR_DICOM_HEADER_BYTES }));
  app.use('/ingest', documentRouter({ pipeline: services.pipeline, maxBytes: services.config.IDR_DOCUMENT_MAX_BYTES, maxExtractBytes: services.config.IDR_DOCUMENT_MAX_EXTRACT_BYTES }));
  app.use(notFoundHandler);
  app.use(errorHandler(services.logger));
  return app;
}

/** FHIR reads and searches (GET, and POST [type]/_search), except the CapabilityStatement. */
function isFhirRead(req: Request): boolean {
  if (req.method === 'GET' || req.method === 'HEAD') return req.path !== '/metadata';
  return req.method === 'POST' && /\/_search$/.test(req.path);
}
