import type { Db } from 'mongodb';
import type { Logger } from 'pino';
import type { IngestResult, Pipeline } from '../pipeline.ts';
import { DicomWebError, createDicomWebClient, dicomDateRange, type DicomJsonDataset, type StudyQuery } from './dicomweb-client.ts';
import { DicomwebSyncState } from '../imaging/sync-state.ts';

/**
 * DICOMweb import: QIDO-RS studies (by patient id, date range, study UID, or everything since the
 * last import of that PACS) and their series, fetched completely first; then one inbox entry per
 * study (kind "dicomweb": the study and its series as received) processed by the pipeline into
 * Patient + ImagingStudy + Endpoint. A PACS that is down, slow, answers 5xx or garbage makes the
 * whole call fail (after the client's retries) before anything is stored: nothing half-written.
 * See: https://dicom.nema.org/medical/dicom/current/output/chtml/part18/sect_10.6.html
 */

export interface DicomwebImportRequest {
  /** DICOMweb root of the PACS, e.g. http://pacs:8042/dicom-web */
  url: string;
  patientId?: string;
  issuerOfPatientId?: string;
  /** 'YYYYMMDD' or a range 'YYYYMMDD-YYYYMMDD' / 'YYYYMMDD-' / '-YYYYMMDD'. */
  studyDate?: string;
  studyUid?: string;
  /** Studies dated from this day on ('YYYY-MM-DD' or 'YYYYMMDD'), or 'last': since the last import of this URL. */
  since?: string;
}

export interface DicomwebImportResult {
  url: string;
  /** The QIDO-RS matching keys sent. */
  query: Record<string, string>;
  /** Whether the query was restricted to studies since the last import. */
  incremental: boolean;
  studies: number;
  results: IngestResult[];
  startedAt: string;
}

export interface DicomwebImporterOptions {
  pipeline: Pipeline;
  db: Db;
  logger?: Logger;
  /** Client settings (per-attempt timeout, retries, first backoff). */
  timeoutMs?: number;
  retries?: number;
  backoffMs?: number;
  source?: string;
  /** The PACS an import may be asked for by name (IDR_DICOMWEB_SOURCES): name -> DICOMweb root. */
  sources?: Readonly<Record<string, string>>;
  /** IDR_DICOMWEB_URL: always allowed, under the name "default". */
  defaultUrl?: string;
}

/** A request the importer refuses before contacting the PACS (bad or contradictory parameters). */
export class DicomwebRequestError extends Error {
  readonly field: string;
  constructor(field: string, message: string) {
    super(message);
    this.name = 'DicomwebRequestError';
    this.field = field;
  }
}

const ONE_DAY = 86_400_000;

/** Imports studies from DICOMweb servers and remembers the last sync per server. */
export class DicomwebImporter {
  private readonly options: DicomwebImporterOptions;
  readonly state: DicomwebSyncState;

  constructor(options: DicomwebImporterOptions) {
    this.options = options;
    this.state = new DicomwebSyncState(options.db);
  }

  /** The PACS an import may name (IDR_DICOMWEB_SOURCES, plus IDR_DICOMWEB_URL as "default"). */
  get sources(): Readonly<Record<string, string>> {
    const { sources = {}, defaultUrl } = this.options;
    return defaultUrl ? { ...sources, default: defaultUrl } : sources;
  }

  /**
   * The DICOMweb root of a configured PACS; throws DicomwebRequestError for a name that is not
   * configured. No URL a client sends is ever fetched: only these.
   */
  sourceUrl(name: string): string {
    const sources = this.sources;
    const names = Object.keys(sources);
    if (!names.length) {
      throw new DicomwebRequestError('source', 'No PACS is configured: set IDR_DICOMWEB_SOURCES (JSON {"name":"https://pacs/dicom-web"}) or IDR_DICOMWEB_URL (the source "default")');
    }
    const url = Object.hasOwn(sources, name) ? sources[name] : undefined;
    if (!url) throw new DicomwebRequestError('source', `Unknown source ${JSON.stringify(name)}; configured: ${names.join(', ')}`);
    return url;
  }

