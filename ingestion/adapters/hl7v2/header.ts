import { AdapterError } from '../types.ts';
import type { Delimiters } from './escape.ts';

/** What an MLLP listener needs from MSH to build an ACK, read without parsing the whole message. */
export interface MessageHeader {
  /** MSH-9.1, e.g. `ORU`. */
  messageType: string;
  /** MSH-9.2, e.g. `R01`. */
  triggerEvent: string;
  /** MSH-10. */
  controlId: string;
  /** MSH-12.1, e.g. `2.5.1`. */
  version: string;
  /** MSH-3 as sent (still escaped, components kept), to echo in the ACK's MSH-5. */
  sendingApplication: string;
  /** MSH-4 as sent (still escaped, components kept), to echo in the ACK's MSH-6. */
  sendingFacility: string;
  /** MSH-1. */
  fieldSeparator: string;
  /** MSH-2, e.g. `^~\&`. */
  encodingCharacters: string;
}

const BOM = '\uFEFF';
const MLLP_START = '\u000b';
const MLLP_END = '\u001c';

/** Strips a UTF-8 BOM, MLLP framing and surrounding blank lines from one message. */
export function stripFraming(raw: string): string {
  let text = raw.startsWith(BOM) ? raw.slice(1) : raw;
  if (text.startsWith(MLLP_START)) text = text.slice(1);
  const end = text.lastIndexOf(MLLP_END);
  if (end >= 0 && text.slice(end + 1).trim() === '') text = text.slice(0, end);
  // trimEnd, not /\s+$/: that regex is quadratic on long runs of blanks that do not end the text.
  return text.replace(/^[\r\n]+/, '').trimEnd();
}

/** Checks MSH-1 and MSH-2 and returns the message's delimiters. See HL7 v2.5 section 2.5.4. */
export function readDelimiters(text: string): Delimiters {
  if (!text.startsWith('MSH')) {
    const start = JSON.stringify(text.slice(0, 20));
    throw new AdapterError('MSH', `message must start with an MSH segment, got ${start}`);
  }
  const field = text.charAt(3);
  if (!field || /[A-Za-z0-9\s]/.test(field)) {
    throw new AdapterError('MSH-1', `field separator must be a punctuation character (usually "|"), got ${JSON.stringify(field)}`);
  }
  const msh2End = text.indexOf(field, 4);
  const enc = msh2End < 0 ? text.slice(4).split(/[\r\n]/)[0] ?? '' : text.slice(4, msh2End);
  const chars = [...enc];
  // 2.7+ may add a fifth, truncation character (usually '#').
  const valid =
    (chars.length === 4 || chars.length === 5) &&
    new Set([field, ...chars]).size === chars.length + 1 &&
    chars.every((c) => !/[A-Za-z0-9\s]/.test(c));
  if (!valid) {
    throw new AdapterError('MSH-2', `encoding characters must be 4 distinct punctuation characters other than the field separator (usually "^~\\&"), got ${JSON.stringify(enc)}`);
  }
  const [component, repetition, escape, subcomponent] = chars as [string, string, string, string];
  return { field, component, repetition, escape, subcomponent };
}

/** Reads MSH for building an ACK; throws AdapterError when there is no usable MSH. */
export function peekMessageHeader(raw: string): MessageHeader {
  const text = stripFraming(raw);
  const d = readDelimiters(text);
  const msh = (text.split(/\r\n|\r|\n/, 1)[0] ?? '').split(d.field);
  // msh[0] is "MSH", msh[1] is MSH-2: MSH-n is msh[n - 1] for n >= 2.
  const f = (n: number): string => (msh[n - 1] ?? '').trim();
  const c = (n: number, i: number): string => (f(n).split(d.component)[i - 1] ?? '').trim();
  return {
    messageType: c(9, 1),
    triggerEvent: c(9, 2),
    controlId: f(10),
    version: c(12, 1),
    sendingApplication: f(3),
    sendingFacility: f(4),
    fieldSeparator: d.field,
    encodingCharacters: f(2),
  };
}
