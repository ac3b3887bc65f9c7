/**
 * A small DICOMweb QIDO-RS client (PS3.18 §10.6) over the global fetch.
 *
 * - Every request asks for `application/dicom+json` and carries the attributes an ImagingStudy
 *   needs as `includefield` (see STUDY_INCLUDE_FIELDS / SERIES_INCLUDE_FIELDS).
 * - Transient failures are retried with exponential backoff: network errors (refused, reset,
 *   DNS), per-attempt timeouts (AbortSignal.timeout), HTTP 5xx and 429. Other 4xx are not
 *   retried. A 2xx whose body is not a JSON array of DICOM JSON datasets is a
 *   `malformed` error and is not retried (a server that answers garbage keeps doing so).
 * - Whatever goes wrong ends in one `DicomWebError` that names the URL, the status or cause,
 *   and the number of attempts. Nothing is returned half-parsed: a call yields every dataset of
 *   the response or throws.
 */
import {
  dicomJsonDatasetProblem,
  type DicomJsonDataset,
} from './dicomweb-client-json.ts';

export * from './dicomweb-client-json.ts';

export type DicomWebErrorKind = 'network' | 'timeout' | 'http' | 'malformed' | 'aborted' | 'invalid-request';

export class DicomWebError extends Error {
  readonly kind: DicomWebErrorKind;
  /** The request URL (credentials removed). */
  readonly url: string;
  /** HTTP status of the last answer, when there was one. */
  readonly status: number | undefined;
  /** Requests made (0 when the request was refused before sending). */
  readonly attempts: number;
  /** Whether the failure was of a retryable kind (and retries were exhausted). */
  readonly transient: boolean;
  constructor(
    message: string,
    details: { kind: DicomWebErrorKind; url: string; status?: number; attempts: number; transient?: boolean; cause?: unknown },
  ) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'DicomWebError';
    this.kind = details.kind;
    this.url = details.url;
    this.status = details.status;
    this.attempts = details.attempts;
    this.transient = details.transient ?? false;
  }
}

export interface DicomWebClientOptions {
  /** The DICOMweb root, e.g. http://pacs:8042/dicom-web (QIDO-RS and WADO-RS live under it). */
  baseUrl: string;
  /** Per-attempt timeout, covering the whole answer including its body (default 10 000 ms). */
  timeoutMs?: number;
  /** Retries after the first attempt (default 3, so at most 4 requests). */
  retries?: number;
  /** First backoff delay; doubled on every retry (default 200 ms). */
  backoffMs?: number;
  /** Upper bound of one backoff delay, also for a server's Retry-After (default 5 000 ms). */
  maxBackoffMs?: number;
  /** Extra request headers, e.g. Authorization. */
  headers?: Record<string, string>;
  /** The fetch to use (default: the global fetch). */
  fetch?: typeof globalThis.fetch;
  /** Called before each retry, e.g. to log it. */
  onRetry?: (info: RetryInfo) => void;
}

export interface RetryInfo {
  url: string;
  /** The attempt that failed (1-based). */
  attempt: number;
  /** Delay before the next attempt. */
  delayMs: number;
  /** Why the attempt failed, e.g. "HTTP 503 Service Unavailable" or "timed out after 200 ms". */
  reason: string;
}

/** Either a list of tags ("00081030") to add to the defaults, or 'all'. */
export type IncludeField = readonly string[] | 'all';

export interface StudyQuery {
  PatientID?: string;
  IssuerOfPatientID?: string;
  /** 'YYYYMMDD', or a range 'YYYYMMDD-YYYYMMDD', 'YYYYMMDD-' (from) or '-YYYYMMDD' (until). */
  StudyDate?: string;
  /** One UID, or several (UID list matching). */
  StudyInstanceUID?: string | readonly string[];
  AccessionNumber?: string;
  ModalitiesInStudy?: string;
  /** Other matching keys, sent as given (keyword or tag => value). */
  match?: Record<string, string>;
  limit?: number;
  offset?: number;
  includefield?: IncludeField;
}

export interface SeriesQuery {
  Modality?: string;
  SeriesInstanceUID?: string | readonly string[];
  match?: Record<string, string>;
  limit?: number;
  offset?: number;
  includefield?: IncludeField;
}

export interface InstanceQuery {
  SOPInstanceUID?: string | readonly string[];
  match?: Record<string, string>;
  limit?: number;
  offset?: number;
  includefield?: IncludeField;
}

export interface RequestOptions {
  /** Cancels the call (no further retries); the error then has kind 'aborted'. */
  signal?: AbortSignal;
}

