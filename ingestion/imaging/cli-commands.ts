import { authorized } from '../cli/auth.ts';
import { createReadStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { Readable } from 'node:stream';
import path from 'node:path';

/** CLI commands for imaging, as HTTP calls to a running IDR (like `ingest`). */

interface Reported {
  inboxId: string;
  status: 'processed' | 'duplicate' | 'failed' | 'waiting';
  error?: { location: string; message: string };
  waitingFor?: string[];
}

async function filesUnder(arg: string): Promise<string[]> {
  const s = await stat(arg).catch(() => undefined);
  if (!s) return [];
  if (s.isFile()) return [path.resolve(arg)];
  const out: string[] = [];
  for (const e of await readdir(arg, { withFileTypes: true, recursive: true })) {
    if (e.isFile() && !e.name.startsWith('.')) out.push(path.resolve(e.parentPath, e.name));
  }
  return out.sort();
}

/**
 * `dicom <file|folder>... [--wado-rs-base URL]`: sends every file (DICOM files often have no
 * extension, so all files) to POST /ingest/dicom, streamed, one at a time (the server merges the
 * instances of a study). Returns the exit status: 0 all ok, 1 a file failed, 2 no server.
 */
export async function dicomCommand(server: string, args: string[], wadoRsBase: string | undefined, out: NodeJS.WritableStream): Promise<number> {
  const files = (await Promise.all(args.map(filesUnder))).flat();
  if (!files.length) {
    out.write('dicom: no files found\n');
    return 2;
  }
  const totals = { ok: 0, duplicate: 0, failed: 0, waiting: 0 };
  const query = wadoRsBase ? `?wadoRsBase=${encodeURIComponent(wadoRsBase)}` : '';
  for (const file of files) {
    let res: Response;
    try {
      const body = Readable.toWeb(createReadStream(file)) as ReadableStream<Uint8Array>;
      res = await fetch(`${server}/ingest/dicom${query}${query ? '&' : '?'}filename=${encodeURIComponent(path.basename(file))}`, authorized({ method: 'POST', headers: { 'content-type': 'application/dicom' }, body, duplex: 'half' } as RequestInit));
    } catch (err) {
      out.write(`cannot reach IDR at ${server} (${(err as Error).message}); start it with "make demo" or pass --server\n`);
      return 2;
    }
    const body = (await res.json()) as { results?: Reported[]; issue?: { details?: { text?: string } }[] };
    const r = body.results?.[0];
    if (!r) {
      totals.failed++;
      out.write(`FAILED ${file}: HTTP ${res.status}: ${body.issue?.[0]?.details?.text ?? ''}\n`);
      continue;
    }
    totals[r.status === 'processed' ? 'ok' : r.status]++;
    if (r.status === 'failed') out.write(`FAILED ${file}: ${r.error?.location ? `${r.error.location}: ` : ''}${r.error?.message} (inbox ${r.inboxId})\n`);
    if (r.status === 'waiting') out.write(`WAITING ${file}: for a patient with identifier ${(r.waitingFor ?? []).join(' or ')}; filed when that patient arrives (inbox ${r.inboxId})\n`);
  }
  out.write(`total: ${files.length} file(s): ok ${totals.ok}, duplicate ${totals.duplicate}, waiting for their patient ${totals.waiting}, failed ${totals.failed}\n`);
  return totals.failed ? 1 : 0;
}

/** `dicomweb [--source NAME] [--patient ID] [--since DATE|last] [--study-date RANGE] [--study-uid UID]`: POST /ingest/dicomweb. */
export async function dicomwebCommand(server: string, opts: { url?: string; source?: string; patient?: string; since?: string; studyDate?: string; studyUid?: string }, out: NodeJS.WritableStream): Promise<number> {
  if (opts.url) {
    out.write('dicomweb: --url is not accepted: name a PACS the server has in IDR_DICOMWEB_SOURCES with --source NAME (without it: "default", the server\'s IDR_DICOMWEB_URL)\n');
    return 2;
  }
  const payload = { ...(opts.source ? { source: opts.source } : {}), ...(opts.patient ? { patientId: opts.patient } : {}), ...(opts.since ? { since: opts.since } : {}), ...(opts.studyDate ? { studyDate: opts.studyDate } : {}), ...(opts.studyUid ? { studyUid: opts.studyUid } : {}) };
  let res: Response;
  try {
    res = await fetch(`${server}/ingest/dicomweb`, authorized({ method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(payload) }));
  } catch (err) {
    out.write(`cannot reach IDR at ${server} (${(err as Error).message})\n`);
    return 2;
  }
  const body = (await res.json()) as { studies?: number; results?: Reported[]; issue?: { details?: { text?: string } }[] };
  if (!body.results) {
    out.write(`import failed (HTTP ${res.status}): ${body.issue?.[0]?.details?.text ?? ''}\n`);
    return 1;
  }
  const count = (s: string): number => body.results?.filter((r) => r.status === s).length ?? 0;
  for (const r of body.results.filter((x) => x.status === 'failed')) out.write(`FAILED ${r.inboxId}: ${r.error?.location ? `${r.error.location}: ` : ''}${r.error?.message}\n`);
  out.write(`${body.studies} stud(ies): ok ${count('processed')}, duplicate ${count('duplicate')}, waiting for their patient ${count('waiting')}, failed ${count('failed')}\n`);
  return count('failed') ? 1 : 0;
}
