import { TextDecoder } from 'node:util';

/** What a file is, judged from its bytes first and its declared type or name only when the bytes say nothing. */
export type DocumentKind = 'pdf' | 'text' | 'ccda' | 'hl7v2' | 'dicom' | 'unknown';

const latin1 = new TextDecoder('latin1');
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });
const MLLP_START = String.fromCharCode(0x0b);

/** True when the bytes start (within the first 1024 bytes, as PDF readers allow) with `%PDF-`. */
export function hasPdfHeader(bytes: Uint8Array): boolean {
  return latin1.decode(bytes.subarray(0, 1024)).includes('%PDF-');
}

/** True when the bytes are UTF-8 text without NUL bytes. */
export function isText(bytes: Uint8Array): boolean {
  if (bytes.includes(0)) return false;
  try {
    strictUtf8.decode(bytes);
    return true;
  } catch {
    return false;
  }
}

/** The name of the first element of an XML text, skipping the declaration, comments, processing instructions and DOCTYPE. */
export function xmlRootName(text: string): string | undefined {
  const body = text.replace(/^\uFEFF/, '').replace(/<\?[\s\S]*?\?>|<!--[\s\S]*?-->|<!DOCTYPE[^>[]*(\[[\s\S]*?\])?\s*>/g, '').trimStart();
  return /^<([A-Za-z_][\w.:-]*)/.exec(body)?.[1];
}

/**
 * Detects the kind of an incoming file: magic bytes first (DICM at 128, %PDF-, MSH, a
 * ClinicalDocument root), then plain UTF-8 text; `contentType` / `filename` only break ties
 * for text (e.g. an HL7 batch with a header line). Binary bytes of no known kind are 'unknown'.
 */
export function detectDocumentKind(bytes: Uint8Array, contentType?: string, filename?: string): DocumentKind {
  if (bytes.length >= 132 && latin1.decode(bytes.subarray(128, 132)) === 'DICM') return 'dicom';
  if (hasPdfHeader(bytes)) return 'pdf';
  if (!isText(bytes)) return 'unknown';
  // Strip a UTF-8 byte-order mark (read as Latin-1) and an MLLP start block (0x0B).
  let head = latin1.decode(bytes.subarray(0, 4096)).replace(/^\u00ef\u00bb\u00bf/, '');
  if (head.startsWith(MLLP_START)) head = head.slice(1);
  head = head.trimStart();
  if (/^MSH./.test(head)) return 'hl7v2';
  if (head.startsWith('<')) {
    const root = xmlRootName(head);
    return root && /(^|:)ClinicalDocument$/.test(root) ? 'ccda' : 'unknown';
  }
  const type = (contentType ?? '').toLowerCase();
  if (type.includes('hl7-v2') || /\.hl7$/i.test(filename ?? '')) return 'hl7v2';
  return 'text';
}
