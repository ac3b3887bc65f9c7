/**
 * A seeded mutation fuzzer's mutators for the adapters' inputs: HL7 v2 text, DICOM Part 10 bytes,
 * C-CDA XML and raw bytes (PDF, text). Each mutation is drawn from a seeded generator, so a
 * (seed, case) pair always gives the same input; `ops` names what was done, to reproduce a finding.
 */

/** A seeded pseudo-random generator: the same seed gives the same sequence on every platform. */
export interface Rng {
  /** A float in [0, 1). */
  next: () => number;
  /** An integer in [min, max], both inclusive. */
  int: (min: number, max: number) => number;
  /** True with probability p. */
  chance: (p: number) => boolean;
  /** One element of a non-empty array. */
  pick: <T>(items: readonly T[]) => T;
}

/** A small 32-bit generator (splitmix-style increment, xorshift-multiply output mix). */
export function seededRng(seed: number): Rng {
  let state = seed >>> 0;
  const next = (): number => {
    state = (state + 0x9e3779b9) >>> 0;
    let z = state;
    z = Math.imul(z ^ (z >>> 16), 0x21f0aaad);
    z = Math.imul(z ^ (z >>> 15), 0x735a2d97);
    return ((z ^ (z >>> 15)) >>> 0) / 4294967296;
  };
  const int = (min: number, max: number): number => min + Math.floor(next() * (max - min + 1));
  return {
    next,
    int,
    chance: (p) => next() < p,
    pick: <T>(items: readonly T[]): T => {
      if (items.length === 0) throw new Error('pick() needs a non-empty array');
      return items[int(0, items.length - 1)] as T;
    },
  };
}

/** One mutated input and the operations that made it. */
export interface Mutant<T> {
  value: T;
  ops: string[];
}

/** Characters that HL7 v2 and XML parsers treat specially, plus control and non-BMP characters. */
const ODD_CHARS = ['|', '^', '~', '\\', '&', '#', '\r', '\n', '\r\n', '\t', '\u0000', '\u000b', '\u001c', '\u007f', '\ufffd', '\ufeff', '\u00e9', '\u20ac', '\ud83d\ude00', '\ud800', '<', '>', '"', "'", ' ', ''];

/** Escape sequences, valid and broken (HL7 v2.5 section 2.7). */
const ESCAPES = ['\\F\\', '\\S\\', '\\T\\', '\\R\\', '\\E\\', '\\.br\\', '\\H\\', '\\N\\', '\\X0D0A\\', '\\X\\', '\\XZZ\\', '\\X4\\', '\\Zabc\\', '\\C2842\\', '\\M2442\\', '\\.sp5\\', '\\.in-9999\\', '\\.ti+3\\', '\\', '\\\\', '\\F', 'F\\', '\\.ce\\', '\\.fi\\', '\\.nf\\', '\\.skip\\'];

/** Values that break date, time and number parsing. */
const BAD_VALUES = ['', '""', '0', '-0', '00000000', '20241301', '20240230', '20240229250000', '2024022923596', '99991231235959.9999+1400', '20240101+9999', '20240101-', '2024-01-01', '1e999', '-1e999', 'NaN', 'Infinity', '1.2.3', '--1', '+', '.', '0x1F', '\u0661\u0662\u0663', '9'.repeat(400), '1'.repeat(40) + '.' + '1'.repeat(40), '<5', '>', '^', '1:0', '1/0', '3.5E+', ' 12 '];

/** Codes HL7 v2 fields take (value types, statuses, flags, identifier types), put where others are expected. */
const CODES = ['NM', 'SN', 'ST', 'CE', 'CWE', 'CNE', 'TX', 'FT', 'ED', 'RP', 'DT', 'TS', 'DTM', 'TM', 'NA', 'CX', 'XPN', 'HD', 'XX', 'F', 'C', 'P', 'X', 'W', 'D', 'I', 'R', 'S', 'A', 'N', 'H', 'L', 'HH', 'LL', 'U', 'O', 'MR', 'NNNLD', 'ORU^R01', 'MDM^T02', 'ORU^R30', 'ACK', '2.3', '2.5.1', '2.9', '3.0', 'ISO', 'UNICODE UTF-8', '8859/1', 'ASCII'];

