import express, { type Express, type Request } from 'express';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Services } from './services.ts';
import { requestContext } from './http/context.ts';
import { accessLog } from './logger.ts';
import { sendLandingPage, wantsLandingPage, type LandingInfo } from './landing.ts';
import { errorHandler, notFoundHandler } from './http/errors.ts';
import { fhirRouter } from './fhir/routes.ts';
import { exportRouter } from './fhir/export-routes.ts';
import { graphqlHandler } from './graphql/handler.ts';
import { ingestRouter } from './ingest/routes.ts';
import { dicomRouter } from './ingest/dicom-routes.ts';
import { documentRouter } from './ingest/document-routes.ts';
import { admissionQueues, admit } from './admission.ts';
import { logStoreEvents, sendStoreUnavailable, storeDownText, storeGate, storeState, PING_TIMEOUT_MS, STORE_STATE } from './store-status.ts';
import { mergePatients } from '../ingestion/patient-merge.ts';
import helmet from 'helmet';
import cors from 'cors';
import { ipKeyGenerator, rateLimit } from 'express-rate-limit';
import type { Security } from './auth/security.ts';
import { pseudonymKey } from '../store/pseudonym-key.ts';
import { authenticate, requireScope, subjectOf } from './auth/authenticate.ts';
import { accessAudit } from './http/access-audit.ts';
import { sharedCaseRouter } from './http/shared-case.ts';
import { webAppRouter } from './http/web-app.ts';

/** The IDR version from package.json. */
export const VERSION = (JSON.parse(readFileSync(path.resolve(import.meta.dirname, '..', 'package.json'), 'utf8')) as { version: string }).version;

/**
 * Builds the express app over running services; `baseUrl` is the public URL of the server root.
 * Open without a token: the start page, /healthz, /readyz, /fhir/metadata, the SMART and OpenID
 * discovery documents and the authorisation server (/oauth). Everything else needs a bearer token,
 * and every call to /fhir, /graphql and /ingest is audited.
 */
