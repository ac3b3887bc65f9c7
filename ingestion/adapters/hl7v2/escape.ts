/**
 * HL7 v2 escape sequences (v2.5 section 2.7). @medplum/core splits on the delimiters but leaves
 * escape sequences in place, so every leaf value read by the adapter goes through `unescapeHl7`.
 */

/** The delimiters of one message (MSH-1 and MSH-2). */
export interface Delimiters {
  field: string;
  component: string;
  repetition: string;
  escape: string;
  subcomponent: string;
}

/** Formatting commands of FT that carry no text; they are dropped. */
const DROPPED = new Set(['H', 'N', '.fi', '.nf']);

/** Replaces escape sequences (\F\ \S\ \T\ \R\ \E\ \.br\ \Xhh\ ...) with the characters they stand for. */
export function unescapeHl7(value: string, d: Delimiters): string {
  const esc = d.escape;
  if (!esc || !value.includes(esc)) return value;
  let out = '';
  let i = 0;
  while (i < value.length) {
    const start = value.indexOf(esc, i);
    if (start < 0) break;
    const end = value.indexOf(esc, start + 1);
    if (end < 0) break; // unterminated: keep the rest literally
    out += value.slice(i, start);
    out += translate(value.slice(start + 1, end), d, esc);
    i = end + 1;
  }
  return out + value.slice(i);
}

function translate(seq: string, d: Delimiters, esc: string): string {
  switch (seq) {
    case 'F': return d.field;
    case 'S': return d.component;
    case 'T': return d.subcomponent;
    case 'R': return d.repetition;
    case 'E': return d.escape;
    case '.br': return '\n';
    default: break;
  }
  if (DROPPED.has(seq)) return '';
  if (seq.startsWith('.sp')) return '\n'.repeat(Math.max(1, Number.parseInt(seq.slice(3), 10) || 1));
  if (seq.startsWith('.sk')) return ' '.repeat(Math.max(1, Number.parseInt(seq.slice(3), 10) || 1));
  if (seq.startsWith('.in') || seq.startsWith('.ti') || seq === '.ce') return '';
  if (seq.startsWith('X') && /^X(?:[0-9A-Fa-f]{2})+$/.test(seq)) return Buffer.from(seq.slice(1), 'hex').toString('utf8');
  if (/^[CM][0-9A-Fa-f]+$/.test(seq)) return ''; // character-set switches: the text is already decoded
  return `${esc}${seq}${esc}`; // unknown: keep as sent
}