/** Segment names worth inserting where they do not belong. */
const SEGMENT_NAMES = ['MSH', 'PID', 'PV1', 'ORC', 'OBR', 'OBX', 'NTE', 'SPM', 'TXA', 'EVN', 'FHS', 'BHS', 'BTS', 'FTS', 'ZZZ', 'msh', 'PI', 'P1D'];

const text = (r: Rng, items: readonly string[]): string => r.pick(items);

function splitSegments(message: string): string[] {
  return message.split(/\r\n|\r|\n/);
}

/** One mutation of an HL7 v2 message text; returns the new text and a label. */
function mutateHl7Once(message: string, r: Rng, maxRepeat: number): [string, string] {
  const segments = splitSegments(message);
  const si = r.int(0, Math.max(0, segments.length - 1));
  const seg = segments[si] ?? '';
  const fields = seg.split('|');
  const fi = r.int(0, Math.max(0, fields.length - 1));
  const join = (list: string[]): string => list.join(r.chance(0.9) ? '\r' : r.pick(['\n', '\r\n']));
  const withField = (value: string): string => {
    const copy = [...fields];
    copy[fi] = value;
    const out = [...segments];
    out[si] = copy.join('|');
    return join(out);
  };
  const op = r.int(0, 19);
  switch (op) {
    case 18: {
      const v = text(r, CODES);
      return [withField(v), `field ${si}.${fi} -> code ${JSON.stringify(v)}`];
    }
    case 19: {
      // OBX-2 (value type) and OBX-5 (value) of one OBX, so values meet types they do not fit.
      const obx = segments.map((s, i) => [s, i] as const).filter(([s]) => s.startsWith('OBX'));
      if (!obx.length) return [message, 'no OBX'];
      const [line, i] = r.pick(obx);
      const f = line.split('|');
      if (r.chance(0.5)) f[2] = text(r, CODES);
      else f[5] = r.chance(0.5) ? text(r, BAD_VALUES) : text(r, ['^<^5', '>^10', '1^-^2', '^1^:^3', '2^1', 'a^b^c^d^e^f^g', 'abc^Text^L', '20240101', 'x&y&z', '^^^^^^^^^^^', 'IDR&1.2.3&ISO^TYPE^Base64^AAAA', '^image^jpeg^Base64^%%%']);
      const out = [...segments];
      out[i] = f.join('|');
      return [join(out), `OBX line ${i}: type ${f[2]}, value ${JSON.stringify((f[5] ?? '').slice(0, 30))}`];
    }
    case 0: {
      const at = r.int(0, message.length);
      const ch = text(r, ODD_CHARS);
      return [message.slice(0, at) + ch + message.slice(at + 1), `replace char ${at} with ${JSON.stringify(ch)}`];
    }
    case 1: {
      const at = r.int(0, message.length);
      return [message.slice(0, at), `truncate at ${at}`];
    }
    case 2: {
      const out = [...segments];
      const to = r.int(0, out.length);
      out.splice(to, 0, seg);
      return [join(out), `duplicate segment ${si} to ${to}`];
    }
    case 3: {
      const out = [...segments];
      out.splice(si, 1);
      return [join(out), `delete segment ${si}`];
    }
    case 4: {
      const copy = [...fields];
      if (r.chance(0.5)) copy.splice(fi, 0, fields[fi] ?? '');
      else copy.splice(fi, 1);
      const out = [...segments];
      out[si] = copy.join('|');
      return [join(out), `duplicate or delete field ${si}.${fi}`];
    }
    case 5: {
      const from = text(r, ['|', '^', '~', '\\', '&']);
      const to = text(r, ['|', '^', '~', '\\', '&', '#', '!', '\t', ' ', 'A']);
      return [r.chance(0.5) ? message.split(from).join(to) : message.replace(from, to), `delimiter ${JSON.stringify(from)} -> ${JSON.stringify(to)}`];
    }
    case 6: {
      const mshEnc = text(r, ['^~\\&', '^~\\&#', '^~\\', '^^\\&', '', '|~\\&', 'abcd', '^~\\&^~\\&', '\u00e9~\\&']);
      return [message.replace(/^MSH\|[^|]*/, `MSH|${mshEnc}`), `MSH-2 -> ${JSON.stringify(mshEnc)}`];
    }
    case 7: {
      const n = r.int(2, Math.min(300, maxRepeat));
      const sep = text(r, ['~', '^', '&', '|']);
      return [withField(Array.from({ length: n }, () => fields[fi] ?? 'X').join(sep)), `repeat field ${si}.${fi} ${n}x with ${sep}`];
    }
    case 8: {
      const n = r.int(2, Math.min(400, maxRepeat));
      const out = [...segments];
      out.splice(si, 1, ...Array.from({ length: n }, () => seg));
      return [join(out), `repeat segment ${si} ${n}x`];
    }
    case 9: {
      const at = r.int(0, message.length);
      const e = text(r, ESCAPES);
      return [message.slice(0, at) + e + message.slice(at), `insert escape ${JSON.stringify(e)} at ${at}`];
    }
    case 10: {
      const v = text(r, BAD_VALUES);
      return [withField(v), `field ${si}.${fi} -> ${JSON.stringify(v.slice(0, 40))}`];
    }
    case 11: {
      // Replace a date-like or number-like token anywhere with a bad value.
      const tokens = [...message.matchAll(/\d[\d.+-]*/g)];
      const m = tokens.length ? r.pick(tokens) : undefined;
      if (!m || m.index === undefined) return [message, 'no number to replace'];
      const v = text(r, BAD_VALUES);
      return [message.slice(0, m.index) + v + message.slice(m.index + m[0].length), `token ${JSON.stringify(m[0])} -> ${JSON.stringify(v.slice(0, 40))}`];
    }
    case 12: {
      const name = text(r, SEGMENT_NAMES);
      const out = [...segments];
      out[si] = name + seg.slice(3);
      return [join(out), `segment ${si} renamed ${name}`];
    }
    case 13: {
      const out = [...segments];
      const j = r.int(0, Math.max(0, out.length - 1));
      [out[si], out[j]] = [out[j] ?? '', out[si] ?? ''];
      return [join(out), `swap segments ${si} and ${j}`];
    }
    case 14: {
      const comps = (fields[fi] ?? '').split('^');
      const ci = r.int(0, comps.length);
      comps.splice(ci, 0, ...Array.from({ length: r.int(1, 30) }, () => text(r, ['', '&', 'x&y', '^', ...BAD_VALUES])));
      return [withField(comps.join('^')), `components into field ${si}.${fi}`];
    }
    case 15: {
      const n = r.int(1, 20000);
      return [withField((fields[fi] ?? '') + text(r, ['A', 'é', '\\', '~', ' ', '9']).repeat(n)), `long field ${si}.${fi} +${n}`];
    }
    case 16: {
      const lines = message.replace(/\r\n|\r|\n/g, text(r, ['\n', '\r\n', '\n\r', '\r\r', '\u001c\r', '\u000b']));
      return [lines, 'segment separators changed'];
    }
    default: {
      const copy = [...fields];
      copy.length = r.int(0, fields.length + 40);
      const out = [...segments];
      out[si] = Array.from(copy, (f) => f ?? '').join('|');
      return [join(out), `segment ${si} resized to ${copy.length} fields`];
    }
  }
}

