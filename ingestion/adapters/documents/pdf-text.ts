import { extractText, getDocumentProxy, getMeta } from 'unpdf';
import { AdapterError } from '../types.ts';

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

function info(meta: unknown, key: string): string | undefined {
  const v = (meta as { info?: Record<string, unknown> }).info?.[key];
  return typeof v === 'string' && v.trim() ? v.trim() : undefined;
}

/**
 * Extracts the text of a PDF with unpdf (pdf.js), page by page, plus title, author and creation
 * date. Corrupt and password-protected PDFs are refused (`pdf`); a PDF without text (scanned
 * letter) is not an error: the text is empty and a warning says so.
 */
export async function pdfToText(bytes: Uint8Array): Promise<PdfText> {
  const warnings: string[] = [];
  let doc: Awaited<ReturnType<typeof getDocumentProxy>>;
  try {
    // pdf.js may transfer (detach) the buffer it is given: pass a copy. verbosity 0 keeps its warnings off stdout.
    doc = await getDocumentProxy(new Uint8Array(bytes), { verbosity: 0 });
  } catch (err) {
    const e = err as Error;
    if (e.name === 'PasswordException') throw new AdapterError('pdf', `encrypted PDF (a password is needed to open it): ${e.message}`);
    throw new AdapterError('pdf', `not a readable PDF: ${e.message}`);
  }
  try {
    const meta = await getMeta(doc);
    if (info(meta, 'EncryptFilterName')) warnings.push('encrypted PDF opened with an empty user password');
    const { totalPages, text } = await extractText(doc, { mergePages: false });
    const pages = text.map((t) => t.trim());
    const joined = pages.filter(Boolean).join('\n\n');
    if (!joined) warnings.push('no extractable text (image-only PDF?)');
    const out: PdfText = { text: joined, pages: totalPages, warnings };
    const title = info(meta, 'Title');
    if (title) out.title = title;
    const author = info(meta, 'Author');
    if (author) out.author = author;
    const created = pdfDate(info(meta, 'CreationDate'));
    if (created) out.creationDate = created;
    return out;
  } catch (err) {
    if (err instanceof AdapterError) throw err;
    throw new AdapterError('pdf', `not a readable PDF: ${(err as Error).message}`);
  } finally {
    await doc.loadingTask.destroy();
  }
}
