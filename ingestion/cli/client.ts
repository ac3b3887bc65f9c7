import { authorized } from './auth.ts';

/** The HTTP calls the CLI makes to a running IDR. */

export interface ReportedResult {
  inboxId: string;
  status: 'processed' | 'duplicate' | 'failed';
  label?: string;
  outputs: string[];
  error?: { location: string; message: string };
  warnings: string[];
}

/** A client of IDR's ingestion HTTP API. */
export class IngestClient {
  private readonly base: string;

  constructor(serverUrl: string) {
    this.base = serverUrl.replace(/\/$/, '');
  }

  /** POSTs one or more HL7 v2 messages; returns one result per stored message. */
  async postHl7(bytes: Uint8Array): Promise<ReportedResult[]> {
    const res = await this.request('/ingest/hl7v2', { method: 'POST', headers: { 'content-type': 'x-application/hl7-v2+er7' }, body: new Uint8Array(bytes) });
    const body = (await res.json()) as { results?: ReportedResult[]; issue?: { details?: { text?: string } }[] };
    if (!body.results) throw new Error(`server refused the upload (HTTP ${res.status}): ${body.issue?.[0]?.details?.text ?? 'no details'}`);
    return body.results;
  }

  /** Lists inbox entries. */
  async list(status: string | undefined, kind: string | undefined, count: number): Promise<{ total: number; entries: Record<string, unknown>[] }> {
    const q = new URLSearchParams({ _count: String(count) });
    if (status) q.set('status', status);
    if (kind) q.set('kind', kind);
    return (await (await this.request(`/ingest/messages?${q}`)).json()) as { total: number; entries: Record<string, unknown>[] };
  }

  /** Reprocesses one inbox entry. */
  async reprocess(id: string): Promise<ReportedResult> {
    return (await (await this.request(`/ingest/messages/${encodeURIComponent(id)}/reprocess`, { method: 'POST' }, [422])).json()) as ReportedResult;
  }

  /** Reprocesses every failed entry. */
  async reprocessFailed(): Promise<ReportedResult[]> {
    return ((await (await this.request('/ingest/messages/_reprocess-failed', { method: 'POST' })).json()) as { results: ReportedResult[] }).results;
  }

  private async request(path: string, init: RequestInit = {}, okStatuses: number[] = [207, 422]): Promise<Response> {
    let res: Response;
    try {
      res = await fetch(`${this.base}${path}`, authorized(init));
    } catch (err) {
      throw new Error(`cannot reach IDR at ${this.base} (${(err as Error).message}); start it with "make demo" or pass --server`, { cause: err });
    }
    if (!res.ok && !okStatuses.includes(res.status)) {
      const text = await res.text();
      throw new Error(`${init.method ?? 'GET'} ${path}: HTTP ${res.status}: ${text.slice(0, 500)}`);
    }
    return res;
  }
}