/** Applies 1 to `max` random HL7 v2 mutations to a message; repetitions of a field or segment stay within `maxRepeat`. */
export function mutateHl7(message: string, r: Rng, max = 3, maxRepeat = 400): Mutant<string> {
  let value = message;
  const ops: string[] = [];
  const n = r.int(1, max);
  for (let i = 0; i < n; i++) {
    const [next, op] = mutateHl7Once(value, r, maxRepeat);
    value = next;
    ops.push(op);
  }
  return { value, ops };
}

/** Byte-level mutations (flip, overwrite, insert, delete, truncate, duplicate) of any input. */
function mutateBytesOnce(bytes: Uint8Array, r: Rng, focusEnd = bytes.length): [Uint8Array, string] {
  const at = r.int(0, Math.max(0, Math.min(bytes.length, focusEnd) - 1));
  const op = r.int(0, 6);
  switch (op) {
    case 0: {
      const out = Uint8Array.from(bytes);
      const bit = 1 << r.int(0, 7);
      if (at < out.length) out[at] = (out[at] ?? 0) ^ bit;
      return [out, `flip bit ${bit} of byte ${at}`];
    }
    case 1: {
      const out = Uint8Array.from(bytes);
      const v = r.pick([0x00, 0xff, 0x7f, 0x80, 0x0b, 0x1c, 0x0d, 0x3c, 0x26, r.int(0, 255)]);
      if (at < out.length) out[at] = v;
      return [out, `byte ${at} -> ${v}`];
    }
    case 2: {
      const len = r.int(1, 64);
      const ins = Uint8Array.from({ length: len }, () => r.int(0, 255));
      return [concat(bytes.subarray(0, at), ins, bytes.subarray(at)), `insert ${len} bytes at ${at}`];
    }
    case 3: {
      const len = r.int(1, 64);
      return [concat(bytes.subarray(0, at), bytes.subarray(at + len)), `delete ${len} bytes at ${at}`];
    }
    case 4:
      return [bytes.slice(0, at), `truncate at ${at}`];
    case 5: {
      const len = r.int(1, 256);
      return [concat(bytes.subarray(0, at + len), bytes.subarray(at)), `duplicate ${len} bytes at ${at}`];
    }
    default: {
      const out = Uint8Array.from(bytes);
      const v = r.pick([0xffffffff, 0x7fffffff, 0x80000000, 0, 1, 0xfffe, 0xffff, r.int(0, 0xffffffff)]);
      if (out.length >= 4) new DataView(out.buffer).setUint32(Math.min(at, out.length - 4), v >>> 0, true);
      return [out, `uint32 at ${at} -> ${v}`];
    }
  }
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let pos = 0;
  for (const p of parts) {
    out.set(p, pos);
    pos += p.length;
  }
  return out;
}

