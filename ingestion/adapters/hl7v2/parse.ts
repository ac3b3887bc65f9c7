import { Hl7Message } from '@medplum/core';
import { AdapterError } from '../types.ts';
import type { Delimiters } from './escape.ts';
import { readDelimiters, stripFraming } from './header.ts';
import { Segment } from './segment.ts';

/** One message, split into segments, with the delimiters it declared. */
export interface ParsedMessage {
  delimiters: Delimiters;
  segments: Segment[];
  msh: Segment;
}

// Control characters other than \t \n \r, DEL, and U+FFFD (what a UTF-8 decoder makes of invalid bytes).
// eslint-disable-next-line no-control-regex -- finding control characters is the point
const NON_TEXT = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f\ufffd]/;
const SEGMENT_START = /^[A-Z][A-Z0-9]{2}$/;

/**
 * Parses one message with @medplum/core's Hl7Message after the checks it does not make:
 * text only, valid MSH-1/MSH-2, every line a segment. Segment separators may be \r, \n or \r\n.
 */
export function parseMessage(raw: string, warnings: string[]): ParsedMessage {
  const text = stripFraming(raw);
  const d = readDelimiters(text);
  const lines = text.split(/\r\n|\r|\n/);
  checkText(lines);
  const segmentTexts: string[] = [];
  const counts = new Map<string, number>();
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? '';
    if (line.trim() === '') continue;
    const name = line.slice(0, 3);
    if (SEGMENT_START.test(name) && (line.length === 3 || line.charAt(3) === d.field)) {
      segmentTexts.push(line);
      counts.set(name, (counts.get(name) ?? 0) + 1);
      continue;
    }
    // A bare line break inside OBX/NTE text (sender did not escape it): keep it as an escaped break.
    const prev = segmentTexts.length - 1;
    const prevName = segmentTexts[prev]?.slice(0, 3);
    if (prevName === 'OBX' || prevName === 'NTE') {
      segmentTexts[prev] += `${d.escape}.br${d.escape}${line}`;
      warnings.push(`${prevName}[${counts.get(prevName)}]: unescaped line break in the text kept as a line break`);
      continue;
    }
    const after = prevName ? ` (after ${prevName}[${counts.get(prevName)}])` : '';
    throw new AdapterError(`line ${i + 1}`, `expected a segment (3-character id then "${d.field}")${after}, got ${JSON.stringify(line.slice(0, 30))}`);
  }
  let message: Hl7Message;
  try {
    message = Hl7Message.parse(segmentTexts.join('\r'));
  } catch (err) {
    throw new AdapterError('MSH', `not parseable as HL7 v2: ${(err as Error).message}`);
  }
  const ordinals = new Map<string, number>();
  const segments = message.segments.map((seg) => {
    const n = (ordinals.get(seg.name) ?? 0) + 1;
    ordinals.set(seg.name, n);
    return new Segment(seg, n, counts.get(seg.name) ?? 1, d);
  });
  const msh = segments[0];
  if (!msh || msh.name !== 'MSH') throw new AdapterError('MSH', 'MSH segment missing');
  return { delimiters: d, segments, msh };
}

function checkText(lines: string[]): void {
  const counts = new Map<string, number>();
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? '';
    const name = line.slice(0, 3);
    counts.set(name, (counts.get(name) ?? 0) + 1);
    const m = NON_TEXT.exec(line);
    if (!m) continue;
    const ch = m[0];
    const what = ch === '\ufffd' ? 'an invalid UTF-8 sequence (U+FFFD)' : `a non-text byte 0x${ch.charCodeAt(0).toString(16).padStart(2, '0')}`;
    const where = SEGMENT_START.test(name) ? `${name}[${counts.get(name)}]` : `line ${i + 1}`;
    throw new AdapterError(where, `contains ${what} at character ${m.index + 1}; HL7 v2 messages must be text`);
  }
}