export function createApp(services: Services, baseUrl: string, security: Security): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('query parser', 'simple');
  app.set('env', services.config.NODE_ENV);
  // No automatic body-hash ETags: FHIR reads set W/"versionId" themselves; errors and searches have none.
  app.set('etag', false);
  app.use(requestContext);
  app.use(accessLog(services.logger));
  const development = services.config.NODE_ENV === 'development';
  app.use(helmet({
    // The start page, the login page and (in development) GraphiQL carry inline styles/scripts; nothing loads from elsewhere.
    contentSecurityPolicy: { directives: { 'default-src': ["'self'"], 'style-src': ["'self'", "'unsafe-inline'"], 'script-src': ["'self'", ...(development ? ["'unsafe-inline'"] : [])], 'img-src': ["'self'", 'data:'], 'form-action': ["'self'"], 'upgrade-insecure-requests': null } },
    // Plain-HTTP demo on loopback: HSTS only when served over https.
    strictTransportSecurity: baseUrl.startsWith('https:'),
  }));
  // GraphiQL (development only) runs its editor in blob: workers and loads inline fonts: its page
  // gets a policy that allows them, and only for itself.
  if (development) {
    app.get('/graphql', (req, res, next) => {
      if (req.accepts(['text/html', 'application/json']) === 'text/html') res.setHeader('Content-Security-Policy', "default-src 'self'; script-src 'self' 'unsafe-inline' 'unsafe-eval' blob:; worker-src 'self' blob:; style-src 'self' 'unsafe-inline'; font-src 'self' data:; img-src 'self' data:; connect-src 'self'");
      next();
    });
  }
  if (services.config.IDR_CORS_ORIGINS.length) {
    app.use(cors({ origin: services.config.IDR_CORS_ORIGINS, allowedHeaders: ['Authorization', 'Content-Type', 'Accept', 'Prefer', 'If-Match', 'If-None-Exist', 'If-None-Match', 'X-Request-Id', 'X-IDR-Purpose', 'X-IDR-Break-Glass'], exposedHeaders: ['Location', 'Content-Location', 'ETag', 'Last-Modified', 'X-Request-Id', 'Retry-After', 'WWW-Authenticate'], maxAge: 600 }));
  }
  const landing: LandingInfo = {
    baseUrl,
    version: VERSION,
    graphiql: services.config.NODE_ENV === 'development',
    ...(typeof services.config.IDR_MLLP_PORT === 'number' && services.config.IDR_MLLP_PORT > 0 ? { mllpPort: services.config.IDR_MLLP_PORT } : {}),
  };
  app.get('/', (_req, res) => sendLandingPage(res, landing));
  // SMART App Launch discovery (open). See: https://hl7.org/fhir/smart-app-launch/conformance.html
  app.get(['/fhir/.well-known/smart-configuration', '/.well-known/smart-configuration'], (_req, res) => {
    res.json(security.smartConfiguration());
  });
  if (security.provider) {
    app.use('/oauth', rateLimit({ windowMs: 60_000, limit: 120, standardHeaders: 'draft-8', legacyHeaders: false, message: { error: 'slow_down', error_description: 'Too many requests to the authorisation server: retry in a minute' } }));
    app.use('/oauth', security.provider.handler);
  }
  app.use('/app', webAppRouter({ distDir: path.join(services.config.rootDir, 'web', 'dist'), baseUrl, clientId: services.config.IDR_WEB_CLIENT_ID, timeZone: services.config.IDR_TIMEZONE }));
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
  // A case shared outside the hospital: no token, the link is the capability; every view is audited (api/http/shared-case.ts).
  // A shared link is its own credential: guessing is slowed per address (the secret has 256 bits anyway).
  app.use('/shared', rateLimit({ windowMs: 60_000, limit: 120, standardHeaders: 'draft-8', legacyHeaders: false, message: { error: 'Too many requests for shared cases: retry in a minute' } }));
  app.use('/shared', gate, sharedCaseRouter({ repo: services.repo, audit: services.audit, logger: services.logger, pseudonymKey: () => pseudonymKey(services.database, services.config.IDR_PSEUDONYM_KEY), dicomwebRoots: [...Object.values(services.config.IDR_DICOMWEB_SOURCES), ...(services.config.IDR_DICOMWEB_URL ? [services.config.IDR_DICOMWEB_URL] : [])], timeoutMs: services.config.IDR_DICOMWEB_TIMEOUT_MS }));
  // Audit first (so refusals are recorded too), then the token; the metadata stays open.
  app.use('/fhir', accessAudit(services.audit, services.logger, 'fhir'));
  app.use('/graphql', accessAudit(services.audit, services.logger, 'graphql'));
  app.use('/ingest', accessAudit(services.audit, services.logger, 'ingest'));
  const auth = authenticate({ verifier: security.verifier, database: services.database, roleClaim: services.config.IDR_OIDC_ROLE_CLAIM, discoveryUrl: `${baseUrl}/fhir/.well-known/smart-configuration` });
  app.use('/fhir', (req, res, next) => (req.path === '/metadata' ? next() : auth(req, res, next)));
  // The GraphiQL page itself (development only) holds no data; its queries need a token.
  app.use('/graphql', (req, res, next) => (development && req.method === 'GET' && req.accepts(['text/html', 'application/json']) === 'text/html' ? next() : auth(req, res, next)));
  app.use('/ingest', auth);
  // /ingest is for interface engines and administrators; a document's original may also be read by whoever may read the document (its route checks).
  app.use('/ingest', (req, res, next) => (req.method === 'GET' && /^\/messages\/[^/]+\/raw$/.test(req.path) ? next() : requireScope('idr/ingest', `${req.method} /ingest${req.path}`)(req, res, next)));
  if (services.config.IDR_RATE_LIMIT_PER_MINUTE > 0) {
    const limiter = rateLimit({ windowMs: 60_000, limit: services.config.IDR_RATE_LIMIT_PER_MINUTE, standardHeaders: 'draft-8', legacyHeaders: false, keyGenerator: (req, res) => subjectOf(res) ?? ipKeyGenerator(req.ip ?? 'unknown'), handler: (_req, res) => {
      res.setHeader('Retry-After', '60');
      res.status(429).type('application/fhir+json').send(JSON.stringify({ resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'throttled', details: { text: `More than ${services.config.IDR_RATE_LIMIT_PER_MINUTE} requests in a minute from this client: retry after 60 seconds` } }] }));
    } });
    app.use(['/fhir', '/graphql', '/ingest'], (req, res, next) => (req.path === '/metadata' ? next() : limiter(req, res, next)));
  }
  // Backpressure: ingestion and reads wait in separate bounded queues (api/admission.ts).
  const queues = admissionQueues(services);
  app.use('/ingest', admit(queues.ingestion, (req) => req.method === 'POST'));
  app.use('/ingest', admit(queues.reads, (req) => req.method === 'GET' || req.method === 'HEAD'));
  app.use('/fhir', admit(queues.reads, isFhirRead));
  app.use('/graphql', admit(queues.reads));
  app.use('/fhir', exportRouter({ repo: services.repo, jobs: services.asyncJobs, audit: services.audit, baseUrl: `${baseUrl}/fhir`, dataDir: services.config.IDR_DATA_DIR, expiryHours: services.config.IDR_EXPORT_EXPIRY_HOURS, logger: services.logger, pseudonymKey: () => pseudonymKey(services.database, services.config.IDR_PSEUDONYM_KEY) }));
  app.use('/fhir', fhirRouter({ repo: services.repo, baseUrl: `${baseUrl}/fhir`, version: VERSION, maxBodyBytes: services.config.IDR_MAX_BODY_BYTES, maxBundleEntries: services.config.IDR_BUNDLE_MAX_ENTRIES, timeline: services.timeline, mergePatients: (ctx, source, target) => mergePatients({ repo: services.repo, timeline: services.timeline }, ctx, source, target), asyncJobs: services.asyncJobs, security: securityFor(security, services.config.IDR_CORS_ORIGINS.length > 0), pseudonymKey: () => pseudonymKey(services.database, services.config.IDR_PSEUDONYM_KEY) }));
  app.use('/graphql', graphqlHandler({ repo: services.repo, timeline: services.timeline, development: services.config.NODE_ENV === 'development', logger: services.logger, timeZone: services.config.IDR_TIMEZONE, ...(services.config.IDR_VIEWER_URL_TEMPLATE ? { viewerTemplate: services.config.IDR_VIEWER_URL_TEMPLATE } : {}), limits: { maxCost: services.config.IDR_GRAPHQL_MAX_COST, maxRootFields: services.config.IDR_GRAPHQL_MAX_ROOT_FIELDS, maxAliases: services.config.IDR_GRAPHQL_MAX_ALIASES } }));
  app.use('/ingest', ingestRouter({ pipeline: services.pipeline, maxBodyBytes: services.config.IDR_MAX_BODY_BYTES, maxMessages: services.config.IDR_INGEST_MAX_MESSAGES, logger: services.logger, asyncJobs: services.asyncJobs }));
  app.use('/ingest', dicomRouter({ pipeline: services.pipeline, importer: services.dicomweb, headerBytes: services.config.IDR_DICOM_HEADER_BYTES }));
  app.use('/ingest', documentRouter({ pipeline: services.pipeline, maxBytes: services.config.IDR_DOCUMENT_MAX_BYTES, maxExtractBytes: services.config.IDR_DOCUMENT_MAX_EXTRACT_BYTES }));
  app.use(notFoundHandler);
  app.use(errorHandler(services.logger));
  return app;
}

/** The token endpoints the CapabilityStatement names. */
function securityFor(security: Security, cors: boolean): { tokenEndpoint?: string; authorizeEndpoint?: string; cors: boolean } {
  const smart = security.smartConfiguration();
  return {
    cors,
    ...(typeof smart.token_endpoint === 'string' ? { tokenEndpoint: smart.token_endpoint } : {}),
    ...(typeof smart.authorization_endpoint === 'string' ? { authorizeEndpoint: smart.authorization_endpoint } : {}),
  };
}

/** FHIR reads and searches (GET, and POST [type]/_search), except the CapabilityStatement. */
function isFhirRead(req: Request): boolean {
  if (req.method === 'GET' || req.method === 'HEAD') return req.path !== '/metadata';
  return req.method === 'POST' && /\/_search$/.test(req.path);
}