export interface DicomWebClient {
  /** The normalised DICOMweb root (no trailing slash). */
  readonly baseUrl: string;
  /** The WADO-RS base for an ImagingStudy Endpoint.address (the DICOMweb root). */
  readonly wadoRsBase: string;
  /** GET {base}/studies */
  searchStudies(query?: StudyQuery, opts?: RequestOptions): Promise<DicomJsonDataset[]>;
  /** GET {base}/studies/{studyUid}/series */
  searchSeries(studyUid: string, query?: SeriesQuery, opts?: RequestOptions): Promise<DicomJsonDataset[]>;
  /** GET {base}/studies/{studyUid}/series/{seriesUid}/instances (or /studies/{uid}/instances) */
  searchInstances(studyUid: string, seriesUid?: string, query?: InstanceQuery, opts?: RequestOptions): Promise<DicomJsonDataset[]>;
  /** All studies matching `query`, fetched page by page with limit/offset (default page 100). */
  iterateStudies(query?: Omit<StudyQuery, 'limit' | 'offset'>, opts?: RequestOptions & { pageSize?: number }): AsyncGenerator<DicomJsonDataset>;
}

/** Study-level attributes an ImagingStudy needs (beyond what QIDO-RS returns by default). */
export const STUDY_INCLUDE_FIELDS: readonly string[] = [
  '00080020', // StudyDate
  '00080030', // StudyTime
  '00080050', // AccessionNumber
  '00080061', // ModalitiesInStudy
  '00080090', // ReferringPhysicianName
  '00080201', // TimezoneOffsetFromUTC
  '00081030', // StudyDescription
  '00081190', // RetrieveURL
  '00100010', // PatientName
  '00100020', // PatientID
  '00100021', // IssuerOfPatientID
  '00100030', // PatientBirthDate
  '00100040', // PatientSex
  '0020000D', // StudyInstanceUID
  '00200010', // StudyID
  '00201206', // NumberOfStudyRelatedSeries
  '00201208', // NumberOfStudyRelatedInstances
];

/** Series-level attributes an ImagingStudy.series needs. */
export const SERIES_INCLUDE_FIELDS: readonly string[] = [
  '00080021', // SeriesDate
  '00080031', // SeriesTime
  '00080060', // Modality
  '0008103E', // SeriesDescription
  '00081190', // RetrieveURL
  '00180015', // BodyPartExamined
  '0020000E', // SeriesInstanceUID
  '00200011', // SeriesNumber
  '00200060', // Laterality
  '00201209', // NumberOfSeriesRelatedInstances
  '00400244', // PerformedProcedureStepStartDate
  '00400245', // PerformedProcedureStepStartTime
];

/** Instance-level attributes (SOP class, number; specimen identification for whole-slide images). */
export const INSTANCE_INCLUDE_FIELDS: readonly string[] = [
  '00080016', // SOPClassUID
  '00080018', // SOPInstanceUID
  '00200013', // InstanceNumber
  '00400512', // ContainerIdentifier (WSI: the slide)
  '00400560', // SpecimenDescriptionSequence
];

const DATE_RANGE = /^(?:(\d{8})|(\d{8})-|-(\d{8})|(\d{8})-(\d{8}))$/;
const UID = /^[0-9]+(?:\.[0-9]+)*$/;

/** A QIDO-RS date range from two dates (either may be omitted), using their UTC calendar day. */
export function dicomDateRange(from?: Date | string, to?: Date | string): string {
  const fmt = (d: Date | string | undefined): string => {
    if (d === undefined) return '';
    if (typeof d === 'string') {
      const compact = d.replace(/-/g, '').slice(0, 8);
      if (!/^\d{8}$/.test(compact)) throw new RangeError(`not a date: ${d}`);
      return compact;
    }
    if (Number.isNaN(d.getTime())) throw new RangeError('invalid Date');
    return d.toISOString().slice(0, 10).replace(/-/g, '');
  };
  const a = fmt(from);
  const b = fmt(to);
  if (!a && !b) throw new RangeError('dicomDateRange needs at least one bound');
  return `${a}-${b}`;
}

function validDate(yyyymmdd: string): boolean {
  const y = Number(yyyymmdd.slice(0, 4));
  const m = Number(yyyymmdd.slice(4, 6));
  const d = Number(yyyymmdd.slice(6, 8));
  const dt = new Date(Date.UTC(y, m - 1, d));
  return dt.getUTCFullYear() === y && dt.getUTCMonth() === m - 1 && dt.getUTCDate() === d;
}

function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.username || u.password) {
      u.username = '';
      u.password = '';
    }
    return u.toString();
  } catch {
    return url;
  }
}

const sleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });

function causeText(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  // undici wraps the socket error: TypeError('fetch failed', { cause: Error('connect ECONNREFUSED ...') })
  const cause = err.cause;
  if (cause instanceof Error) {
    const code = (cause as { code?: unknown }).code;
    const inner = cause.message || (typeof code === 'string' ? code : '');
    return inner && inner !== err.message ? `${err.message}: ${inner}` : err.message;
  }
  if (cause && typeof cause === 'object' && 'code' in cause) return `${err.message}: ${String(cause.code)}`;
  return err.message;
}

function retryAfterMs(res: Response): number | undefined {
  const h = res.headers.get('retry-after');
  if (!h) return undefined;
  const secs = Number(h);
  if (Number.isFinite(secs)) return Math.max(0, secs * 1000);
  const at = Date.parse(h);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

class AttemptFailure {
  readonly kind: 'network' | 'timeout' | 'http';
  readonly reason: string;
  readonly status: number | undefined;
  readonly retryable: boolean;
  readonly retryAfterMs: number | undefined;
  readonly cause: unknown;
  constructor(f: { kind: 'network' | 'timeout' | 'http'; reason: string; status?: number; retryable: boolean; retryAfterMs?: number; cause?: unknown }) {
    this.kind = f.kind;
    this.reason = f.reason;
    this.status = f.status;
    this.retryable = f.retryable;
    this.retryAfterMs = f.retryAfterMs;
    this.cause = f.cause;
  }
}

export function createDicomWebClient(options: DicomWebClientOptions): DicomWebClient {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const retries = options.retries ?? 3;
  const backoffMs = options.backoffMs ?? 200;
  const maxBackoffMs = options.maxBackoffMs ?? 5_000;
  const doFetch = options.fetch ?? globalThis.fetch;
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) throw new RangeError('timeoutMs must be > 0');
  if (!Number.isInteger(retries) || retries < 0) throw new RangeError('retries must be an integer >= 0');
  if (!Number.isFinite(backoffMs) || backoffMs < 0) throw new RangeError('backoffMs must be >= 0');

  let parsedBase: URL;
  try {
    parsedBase = new URL(options.baseUrl);
  } catch {
    throw new RangeError(`not a URL: ${options.baseUrl}`);
  }
  if (parsedBase.protocol !== 'http:' && parsedBase.protocol !== 'https:') {
    throw new RangeError(`DICOMweb base URL must be http(s): ${options.baseUrl}`);
  }
  if (parsedBase.username || parsedBase.password) {
    throw new RangeError('put DICOMweb credentials in `headers` (e.g. Authorization), not in the URL');
  }
  if (parsedBase.search || parsedBase.hash) throw new RangeError(`DICOMweb base URL must not have a query or fragment: ${options.baseUrl}`);
  const baseUrl = parsedBase.toString().replace(/\/+$/, '');

  const invalid = (url: string, message: string): DicomWebError =>
    new DicomWebError(`invalid QIDO-RS request ${url}: ${message}`, { kind: 'invalid-request', url, attempts: 0 });

  function checkUid(what: string, uid: string, where: string): void {
    if (uid.length > 64 || !UID.test(uid)) throw invalid(where, `${what} ${JSON.stringify(uid.slice(0, 80))} is not a DICOM UID`);
  }

  function buildUrl(path: string, defaults: readonly string[], q: {
    keys: Record<string, string | readonly string[] | undefined>;
    match?: Record<string, string>;
    limit?: number;
    offset?: number;
    includefield?: IncludeField;
  }): string {
    const params = new URLSearchParams();
    const where = `${baseUrl}${path}`;
    for (const [k, v] of Object.entries(q.keys)) {
      if (v === undefined) continue;
      if (typeof v === 'string') {
        if (v === '') throw invalid(where, `${k} is empty`);
        params.append(k, v);
      } else {
        if (v.length === 0) throw invalid(where, `${k} is an empty list`);
        params.append(k, v.join(','));
      }
    }
    for (const [k, v] of Object.entries(q.match ?? {})) params.append(k, v);
    if (q.limit !== undefined) {
      if (!Number.isInteger(q.limit) || q.limit < 1) throw invalid(where, `limit must be a positive integer, got ${q.limit}`);
      params.append('limit', String(q.limit));
    }
    if (q.offset !== undefined) {
      if (!Number.isInteger(q.offset) || q.offset < 0) throw invalid(where, `offset must be an integer >= 0, got ${q.offset}`);
      params.append('offset', String(q.offset));
    }
    if (q.includefield === 'all') {
      params.append('includefield', 'all');
    } else {
      const fields = new Set([...defaults, ...(q.includefield ?? [])].map((f) => f.toUpperCase()));
      for (const f of fields) params.append('includefield', f);
    }
    const qs = params.toString();
    return qs ? `${where}?${qs}` : where;
  }

  async function attempt(url: string, signal: AbortSignal | undefined): Promise<{ status: number; body: string } | AttemptFailure> {
    const timeout = AbortSignal.timeout(timeoutMs);
    const combined = signal ? AbortSignal.any([signal, timeout]) : timeout;
    let res: Response;
    try {
      res = await doFetch(url, {
        method: 'GET',
        headers: { ...options.headers, Accept: 'application/dicom+json, application/json;q=0.9' },
        signal: combined,
        redirect: 'follow',
      });
    } catch (err) {
      if (signal?.aborted) throw err;
      if (timeout.aborted) return new AttemptFailure({ kind: 'timeout', reason: `timed out after ${timeoutMs} ms`, retryable: true, cause: err });
      return new AttemptFailure({ kind: 'network', reason: causeText(err), retryable: true, cause: err });
    }
    let body: string;
    try {
      body = await res.text();
    } catch (err) {
      if (signal?.aborted) throw err;
      if (timeout.aborted) {
        return new AttemptFailure({ kind: 'timeout', reason: `timed out after ${timeoutMs} ms reading the answer (HTTP ${res.status})`, retryable: true, cause: err });
      }
      return new AttemptFailure({ kind: 'network', reason: `reading the answer (HTTP ${res.status}) failed: ${causeText(err)}`, retryable: true, cause: err });
    }
    if (res.status >= 200 && res.status < 300) return { status: res.status, body };
    const snippet = body.trim().replace(/\s+/g, ' ').slice(0, 200);
    const reason = `HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ''}${snippet ? `: ${snippet}` : ''}`;
    const retryable = res.status >= 500 || res.status === 429;
    return new AttemptFailure({ kind: 'http', reason, status: res.status, retryable, retryAfterMs: retryAfterMs(res) });
  }

  async function qido(url: string, opts: RequestOptions | undefined): Promise<DicomJsonDataset[]> {
    const shown = redact(url);
    const maxAttempts = retries + 1;
    let n = 0;
    for (;;) {
      n++;
      let outcome: Awaited<ReturnType<typeof attempt>>;
      try {
        outcome = await attempt(url, opts?.signal);
      } catch (err) {
        throw new DicomWebError(`QIDO-RS GET ${shown} aborted after ${n} attempt(s)`, { kind: 'aborted', url: shown, attempts: n, cause: err });
      }
      if (!(outcome instanceof AttemptFailure)) return parse(shown, outcome.status, outcome.body, n);
      if (!outcome.retryable || n >= maxAttempts) {
        const msg = `QIDO-RS GET ${shown} failed after ${n} attempt${n === 1 ? '' : 's'}: ${outcome.reason}`;
        throw new DicomWebError(msg, {
          kind: outcome.kind,
          url: shown,
          status: outcome.status,
          attempts: n,
          transient: outcome.retryable,
          cause: outcome.cause,
        });
      }
      const exp = Math.min(maxBackoffMs, backoffMs * 2 ** (n - 1));
      const delayMs = Math.min(maxBackoffMs, Math.max(exp, outcome.retryAfterMs ?? 0));
      options.onRetry?.({ url: shown, attempt: n, delayMs, reason: outcome.reason });
      try {
        await sleep(delayMs, opts?.signal);
      } catch (err) {
        throw new DicomWebError(`QIDO-RS GET ${shown} aborted after ${n} attempt(s) (last: ${outcome.reason})`, {
          kind: 'aborted',
          url: shown,
          attempts: n,
          cause: err,
        });
      }
    }
  }

  function parse(url: string, status: number, body: string, attempts: number): DicomJsonDataset[] {
    if (status === 204 || body.trim() === '') return [];
    const malformed = (why: string, cause?: unknown) =>
      new DicomWebError(`malformed QIDO-RS response from ${url}: ${why}`, { kind: 'malformed', url, status, attempts, cause });
    let json: unknown;
    try {
      json = JSON.parse(body);
    } catch (err) {
      throw malformed(`not JSON (${(err as Error).message}); body starts with ${JSON.stringify(body.slice(0, 80))}`, err);
    }
    if (!Array.isArray(json)) {
      throw malformed(`expected a JSON array of DICOM JSON datasets, got ${json === null ? 'null' : typeof json === 'object' ? 'an object' : `a ${typeof json}`}`);
    }
    for (let i = 0; i < json.length; i++) {
      const problem = dicomJsonDatasetProblem(json[i]);
      if (problem) throw malformed(`item ${i}: ${problem}`);
    }
    return json as DicomJsonDataset[];
  }

  const client: DicomWebClient = {
    baseUrl,
    wadoRsBase: baseUrl,

    async searchStudies(query = {}, opts) {
      const where = `${baseUrl}/studies`;
      if (query.StudyDate !== undefined) {
        const m = DATE_RANGE.exec(query.StudyDate);
        if (!m) throw invalid(where, `StudyDate must be YYYYMMDD, YYYYMMDD-YYYYMMDD, YYYYMMDD- or -YYYYMMDD, got ${JSON.stringify(query.StudyDate)}`);
        const dates = m.slice(1).filter((d): d is string => !!d);
        const bad = dates.find((d) => !validDate(d));
        if (bad) throw invalid(where, `StudyDate ${bad} is not a calendar date`);
        if (dates.length === 2 && dates[0]! > dates[1]!) throw invalid(where, `StudyDate range ${query.StudyDate} ends before it starts`);
      }
      const uids = query.StudyInstanceUID === undefined ? [] : typeof query.StudyInstanceUID === 'string' ? [query.StudyInstanceUID] : query.StudyInstanceUID;
      for (const u of uids) checkUid('StudyInstanceUID', u, where);
      const url = buildUrl('/studies', STUDY_INCLUDE_FIELDS, {
        keys: {
          PatientID: query.PatientID,
          IssuerOfPatientID: query.IssuerOfPatientID,
          StudyDate: query.StudyDate,
          StudyInstanceUID: query.StudyInstanceUID,
          AccessionNumber: query.AccessionNumber,
          ModalitiesInStudy: query.ModalitiesInStudy,
        },
        match: query.match,
        limit: query.limit,
        offset: query.offset,
        includefield: query.includefield,
      });
      return qido(url, opts);
    },

    async searchSeries(studyUid, query = {}, opts) {
      checkUid('StudyInstanceUID', studyUid, `${baseUrl}/studies/.../series`);
      const path = `/studies/${encodeURIComponent(studyUid)}/series`;
      const uids = query.SeriesInstanceUID === undefined ? [] : typeof query.SeriesInstanceUID === 'string' ? [query.SeriesInstanceUID] : query.SeriesInstanceUID;
      for (const u of uids) checkUid('SeriesInstanceUID', u, `${baseUrl}${path}`);
      const url = buildUrl(path, SERIES_INCLUDE_FIELDS, {
        keys: { Modality: query.Modality, SeriesInstanceUID: query.SeriesInstanceUID },
        match: query.match,
        limit: query.limit,
        offset: query.offset,
        includefield: query.includefield,
      });
      return qido(url, opts);
    },

    async searchInstances(studyUid, seriesUid, query = {}, opts) {
      checkUid('StudyInstanceUID', studyUid, `${baseUrl}/studies/.../instances`);
      if (seriesUid !== undefined) checkUid('SeriesInstanceUID', seriesUid, `${baseUrl}/studies/${studyUid}/series/.../instances`);
      const path = seriesUid === undefined
        ? `/studies/${encodeURIComponent(studyUid)}/instances`
        : `/studies/${encodeURIComponent(studyUid)}/series/${encodeURIComponent(seriesUid)}/instances`;
      const url = buildUrl(path, INSTANCE_INCLUDE_FIELDS, {
        keys: { SOPInstanceUID: query.SOPInstanceUID },
        match: query.match,
        limit: query.limit,
        offset: query.offset,
        includefield: query.includefield,
      });
      return qido(url, opts);
    },

    async *iterateStudies(query = {}, opts = {}) {
      const pageSize = opts.pageSize ?? 100;
      if (!Number.isInteger(pageSize) || pageSize < 1) throw new RangeError('pageSize must be a positive integer');
      const seen = new Set<string>();
      for (let offset = 0; ; offset += pageSize) {
        const page = await client.searchStudies({ ...query, limit: pageSize, offset }, { signal: opts.signal });
        let fresh = 0;
        for (const ds of page) {
          // A server that ignores offset would repeat the first page forever: stop on repeats.
          const uid = ds['0020000D']?.Value?.[0];
          const key = typeof uid === 'string' ? uid : JSON.stringify(ds);
          if (seen.has(key)) continue;
          seen.add(key);
          fresh++;
          yield ds;
        }
        if (page.length < pageSize || fresh === 0) return;
      }
    },
  };
  return client;
}