/** Applies 1 to `max` random byte mutations, within the first `focusEnd` bytes when given. */
export function mutateBytes(bytes: Uint8Array, r: Rng, max = 3, focusEnd?: number): Mutant<Uint8Array> {
  let value = bytes;
  const ops: string[] = [];
  const n = r.int(1, max);
  for (let i = 0; i < n; i++) {
    const [next, op] = mutateBytesOnce(value, r, focusEnd);
    value = next;
    ops.push(op);
  }
  return { value, ops };
}

/** Explicit VR little endian element starts: (group, element) as 4 bytes, then a 2-letter VR. */
function elementOffsets(bytes: Uint8Array): number[] {
  const out: number[] = [];
  for (let i = 132; i + 8 <= bytes.length; i++) {
    const a = bytes[i + 4] ?? 0;
    const b = bytes[i + 5] ?? 0;
    if (a >= 0x41 && a <= 0x5a && b >= 0x41 && b <= 0x5a && ((bytes[i + 1] ?? 1) === 0x00 || (bytes[i + 1] ?? 0) === 0x7f)) out.push(i);
  }
  return out;
}

/** DICOM-aware mutations: element tag, VR and length corruption, value changes, plus byte mutations. */
export function mutateDicom(bytes: Uint8Array, r: Rng): Mutant<Uint8Array> {
  const offsets = elementOffsets(bytes);
  const ops: string[] = [];
  let value: Uint8Array = Uint8Array.from(bytes);
  const n = r.int(1, 3);
  for (let i = 0; i < n; i++) {
    const at = offsets.length ? r.pick(offsets) : 132;
    if (at + 8 > value.length || r.chance(0.3)) {
      const [next, op] = mutateBytesOnce(value, r);
      value = next;
      ops.push(op);
      continue;
    }
    const view = new DataView(value.buffer, value.byteOffset, value.byteLength);
    const kind = r.int(0, 4);
    if (kind === 0) {
      const len = r.pick([0, 1, 0xffff, 0xfffe, 7, r.int(0, 0xffff)]);
      view.setUint16(at + 6, len, true);
      ops.push(`element at ${at}: 16-bit length -> ${len}`);
    } else if (kind === 1) {
      const vr = r.pick(['OB', 'SQ', 'UN', 'UT', 'OW', 'ZZ', 'US', 'UL', 'FD']);
      value[at + 4] = vr.charCodeAt(0);
      value[at + 5] = vr.charCodeAt(1);
      ops.push(`element at ${at}: VR -> ${vr}`);
    } else if (kind === 2) {
      const tag = r.pick([[0x0010, 0x0020], [0x0020, 0x000d], [0x0008, 0x0018], [0x7fe0, 0x0010], [0xfffe, 0xe000], [0xfffe, 0xe0dd], [0x0002, 0x0010], [0x0008, 0x0005]] as const);
      view.setUint16(at, tag[0], true);
      view.setUint16(at + 2, tag[1], true);
      ops.push(`element at ${at}: tag -> (${tag[0].toString(16)},${tag[1].toString(16)})`);
    } else if (kind === 3) {
      const len = view.getUint16(at + 6, true);
      const body = new TextEncoder().encode(r.pick(['', '1..2', '1.2.840.x', '9'.repeat(80), '\\\\\\', 'ISO_IR 192', 'ISO 2022 IR 87', '\u00ff\u00fe', '20241399', '+9999', '1.2.840.10008.1.2.1.99', '1.2.840.10008.1.2.2']));
      value.set(body.subarray(0, Math.min(len, value.length - at - 8)), at + 8);
      ops.push(`element at ${at}: value overwritten`);
    } else {
      const len = r.pick([0xffffffff, 0x7fffffff, 0x100000, 3]);
      if (at + 12 <= value.length) view.setUint32(at + 8, len >>> 0, true);
      value[at + 4] = 0x4f;
      value[at + 5] = 0x42;
      ops.push(`element at ${at}: OB with 32-bit length ${len}`);
    }
  }
  return { value, ops };
}

