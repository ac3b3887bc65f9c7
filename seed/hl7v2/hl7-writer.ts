/**
 * A small HL7 v2 encoder. Fields are given as nested arrays (components, then subcomponents) and
 * every leaf value is escaped exactly once, so free text can never break the message structure.
 * See: HL7 v2.5.1 chapter 2.7 (message construction rules) and 2.7.4 (escape sequences).
 */

/** A leaf value: text (escaped on output), a number, or empty. */
export type Leaf = string | number | null | undefined;
/** A component: a leaf, or an array of subcomponents (joined with `&`). */
export type Component = Leaf | readonly Leaf[];
/** A field value: a single component, or an array of components (joined with `^`). */
export type FieldValue = Component | readonly Component[];
/** Several repetitions of a field (joined with `~`). */
export interface Repeated {
  readonly repeat: readonly FieldValue[];
}
/** One field of a segment. */
export type Field = FieldValue | Repeated;

/** The segment separator used for every message the seed writes. */
export const SEGMENT_SEPARATOR = '\r';

const ESCAPES: Record<string, string> = {
  '\\': '\\E\\',
  '|': '\\F\\',
  '^': '\\S\\',
  '&': '\\T\\',
  '~': '\\R\\',
};

/** Escapes the delimiters `| ^ ~ \ &` as `\F\ \S\ \R\ \E\ \T\`; line breaks become `\.br\`. */
export function escapeText(text: string): string {
  return text.replace(/\r\n|[\r\n]|[\\|^&~]/g, (ch) => ESCAPES[ch] ?? '\\.br\\');
}

/** The inverse of {@link escapeText} (used by tests and for reading back what was written). */
export function unescapeText(text: string): string {
  const map: Record<string, string> = { E: '\\', F: '|', S: '^', T: '&', R: '~', '.br': '\n' };
  return text.replace(/\\(E|F|S|T|R|\.br)\\/g, (_m, code: string) => map[code] ?? '');
}

function leaf(value: Leaf): string {
  if (value === null || value === undefined) return '';
  return escapeText(typeof value === 'number' ? String(value) : value);
}

/** Joins parts with a separator, dropping trailing empty parts. */
function joinTrimmed(parts: string[], separator: string): string {
  let end = parts.length;
  while (end > 0 && parts[end - 1] === '') end--;
  return parts.slice(0, end).join(separator);
}

function encodeComponent(component: Component): string {
  return Array.isArray(component) ? joinTrimmed(component.map(leaf), '&') : leaf(component as Leaf);
}

function encodeFieldValue(value: FieldValue): string {
  return Array.isArray(value)
    ? joinTrimmed((value as readonly Component[]).map(encodeComponent), '^')
    : encodeComponent(value as Component);
}

function isRepeated(field: Field): field is Repeated {
  return typeof field === 'object' && field !== null && !Array.isArray(field) && 'repeat' in field;
}

/** Encodes one field. */
export function encodeField(field: Field): string {
  return isRepeated(field) ? field.repeat.map(encodeFieldValue).join('~') : encodeFieldValue(field);
}

/** Encodes a segment; `fields[0]` is field 1 (e.g. PID-1). Trailing empty fields are dropped. */
export function segment(name: string, fields: readonly Field[]): string {
  const encoded = joinTrimmed(fields.map(encodeField), '|');
  return encoded === '' ? name : `${name}|${encoded}`;
}

/** Encodes an MSH segment; `fields[0]` is MSH-3 (MSH-1 `|` and MSH-2 `^~\&` are written here). */
export function mshSegment(fields: readonly Field[]): string {
  return `MSH|^~\\&|${joinTrimmed(fields.map(encodeField), '|')}`;
}

/** Joins segments into one message. */
export function message(segments: readonly string[]): string {
  return segments.join(SEGMENT_SEPARATOR);
}
