import { Worker } from 'node:worker_threads';
import { AdapterError } from '../types.ts';
import type { PdfWorkerInput, PdfWorkerReply } from './pdf-text-worker.ts';

/** Text and metadata extracted from a PDF. */
export interface PdfText {
  text: string;
  pages: number;
  title?: string;
  author?: string;
  /** FHIR dateTime from the PDF CreationDate (`D:YYYYMMDDHHmmSSOHH'mm'`). */
  creationDate?: string;
  warnings: string[];
}

const PDF_DATE = /^D:(\d{4})(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\d{2})?(Z|[+-]\d{2}'?\d{2}'?)?/;

/** PDF date string (PDF 32000-1 section 7.9.4) -> FHIR dateTime; undefined when absent or malformed. */
export function pdfDate(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  const m = PDF_DATE.exec(value.trim());
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s, zone] = m;
  if (!mo || !d) return mo ? `${y}-${mo}` : y;
  if (!h) return `${y}-${mo}-${d}`;
  const z = !zone || zone === 'Z' ? 'Z' : `${zone.slice(0, 3)}:${zone.replace(/'/g, '').slice(3, 5)}`;
  return `${y}-${mo}-${d}T${h}:${mi ?? '00'}:${s ?? '00'}${z}`;
}

/** Limits of PDF text extraction (IDR_PDF_MAX_PAGES, _MAX_INFLATED_BYTES, _EXTRACT_TIMEOUT_MS, _EXTRACT_MEMORY_MB). */
export interface PdfLimits {
  maxPages: number;
  maxInflatedBytes: number;
  timeoutMs: number;
  memoryMb: number;
}

/** The configuration defaults. */
export const DEFAULT_PDF_LIMITS: PdfLimits = { maxPages: 2000, maxInflatedBytes: 64 * 1024 * 1024, timeoutMs: 30_000, memoryMb: 512 };

/** Extracted text beyond this many characters is cut off (with a warning): it is stored inline on the DocumentReference. */
export const MAX_TEXT_CHARS = 4 * 1024 * 1024;

/** The warning that stands for text not extracted, naming why. */
export function notExtracted(reason: string): string {
  return `text not extracted: ${reason}; the PDF is kept as it is`;
}

/**
 * Extraction workers running at once in this process; further extractions wait their turn, so
 * many uploads at the same moment cannot take N times the worker memory limit.
 */
const MAX_WORKERS = 2;
let running = 0;
const waiting: (() => void)[] = [];

async function withWorkerSlot<T>(work: () => Promise<T>): Promise<T> {
  if (running >= MAX_WORKERS) await new Promise<void>((resolve) => waiting.push(resolve));
  running++;
  try {
    return await work();
  } finally {
    running--;
    waiting.shift()?.();
  }
}

/** Workers that answered their last PDF, kept for the next (starting one costs more than a small letter's extraction). */
const idle: { worker: Worker; memoryMb: number }[] = [];

function takeWorker(limits: PdfLimits): Worker {
  const i = idle.findIndex((w) => w.memoryMb === limits.memoryMb);
  const kept = i >= 0 ? idle.splice(i, 1)[0] : undefined;
  if (kept) {
    kept.worker.ref();
    return kept.worker;
  }
  return new Worker(new URL('./pdf-text-worker.ts', import.meta.url), {
    resourceLimits: { maxOldGenerationSizeMb: limits.memoryMb, maxYoungGenerationSizeMb: Math.min(64, Math.max(8, Math.floor(limits.memoryMb / 8))) },
  });
}

/** Keeps a worker that answered for the next PDF (not keeping the process alive), at most MAX_WORKERS. */
function keepWorker(worker: Worker, limits: PdfLimits): void {
  if (idle.length >= MAX_WORKERS) {
    void worker.terminate();
    return;
  }
  worker.unref();
  idle.push({ worker, memoryMb: limits.memoryMb });
}

/** Runs the extraction in a worker: its reply, or `stopped` with the reason when it was stopped (time, memory, crash). */
function runWorker(bytes: Uint8Array, limits: PdfLimits): Promise<PdfWorkerReply | { kind: 'stopped'; reason: string }> {
  return new Promise((resolve) => {
    const input: PdfWorkerInput = { bytes, maxPages: limits.maxPages, maxInflatedBytes: limits.maxInflatedBytes };
    const worker = takeWorker(limits);
    let settled = false;
    const settle = (value: PdfWorkerReply | { kind: 'stopped'; reason: string }, reusable: boolean): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      worker.off('message', onMessage).off('error', onError).off('exit', onExit);
      if (reusable) keepWorker(worker, limits);
      else void worker.terminate();
      resolve(value);
    };
    const onMessage = (reply: PdfWorkerReply): void => settle(reply, true);
    const onError = (err: Error & { code?: string }): void => {
      const reason = err.code === 'ERR_WORKER_OUT_OF_MEMORY' ? `extraction needed more than ${limits.memoryMb} MB (IDR_PDF_EXTRACT_MEMORY_MB)` : `extraction failed: ${err.message}`;
      settle({ kind: 'stopped', reason }, false);
    };
    const onExit = (code: number): void => settle({ kind: 'stopped', reason: `extraction stopped (worker exit code ${code})` }, false);
    const timer = setTimeout(() => settle({ kind: 'stopped', reason: `extraction took longer than ${limits.timeoutMs} ms (IDR_PDF_EXTRACT_TIMEOUT_MS)` }, false), limits.timeoutMs);
    worker.on('message', onMessage).on('error', onError).on('exit', onExit);
    worker.postMessage(input);
  });
}

/**
 * Extracts the text of a PDF with unpdf (pdf.js), page by page, plus title, author and creation
 * date, in a worker thread bounded by `limits`. Corrupt and password-protected PDFs are refused
 * (`pdf`); a PDF without text (scanned letter) is not an error: the text is empty and a warning
 * says so. A PDF over a limit (pages, inflated size, time, memory) is not an error either: the
 * text is empty and a warning names the limit, so the document is kept with the reason.
 */
export async function pdfToText(bytes: Uint8Array, limits: PdfLimits = DEFAULT_PDF_LIMITS): Promise<PdfText> {
  // The worker gets a copy: the caller's buffer is neither transferred nor detached.
  const reply = await withWorkerSlot(() => runWorker(bytes, limits));
  if (reply.kind === 'encrypted' || reply.kind === 'unreadable') {
    throw new AdapterError('pdf', reply.kind === 'encrypted' ? `encrypted PDF (a password is needed to open it): ${reply.message}` : `not a readable PDF: ${reply.message}`);
  }
  if (reply.kind === 'limit') return { text: '', pages: reply.pages, warnings: [notExtracted(reply.reason)] };
  if (reply.kind === 'stopped') return { text: '', pages: 0, warnings: [notExtracted(reply.reason)] };
  const warnings: string[] = [];
  if (reply.info.EncryptFilterName) warnings.push('encrypted PDF opened with an empty user password');
  let joined = reply.texts.map((t) => t.trim()).filter(Boolean).join('\n\n');
  if (!joined) warnings.push('no extractable text (image-only PDF?)');
  if (joined.length > MAX_TEXT_CHARS) {
    warnings.push(`extracted text cut off at ${MAX_TEXT_CHARS} of ${joined.length} characters`);
    joined = joined.slice(0, MAX_TEXT_CHARS);
  }
  const out: PdfText = { text: joined, pages: reply.pages, warnings };
  if (reply.info.Title) out.title = reply.info.Title;
  if (reply.info.Author) out.author = reply.info.Author;
  const created = pdfDate(reply.info.CreationDate);
  if (created) out.creationDate = created;
  return out;
}
