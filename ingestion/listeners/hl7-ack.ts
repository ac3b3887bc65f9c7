import { peekMessageHeader, type MessageHeader } from '../adapters/hl7v2/index.ts';
import type { IngestResult } from '../pipeline.ts';

/** HL7 table 0008 acknowledgment codes (original mode). */
export const ACK_CODE = { accept: 'AA', error: 'AE', reject: 'AR' } as const;
export type AckCode = (typeof ACK_CODE)[keyof typeof ACK_CODE];

/** Why a message was not accepted, for the ERR segment (HL7 table 0357 codes). */
export interface AckError {
  /** e.g. "OBX[3]-5" */
  location: string;
  message: string;
  /** 0357: 100 segment sequence, 101 required field missing, 102 data type, 200 unsupported message type, 203 unsupported version, 207 application internal error */
  code: '100' | '101' | '102' | '103' | '200' | '201' | '203' | '207';
}

/**
 * Builds an original-mode ACK for a received message (HL7 v2.5 section 2.9): MSH with sender and
 * receiver swapped, MSA with the code and the original control id, and an ERR segment when the
 * message was not accepted. Works even when the message had no usable MSH.
 */
export function buildAck(raw: string, code: AckCode, options: { controlId: string; now: Date; text?: string; error?: AckError }): string {
  let h: MessageHeader | undefined;
  try {
    h = peekMessageHeader(raw);
  } catch {
    h = undefined;
  }
  const version = h?.version && /^2\.\d(\.\d+)?$/.test(h.version) ? h.version : '2.5.1';
  const esc = (s: string): string => s.replace(/\\/g, '\\E\\').replace(/\|/g, '\\F\\').replace(/\^/g, '\\S\\').replace(/&/g, '\\T\\').replace(/~/g, '\\R\\').replace(/[\r\n]+/g, ' ');
  // Values echoed from the message are in the sender's delimiters: written in the ACK's own.
  const echo = (value: string | undefined): string => (h && value ? inAckDelimiters(value, h) : '');
  const ts = formatTs(options.now);
  const segments = [
    `MSH|^~\\&|IDR|IDR|${echo(h?.sendingApplication)}|${echo(h?.sendingFacility)}|${ts}||ACK^${echo(h?.triggerEvent)}^ACK|${options.controlId}|P|${version}`,
    `MSA|${code}|${echo(h?.controlId)}${options.text ? `|${esc(options.text).slice(0, 80)}` : ''}`,
  ];
  if (options.error) {
    const erl = erlOf(options.error.location);
    segments.push(`ERR||${erl}|${options.error.code}^${TABLE_0357[options.error.code]}^HL70357|E||||${esc(options.error.message)}`);
  }
  return segments.join('\r');
}

/** The ACK's delimiters (`|^~\&`) as escape sequences, for data characters that are delimiters there. */
const ESCAPED: Readonly<Record<string, string>> = { '|': '\\F\\', '^': '\\S\\', '~': '\\R\\', '\\': '\\E\\', '&': '\\T\\' };

/**
 * A value from the received MSH, rewritten from the sender's delimiters to the ACK's: the
 * sender's component, repetition and subcomponent separators become `^ ~ &`, its escape
 * sequences are kept (with `\`), and characters that are delimiters in the ACK are escaped, so a
 * sender using other delimiters (say `#` as field separator and `|` in a value) cannot add or
 * shift fields of the ACK. See HL7 v2.5 sections 2.5.4 and 2.7.
 */
export function inAckDelimiters(value: string, h: Pick<MessageHeader, 'fieldSeparator' | 'encodingCharacters'>): string {
  const [component, repetition, escape, subcomponent] = [...h.encodingCharacters];
  // \F\ \S\ \T\ \R\ \E\ stand for the sender's delimiter characters: in the ACK they are data.
  const named: Record<string, string | undefined> = { F: h.fieldSeparator, S: component, T: subcomponent, R: repetition, E: escape };
  const data = (c: string): string => (c === '\r' || c === '\n' ? ' ' : (ESCAPED[c] ?? c));
  let out = '';
  for (let i = 0; i < value.length; i++) {
    const c = value.charAt(i);
    if (c === escape) {
      const end = value.indexOf(escape, i + 1);
      if (end > i) {
        const body = value.slice(i + 1, end);
        const literal = named[body];
        out += literal !== undefined ? data(literal) : `\\${[...body].map((x) => (x in ESCAPED ? '' : x)).join('')}\\`;
        i = end;
        continue;
      }
    }
    if (c === component) out += '^';
    else if (c === repetition) out += '~';
    else if (c === subcomponent) out += '&';
    else out += data(c);
  }
  return out;
}

const TABLE_0357: Record<AckError['code'], string> = {
  '100': 'Segment sequence error',
  '101': 'Required field missing',
  '102': 'Data type error',
  '103': 'Table value not found',
  '200': 'Unsupported message type',
  '201': 'Unsupported event code',
  '203': 'Unsupported version id',
  '207': 'Application internal error',
};

/** "OBX[3]-5" -> ERL "OBX^3^5"; "MSH-9" -> "MSH^1^9". */
function erlOf(location: string): string {
  const m = /^([A-Z][A-Z0-9]{2})(?:\[(\d+)\])?(?:-(\d+))?/.exec(location);
  if (!m) return '';
  return [m[1], m[2] ?? '1', m[3] ?? ''].join('^').replace(/\^$/, '');
}

function formatTs(d: Date): string {
  const p = (n: number, w = 2): string => String(n).padStart(w, '0');
  return `${d.getUTCFullYear()}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}+0000`;
}

/** Chooses the ACK code and ERR for a pipeline result: AA for processed/duplicate, AR for unacceptable messages, AE for data errors. */
export function ackFor(result: IngestResult): { code: AckCode; text: string; error?: AckError } {
  if (result.status !== 'failed') return { code: ACK_CODE.accept, text: result.status === 'duplicate' ? 'duplicate; already processed' : 'processed' };
  const location = result.error?.location ?? '';
  const message = `${result.error?.message ?? 'failed'} (stored as ${result.inboxId})`;
  if (location === 'MSH' || location === 'MSH-1' || location === 'MSH-2' || location === 'MSH-18') return { code: ACK_CODE.reject, text: 'rejected', error: { location, message, code: '100' } };
  if (location === 'MSH-9') return { code: ACK_CODE.reject, text: 'rejected', error: { location, message, code: '200' } };
  if (location === 'MSH-12') return { code: ACK_CODE.reject, text: 'rejected', error: { location, message, code: '203' } };
  const code: AckError['code'] = /missing|required|no /i.test(message) ? '101' : /expected|type|number|date/i.test(message) ? '102' : location ? '100' : '207';
  return { code: ACK_CODE.error, text: 'error', error: { location, message, code } };
}