/** XML-aware mutations of a C-CDA document: broken markup, entities, deep nesting, odd values. */
function mutateXmlOnce(xml: string, r: Rng): [string, string] {
  const tags = [...xml.matchAll(/<\/?[A-Za-z][^>]*>/g)];
  const tag = tags.length ? r.pick(tags) : undefined;
  const at = tag?.index ?? r.int(0, xml.length);
  const t = tag?.[0] ?? '';
  const op = r.int(0, 11);
  switch (op) {
    case 0:
      return [xml.slice(0, at) + xml.slice(at + t.length), `delete tag ${JSON.stringify(t.slice(0, 30))}`];
    case 1:
      return [xml.slice(0, at) + t + xml.slice(at), `duplicate tag ${JSON.stringify(t.slice(0, 30))}`];
    case 2: {
      const cut = r.int(0, xml.length);
      return [xml.slice(0, cut), `truncate at ${cut}`];
    }
    case 3: {
      const ent = r.pick(['&foo;', '&#0;', '&#xFFFFFFFF;', '&#x1F600;', '&amp', '&', '&lt;&gt;', '<![CDATA[ x ]]>', '<!-- c -->', ']]>', '<?pi x?>', '&#55296;']);
      return [xml.slice(0, at) + ent + xml.slice(at), `insert ${JSON.stringify(ent)} at ${at}`];
    }
    case 4:
      return [xml.replace(t, t.replace(/"/g, r.pick(['', "'", '"""']))), `quotes changed in ${JSON.stringify(t.slice(0, 30))}`];
    case 5: {
      const depth = r.int(10, 5000);
      const name = r.pick(['section', 'entry', 'component', 'text', 'content', 'x']);
      const deep = `<${name}>`.repeat(depth) + 'deep' + `</${name}>`.repeat(depth);
      return [xml.slice(0, at) + deep + xml.slice(at), `nest <${name}> ${depth} deep at ${at}`];
    }
    case 6: {
      const v = r.pick(BAD_VALUES);
      const values = [...xml.matchAll(/(value|code|root|extension|codeSystem|unit)="([^"]*)"/g)];
      const m = values.length ? r.pick(values) : undefined;
      if (!m || m.index === undefined) return [xml, 'no attribute'];
      const rep = `${m[1]}="${v.replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/&(?!quot;|lt;)/g, '&amp;')}"`;
      return [xml.slice(0, m.index) + rep + xml.slice(m.index + m[0].length), `attribute ${m[1]} -> ${JSON.stringify(v.slice(0, 40))}`];
    }
    case 7: {
      const doctype = r.pick([
        '<!DOCTYPE ClinicalDocument [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>',
        '<!DOCTYPE ClinicalDocument SYSTEM "file:///etc/passwd">',
        '<!DOCTYPE x>',
      ]);
      return [xml.replace(/(<\?xml[^>]*\?>)?/, (d) => `${d}${doctype}`), 'DOCTYPE inserted'];
    }
    case 8: {
      const n = r.int(2, 300);
      const block = /<entry[\s>][\s\S]*?<\/entry>/.exec(xml)?.[0] ?? t;
      const idx = xml.indexOf(block);
      return [xml.slice(0, idx) + block.repeat(n) + xml.slice(idx + block.length), `repeat first entry ${n}x`];
    }
    case 9:
      return [xml.replace(/xmlns="[^"]*"/, r.pick(['', 'xmlns="urn:other"', 'xmlns:="x"'])), 'namespace changed'];
    case 10: {
      const name = t.match(/^<\/?([A-Za-z][\w:.-]*)/)?.[1] ?? 'x';
      const renamed = t.replace(name, r.pick(['ClinicalDocument', 'recordTarget', 'patientRole', 'id', 'x:y', 'section', 'entry', name.toUpperCase()]));
      return [xml.slice(0, at) + renamed + xml.slice(at + t.length), `rename tag ${JSON.stringify(t.slice(0, 30))}`];
    }
    default: {
      const i = r.int(0, xml.length);
      const ch = r.pick(ODD_CHARS);
      return [xml.slice(0, i) + ch + xml.slice(i + 1), `replace char ${i} with ${JSON.stringify(ch)}`];
    }
  }
}

/** Applies 1 to `max` random XML mutations to a document. */
export function mutateXml(xml: string, r: Rng, max = 3): Mutant<string> {
  let value = xml;
  const ops: string[] = [];
  const n = r.int(1, max);
  for (let i = 0; i < n; i++) {
    const [next, op] = mutateXmlOnce(value, r);
    value = next;
    ops.push(op);
  }
  return { value, ops };
}

/** A generator for one (seed, case index) pair: same pair, same sequence. */
export function caseRng(seed: number, index: number): Rng {
  return seededRng((Math.imul(seed, 0x9e3779b1) ^ Math.imul(index + 1, 0x85ebca6b)) >>> 0);
}

/** JSON values that break what a DICOM JSON (PS3.18 F.2) reader expects. */
const JSON_VALUES: unknown[] = [null, 0, -1, 1.5, 1e308, '', ' ', 'x', '1.2.3', '20241399', '9'.repeat(100), true, [], [null], [[]], {}, { vr: 'UI' }, { Value: null }, { vr: 'SQ', Value: [{}] }, { Alphabetic: 7 }, ['a', 1, null], { __proto__: { polluted: true } }, { constructor: 'x' }];

/** Paths to every value inside a JSON document. */
function jsonPaths(value: unknown, path: (string | number)[] = [], out: (string | number)[][] = []): (string | number)[][] {
  out.push(path);
  if (value && typeof value === 'object') for (const [k, v] of Object.entries(value)) jsonPaths(v, [...path, Array.isArray(value) && String(Number(k)) === k ? Number(k) : k], out);
  return out;
}

/** Structural JSON mutations: a value replaced, a key deleted or renamed, an array emptied or grown. */
export function mutateJson<T>(doc: T, r: Rng, max = 3): Mutant<T> {
  const value = structuredClone(doc) as unknown;
  const ops: string[] = [];
  let root = value;
  const n = r.int(1, max);
  for (let i = 0; i < n; i++) {
    const paths = jsonPaths(root);
    const path = r.pick(paths);
    const label = path.join('.') || '(root)';
    const replacement = structuredClone(r.pick(JSON_VALUES));
    if (path.length === 0) {
      root = replacement;
      ops.push(`root -> ${JSON.stringify(replacement)}`);
      continue;
    }
    let parent = root as Record<string | number, unknown>;
    for (const key of path.slice(0, -1)) parent = parent[key] as Record<string | number, unknown>;
    const last = path[path.length - 1] as string | number;
    const op = r.int(0, 3);
    if (op === 0) {
      parent[last] = replacement;
      ops.push(`${label} -> ${JSON.stringify(replacement)}`);
    } else if (op === 1) {
      if (Array.isArray(parent)) parent.splice(Number(last), 1);
      else delete parent[last];
      ops.push(`${label} deleted`);
    } else if (op === 2) {
      const v = parent[last];
      parent[last] = Array.from({ length: r.int(2, 50) }, () => structuredClone(v));
      ops.push(`${label} -> array of copies`);
    } else {
      const v = parent[last];
      if (!Array.isArray(parent)) delete parent[last];
      parent[r.pick(['0020000D', '0020000E', '00100020', '00080060', 'vr', 'Value', 'Alphabetic', 'x'])] = v;
      ops.push(`${label} renamed`);
    }
  }
  return { value: root as T, ops };
}
