import path from 'node:path';
import { z } from 'zod';

/**
 * IDR's configuration: parsed once at start-up from the environment, then passed explicitly.
 * A bad value stops start-up with a message naming the variable.
 */

const ROOT = path.resolve(import.meta.dirname, '..');

/** True for a time zone this Node.js knows (IANA names such as Europe/Amsterdam). */
function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

const schema = z.object({
  PORT: z.coerce.number().int().min(0).max(65535).default(8080),
  HOST: z.string().default('127.0.0.1'),
  /** A MongoDB connection string; unset = start the embedded FerretDB. */
  MONGODB_URL: z.string().regex(/^mongodb(\+srv)?:\/\//, 'must start with mongodb:// or mongodb+srv://').optional(),
  IDR_DB_NAME: z.string().regex(/^[A-Za-z0-9_-]{1,60}$/, 'letters, digits, _ and - only').default('idr'),
  IDR_DATA_DIR: z.string().default(path.join(ROOT, 'data')),
  /** Where scripts/bootstrap.sh installs Node, and builds the embedded database launcher (bin/ferretdb). */
  IDR_CACHE_DIR: z.string().default(path.join(ROOT, '.cache')),
  /** Log level of the embedded database launcher (IDR_DATA_DIR/db/launcher.log; its PostgreSQL logs to IDR_DATA_DIR/db/postgresql.log). */
  IDR_DB_LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error']).default('error'),
  /** The embedded database is started again when its process dies: first after this delay, doubling up to IDR_DB_RESTART_MAX_BACKOFF_MS. */
  IDR_DB_RESTART_BACKOFF_MS: z.coerce.number().int().positive().default(250),
  IDR_DB_RESTART_MAX_BACKOFF_MS: z.coerce.number().int().positive().default(10_000),
  /** The public base URL used in links (defaults to http://HOST:PORT). */
  IDR_BASE_URL: z.url().optional(),
  IDR_MAX_BODY_BYTES: z.coerce.number().int().positive().default(25 * 1024 * 1024),
  /** MLLP listener port for HL7 v2 (0 = a free port; "off" = no listener). */
  IDR_MLLP_PORT: z.union([z.literal('off'), z.coerce.number().int().min(0).max(65535)]).default(2575),
  /** Site-specific assigning authority -> identifier system URIs, as JSON: {"UMCX":"https://…"}. */
  IDR_IDENTIFIER_SYSTEMS: z
    .string()
    .default('{}')
    .transform((s, ctx) => {
      try {
        return z.record(z.string(), z.string().min(1)).parse(JSON.parse(s));
      } catch {
        ctx.addIssue({ code: 'custom', message: 'must be a JSON object of strings, e.g. {"UMCX":"https://hospital.example/mrn"}' });
        return z.NEVER;
      }
    }),
  /** Absolute FHIR base URLs (comma-separated) that references may point to outside IDR; none by default, so every reference must resolve in IDR. */
  IDR_EXTERNAL_REFERENCE_BASES: z
    .string()
    .default('')
    .transform((s) => s.split(',').map((b) => b.trim()).filter(Boolean).map((b) => (b.endsWith('/') ? b : `${b}/`)))
    .pipe(z.array(z.url({ protocol: /^https?$/ }))),
  /** The hospital's time zone: GraphQL answers date-times in it (with their offset). */
  IDR_TIMEZONE: z.string().refine(isTimeZone, 'must be an IANA time zone, e.g. Europe/Amsterdam').default('Europe/Amsterdam'),
  /** Time zone for HL7 v2 times sent without an offset. */
  IDR_HL7_TIMEZONE: z.string().default('Europe/Amsterdam'),
  /** The secret key (base64, at least 16 bytes) of the pseudonyms in de-identified exports; unset = generated once and kept in the database. */
  IDR_PSEUDONYM_KEY: z.string().refine((v) => Buffer.from(v, 'base64').length >= 16, 'base64 of at least 16 bytes').optional(),
  /** A web viewer for imaging studies, `{studyUid}` standing for the StudyInstanceUID (e.g. an OHIF or the PACS's own viewer); unset = no viewer links. */
  IDR_VIEWER_URL_TEMPLATE: z.string().regex(/^https?:\/\/\S*\{studyUid\}\S*$/, 'an http(s) URL containing {studyUid}, e.g. https://pacs.example/viewer?StudyInstanceUIDs={studyUid}').optional(),
  /** A DICOMweb root (PACS) to import from on a schedule; unset = no schedule. */
  IDR_DICOMWEB_URL: z.url({ protocol: /^https?$/ }).optional(),
  /** Minutes between scheduled incremental DICOMweb imports (needs IDR_DICOMWEB_URL). */
  IDR_DICOMWEB_SYNC_MINUTES: z.coerce.number().positive().optional(),
  /** Per-request timeout and retries of the DICOMweb (QIDO-RS) client. */
  IDR_DICOMWEB_TIMEOUT_MS: z.coerce.number().int().positive().default(10_000),
  IDR_DICOMWEB_RETRIES: z.coerce.number().int().min(0).max(10).default(3),
  IDR_DICOMWEB_BACKOFF_MS: z.coerce.number().int().min(0).default(200),
  /** URL prefixes a Subscription's rest-hook endpoint must fall under (comma-separated); none by default: no rest-hook is allowed. */
  IDR_SUBSCRIPTION_ENDPOINTS: z
    .string()
    .default('')
    .transform((s) => s.split(',').map((b) => b.trim()).filter(Boolean))
    .pipe(z.array(z.url({ protocol: /^https?$/ }))),
  /** Per-notification timeout, retries after a failed one (then the Subscription is set to error), and the first retry delay (doubling). */
  IDR_SUBSCRIPTION_TIMEOUT_MS: z.coerce.number().int().positive().default(10_000),
  IDR_SUBSCRIPTION_RETRIES: z.coerce.number().int().min(0).max(20).default(5),
  IDR_SUBSCRIPTION_BACKOFF_MS: z.coerce.number().int().min(0).default(1000),
  /** POST /ingest/dicom keeps at most this many leading bytes of a file (the header; pixels are never stored). */
  IDR_DICOM_HEADER_BYTES: z.coerce.number().int().min(1024).default(4 * 1024 * 1024),
  /** Largest document POST /ingest/documents accepts (streamed to the inbox). */
  IDR_DOCUMENT_MAX_BYTES: z.coerce.number().int().positive().default(512 * 1024 * 1024),
  /** Largest document whose text is extracted; larger ones are kept as failed with the reason. */
  IDR_DOCUMENT_MAX_EXTRACT_BYTES: z.coerce.number().int().positive().default(32 * 1024 * 1024),
  /** PDFs with more pages are kept without extracted text (the reason is recorded). */
  IDR_PDF_MAX_PAGES: z.coerce.number().int().positive().default(2000),
  /** Most bytes a PDF's non-image streams may inflate to before its text is read; above it the PDF is kept without text. */
  IDR_PDF_MAX_INFLATED_BYTES: z.coerce.number().int().positive().default(64 * 1024 * 1024),
  /** Longest a PDF's text extraction may run (in a worker thread that is then stopped). */
  IDR_PDF_EXTRACT_TIMEOUT_MS: z.coerce.number().int().positive().default(30_000),
  /** Heap of the PDF text-extraction worker thread (MB); a PDF needing more is kept without text. */
  IDR_PDF_EXTRACT_MEMORY_MB: z.coerce.number().int().min(32).default(512),
  /** Most messages one POST /ingest/hl7v2 may hold (413 above it). */
  IDR_INGEST_MAX_MESSAGES: z.coerce.number().int().positive().default(100),
  /** Most entries one batch or transaction Bundle may hold (413 above it). */
  IDR_BUNDLE_MAX_ENTRIES: z.coerce.number().int().positive().default(1000),
  /** Hours a finished bulk export's files (IDR_DATA_DIR/exports) are kept before they are removed. */
  IDR_EXPORT_EXPIRY_HOURS: z.coerce.number().positive().max(720).default(24),
  /** Largest MLLP frame (bytes); a larger one is answered AR naming the limit, and not stored. */
  IDR_MLLP_MAX_FRAME_BYTES: z.coerce.number().int().min(1024).default(16 * 1024 * 1024),
  /** GraphQL: most estimated cost, most root fields and most aliased fields of one operation. */
  IDR_GRAPHQL_MAX_COST: z.coerce.number().int().positive().default(50_000),
  IDR_GRAPHQL_MAX_ROOT_FIELDS: z.coerce.number().int().positive().default(10),
  IDR_GRAPHQL_MAX_ALIASES: z.coerce.number().int().min(0).default(30),
  /** Ingestion (HTTP /ingest/* POSTs and MLLP frames together): at most this many at once; more wait in a queue. */
  IDR_INGEST_CONCURRENCY: z.coerce.number().int().positive().default(2),
  /** Ingestion requests that may wait for a slot; beyond it 503 + Retry-After (HTTP) or AR "busy, resend" (MLLP). */
  IDR_INGEST_QUEUE: z.coerce.number().int().min(0).default(32),
  /** Reads (FHIR reads and searches, GraphQL, the inbox listing): at most this many at once, separately from ingestion. */
  IDR_READ_CONCURRENCY: z.coerce.number().int().positive().default(4),
  /** Reads that may wait for a slot; beyond it 503 + Retry-After. */
  IDR_READ_QUEUE: z.coerce.number().int().min(0).default(64),
  /** Longest any request waits in a queue before it is answered 503 + Retry-After (or AR over MLLP). */
  IDR_QUEUE_MAX_WAIT_MS: z.coerce.number().int().positive().default(10_000),
  // ── Security (authentication, authorisation, audit, hardening) ─────────────────────────────
  /** An external OpenID Connect issuer (Keycloak, Entra ID…) whose bearer tokens IDR accepts; unset = IDR's embedded provider at /oauth. */
  IDR_OIDC_ISSUER: z.url({ protocol: /^https?$/ }).optional(),
  /** The audience ("aud") IDR's tokens must carry; default: the FHIR base URL (IDR_BASE_URL/fhir). */
  IDR_OIDC_AUDIENCE: z.string().min(1).optional(),
  /** Where in an external issuer's token the IDR role is (dot path; a string or an array of strings), e.g. realm_access.roles. */
  IDR_OIDC_ROLE_CLAIM: z.string().regex(/^[\w-]+(\.[\w-]+)*$/, 'a dot path such as realm_access.roles').default('idr_role'),
  /** Demo accounts in the embedded provider: the users per role and one confidential client with every system scope (make demo and tests only). */
  IDR_DEMO_AUTH: z.stringbool().default(false),
  IDR_DEMO_CLIENT_ID: z.string().regex(/^[\w.-]{3,64}$/, 'letters, digits, _ . - (3-64)').default('idr-demo-client'),
  IDR_DEMO_CLIENT_SECRET: z.string().min(12, 'at least 12 characters').default('idr-demo-client-secret'),
  /** The OAuth client id of the web page at /app/: the embedded provider always registers it (public client, PKCE); with IDR_OIDC_ISSUER, the client registered there for it. */
  IDR_WEB_CLIENT_ID: z.string().regex(/^[\w.:-]{3,128}$/, 'letters, digits, _ . : - (3-128)').default('idr-web'),
  /** Clients registered in the embedded provider (systems such as ML pipelines and interface engines): a JSON file, see docs/security.md. */
  IDR_AUTH_CLIENTS_FILE: z.string().optional(),
  /** Lifetime of access tokens the embedded provider issues. */
  IDR_TOKEN_TTL_SECONDS: z.coerce.number().int().min(60).max(86_400).default(3600),
  /** Origins allowed to call IDR from a browser (comma-separated); none by default (no CORS headers). */
  IDR_CORS_ORIGINS: z
    .string()
    .default('')
    .transform((s) => s.split(',').map((o) => o.trim()).filter(Boolean))
    .pipe(z.array(z.url({ protocol: /^https?$/ }))),
  /** Requests per minute one client (token subject, else address) may make; 0 = no limit. */
  IDR_RATE_LIMIT_PER_MINUTE: z.coerce.number().int().min(0).default(3000),
  /** PACS (DICOMweb roots) that POST /ingest/dicomweb may import from, as JSON {"name":"https://pacs/dicom-web"}; IDR_DICOMWEB_URL is always allowed, under the name "default". */
  IDR_DICOMWEB_SOURCES: z
    .string()
    .default('{}')
    .transform((s, ctx) => {
      try {
        return z.record(z.string().regex(/^[\w.-]{1,64}$/), z.url({ protocol: /^https?$/ })).parse(JSON.parse(s));
      } catch {
        ctx.addIssue({ code: 'custom', message: 'must be a JSON object of names to http(s) URLs, e.g. {"pacs":"https://pacs.hospital.example/dicom-web"}' });
        return z.NEVER;
      }
    }),
  /** MLLP listens on this address; loopback by default (production puts it behind TLS / a VPN). */
  IDR_MLLP_HOST: z.string().default('127.0.0.1'),
  /** Addresses allowed to send over MLLP (comma-separated); empty = any that can reach IDR_MLLP_HOST. */
  IDR_MLLP_ALLOW: z
    .string()
    .default('')
    .transform((s) => s.split(',').map((a) => a.trim()).filter(Boolean)),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** `production` unless told otherwise: GraphiQL and unmasked GraphQL errors only in `development` (make demo). */
  NODE_ENV: z.enum(['development', 'production', 'test']).default('production'),
});

export type Config = z.infer<typeof schema> & { rootDir: string };

/** Parses the environment into a Config or throws an Error naming every bad variable. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const picked = Object.fromEntries(Object.keys(schema.shape).map((k) => [k, env[k] === '' ? undefined : env[k]]));
  const parsed = schema.safeParse(picked);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message} (got ${JSON.stringify(picked[String(i.path[0])])})`);
    throw new Error(`Invalid configuration:\n${lines.join('\n')}`);
  }
  return { ...parsed.data, rootDir: ROOT };
}