  /** Runs one import; throws DicomwebRequestError (bad request) or DicomWebError (the PACS failed). */
  async import(req: DicomwebImportRequest, source = this.options.source ?? 'dicomweb'): Promise<DicomwebImportResult> {
    let client;
    try {
      client = createDicomWebClient({
        baseUrl: req.url,
        ...(this.options.timeoutMs ? { timeoutMs: this.options.timeoutMs } : {}),
        ...(this.options.retries !== undefined ? { retries: this.options.retries } : {}),
        ...(this.options.backoffMs !== undefined ? { backoffMs: this.options.backoffMs } : {}),
        onRetry: (info) => this.options.logger?.warn(info, 'DICOMweb request failed; retrying'),
      });
    } catch (err) {
      throw new DicomwebRequestError('url', (err as Error).message);
    }
    const url = client.baseUrl;
    const startedAt = new Date();
    const { query, incremental } = await this.buildQuery(req, url);
    let fetched: { study: DicomJsonDataset; series: DicomJsonDataset[] }[];
    try {
      fetched = [];
      for await (const study of client.iterateStudies(query)) {
        const uid = study['0020000D']?.Value?.[0];
        const series = typeof uid === 'string' ? await client.searchSeries(uid) : [];
        fetched.push({ study, series });
      }
    } catch (err) {
      await this.state.failed(url, (err as Error).message);
      throw err;
    }
    const results: IngestResult[] = [];
    for (const { study, series } of fetched) {
      const uid = study['0020000D']?.Value?.[0];
      const bytes = Buffer.from(JSON.stringify({ baseUrl: url, wadoRsBase: client.wadoRsBase, study, series }), 'utf8');
      results.push(await this.options.pipeline.ingest({ bytes, kind: 'dicomweb', source, origin: `${url} study ${String(uid)}`, contentType: 'application/json' }));
    }
    await this.state.succeeded(url, startedAt, fetched.length);
    const shown: Record<string, string> = {};
    for (const [k, v] of Object.entries(query)) if (typeof v === 'string') shown[k] = v;
    return { url, query: shown, incremental, studies: fetched.length, results, startedAt: startedAt.toISOString() };
  }

  private async buildQuery(req: DicomwebImportRequest, url: string): Promise<{ query: StudyQuery; incremental: boolean }> {
    const query: StudyQuery = {};
    if (req.patientId) query.PatientID = req.patientId;
    if (req.issuerOfPatientId) query.IssuerOfPatientID = req.issuerOfPatientId;
    if (req.studyUid) query.StudyInstanceUID = req.studyUid;
    if (req.studyDate) query.StudyDate = req.studyDate;
    let incremental = false;
    if (req.since) {
      if (req.studyDate) throw new DicomwebRequestError('since', 'give either studyDate or since, not both');
      if (req.since === 'last') {
        const last = (await this.state.get(url))?.lastSyncAt;
        // A day of overlap: StudyDate is a local calendar day and a PACS may lag behind.
        if (last) {
          query.StudyDate = dicomDateRange(new Date(last.getTime() - ONE_DAY));
          incremental = true;
        }
      } else {
        try {
          query.StudyDate = dicomDateRange(req.since);
        } catch {
          throw new DicomwebRequestError('since', `since must be a date (YYYY-MM-DD or YYYYMMDD) or "last", got ${JSON.stringify(req.since)}`);
        }
        incremental = true;
      }
    }
    return { query, incremental };
  }
}

/** Whether an error came from the PACS (as opposed to a bug). */
export function isPacsError(err: unknown): err is DicomWebError {
  return err instanceof DicomWebError;
}

/** Runs an incremental import of one PACS every `minutes` (never two at once); stop() ends it. */
export function startDicomwebSchedule(options: { importer: DicomwebImporter; url: string; minutes: number; logger?: Logger }): { stop: () => Promise<void> } {
  let running: Promise<unknown> | undefined;
  let stopped = false;
  const tick = (): void => {
    if (running || stopped) return;
    running = options.importer
      .import({ url: options.url, since: 'last' }, 'dicomweb-poller')
      .then((r) => options.logger?.info({ url: r.url, studies: r.studies, failed: r.results.filter((x) => x.status === 'failed').length }, 'scheduled DICOMweb import done'))
      .catch((err: unknown) => options.logger?.error({ err, url: options.url }, 'scheduled DICOMweb import failed'))
      .finally(() => {
        running = undefined;
      });
  };
  const timer = setInterval(tick, options.minutes * 60_000);
  timer.unref();
  setImmediate(tick);
  return {
    stop: async () => {
      stopped = true;
      clearInterval(timer);
      await running;
    },
  };
}
