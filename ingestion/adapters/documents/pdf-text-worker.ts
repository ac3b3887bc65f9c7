import { parentPort } from 'node:worker_threads';
import { constants, inflateSync } from 'node:zlib';
import { extractText, getDocumentProxy, getMeta } from 'unpdf';

/**
 * Runs in a worker thread started by pdf-text.ts, so that a PDF built to take minutes or
 * gigabytes can be stopped: checks the inflated size of the non-image streams and the page count
 * against the limits, then extracts the text with unpdf (pdf.js). Answers each PdfWorkerInput it
 * is sent with one PdfWorkerReply; pdf-text.ts keeps a worker for the next PDF once it answered,
 * and stops it when it goes past a limit.
 */

/** What pdf-text.ts hands the worker. */
export interface PdfWorkerInput {
  bytes: Uint8Array;
  maxPages: number;
  maxInflatedBytes: number;
}

/** The worker's one answer. */
export type PdfWorkerReply =
  | { kind: 'text'; pages: number; texts: string[]; info: Record<string, string> }
  | { kind: 'limit'; pages: number; reason: string }
  | { kind: 'encrypted'; message: string }
  | { kind: 'unreadable'; message: string };

const INFO_KEYS = ['Title', 'Author', 'CreationDate', 'EncryptFilterName'] as const;
const STREAM = Buffer.from('stream', 'latin1');
const END_STREAM = Buffer.from('endstream', 'latin1');

/**
 * The bytes the Flate-compressed streams of a PDF inflate to, images excepted (text extraction
 * never decodes them), stopping as soon as `max` is passed. Streams are found by their keywords,
 * not by parsing the PDF: cheap, linear, and enough to spot a small file that inflates to
 * hundreds of megabytes before pdf.js would spend minutes on it.
 */
export function inflatedSize(bytes: Buffer, max: number): number {
  let total = 0;
  let pos = 0;
  for (;;) {
    const at = bytes.indexOf(STREAM, pos);
    if (at < 0) return total;
    pos = at + STREAM.length;
    if (at >= 3 && bytes.toString('latin1', at - 3, at) === 'end') continue;
    let start = pos;
    if (bytes[start] === 0x0d) start++;
    if (bytes[start] === 0x0a) start++;
    if (start === pos) continue;
    const end = bytes.indexOf(END_STREAM, start);
    if (end < 0) return total;
    pos = end + END_STREAM.length;
    const window = bytes.toString('latin1', Math.max(0, at - 2048), at);
    const dict = window.slice(window.lastIndexOf(' obj') + 1);
    if (/\/Subtype\s*\/Image\b/.test(dict) || !/\/(FlateDecode|Fl)\b/.test(dict)) continue;
    try {
      total += inflateSync(bytes.subarray(start, end), { maxOutputLength: max - total + 1, finishFlush: constants.Z_SYNC_FLUSH }).length;
    } catch (err) {
      if ((err as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') return max + 1;
      // Not inflatable (another filter first, or damaged): pdf.js will judge it.
    }
    if (total > max) return total;
  }
}

async function run(input: PdfWorkerInput): Promise<PdfWorkerReply> {
  const bytes = Buffer.from(input.bytes.buffer, input.bytes.byteOffset, input.bytes.byteLength);
  const inflated = inflatedSize(bytes, input.maxInflatedBytes);
  if (inflated > input.maxInflatedBytes) {
    return { kind: 'limit', pages: 0, reason: `its streams inflate to more than ${input.maxInflatedBytes} bytes (IDR_PDF_MAX_INFLATED_BYTES)` };
  }
  let doc: Awaited<ReturnType<typeof getDocumentProxy>>;
  try {
    doc = await getDocumentProxy(new Uint8Array(bytes), { verbosity: 0 });
  } catch (err) {
    const e = err as Error;
    return e.name === 'PasswordException' ? { kind: 'encrypted', message: e.message } : { kind: 'unreadable', message: e.message };
  }
  try {
    if (doc.numPages > input.maxPages) {
      return { kind: 'limit', pages: doc.numPages, reason: `it has ${doc.numPages} pages; text is extracted from PDFs of at most ${input.maxPages} pages (IDR_PDF_MAX_PAGES)` };
    }
    const meta = (await getMeta(doc)) as { info?: Record<string, unknown> };
    const info: Record<string, string> = {};
    for (const key of INFO_KEYS) {
      const v = meta.info?.[key];
      if (typeof v === 'string' && v.trim()) info[key] = v.trim();
    }
    const { totalPages, text } = await extractText(doc, { mergePages: false });
    return { kind: 'text', pages: totalPages, texts: text, info };
  } catch (err) {
    return { kind: 'unreadable', message: (err as Error).message };
  } finally {
    await doc.loadingTask.destroy();
  }
}

if (parentPort) {
  const port = parentPort;
  port.on('message', (input: PdfWorkerInput) => {
    void run(input).then(
      (reply) => port.postMessage(reply),
      (err: unknown) => port.postMessage({ kind: 'unreadable', message: (err as Error)?.message ?? String(err) } satisfies PdfWorkerReply),
    );
  });
}
