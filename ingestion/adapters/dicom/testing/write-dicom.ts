/**
 * A tiny DICOM Part 10 writer (explicit VR little endian) for tests and the seed: enough to
 * produce realistic headers (strings, numbers, sequences) and a small pixel data element.
 * See: https://dicom.nema.org/medical/dicom/current/output/chtml/part10/chapter_7.html
 */

/** One data element: `tag` as 8 hex digits (`00100020`), its VR, and its value. */
export interface DicomElement {
  tag: string;
  vr: string;
  /** Text for string VRs (multiple values joined by `\`), a number for US/UL/SS/SL, bytes for OB/OW/UN, items for SQ. */
  value: string | number | Uint8Array | DicomElement[][];
}

const EXPLICIT_VR_LITTLE_ENDIAN = '1.2.840.10008.1.2.1';
/** VRs with a 2-byte reserved field and a 4-byte length in explicit VR encoding. */
const LONG_VRS = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'SQ', 'SV', 'UC', 'UN', 'UR', 'UT', 'UV']);
const encoder = new TextEncoder();

function tagBytes(tag: string): number[] {
  const g = Number.parseInt(tag.slice(0, 4), 16);
  const e = Number.parseInt(tag.slice(4, 8), 16);
  return [g & 0xff, g >> 8, e & 0xff, e >> 8];
}

function u16(n: number): number[] {
  return [n & 0xff, (n >> 8) & 0xff];
}

function u32(n: number): number[] {
  return [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff];
}

function valueBytes(el: DicomElement): Uint8Array {
  const { vr, value } = el;
  if (Array.isArray(value)) {
    const items = value.map((item) => {
      const body = concat(item.map(encodeElement));
      return concat([new Uint8Array([...tagBytes('FFFEE000'), ...u32(body.length)]), body]);
    });
    return concat(items);
  }
  if (value instanceof Uint8Array) return value.length % 2 ? concat([value, new Uint8Array(1)]) : value;
  if (typeof value === 'number') {
    if (vr === 'US' || vr === 'SS') return new Uint8Array(u16(value));
    if (vr === 'UL' || vr === 'SL') return new Uint8Array(u32(value));
    return padded(String(value), vr);
  }
  return padded(value, vr);
}

function padded(text: string, vr: string): Uint8Array {
  const bytes = encoder.encode(text);
  if (bytes.length % 2 === 0) return bytes;
  const out = new Uint8Array(bytes.length + 1);
  out.set(bytes);
  out[bytes.length] = vr === 'UI' || vr === 'OB' ? 0 : 0x20;
  return out;
}

function encodeElement(el: DicomElement): Uint8Array {
  const data = valueBytes(el);
  const head = LONG_VRS.has(el.vr)
    ? [...tagBytes(el.tag), ...encoder.encode(el.vr), 0, 0, ...u32(data.length)]
    : [...tagBytes(el.tag), ...encoder.encode(el.vr), ...u16(data.length)];
  return concat([new Uint8Array(head), data]);
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/**
 * Writes a DICOM Part 10 file: 128-byte preamble, "DICM", file meta information (group 0002,
 * explicit VR little endian, SOP class/instance copied from (0008,0016)/(0008,0018)), then the
 * data set sorted by tag.
 */
export function writeDicomPart10(tags: DicomElement[]): Uint8Array {
  const find = (tag: string): string => {
    const v = tags.find((t) => t.tag === tag)?.value;
    return typeof v === 'string' ? v : '';
  };
  const meta: DicomElement[] = [
    { tag: '00020001', vr: 'OB', value: new Uint8Array([0, 1]) },
    { tag: '00020002', vr: 'UI', value: find('00080016') },
    { tag: '00020003', vr: 'UI', value: find('00080018') },
    { tag: '00020010', vr: 'UI', value: EXPLICIT_VR_LITTLE_ENDIAN },
    { tag: '00020012', vr: 'UI', value: '1.2.826.0.1.3680043.10.1234.1' },
    { tag: '00020013', vr: 'SH', value: 'IDR_TEST_1' },
  ];
  const metaBody = concat(meta.map(encodeElement));
  const groupLength = encodeElement({ tag: '00020000', vr: 'UL', value: metaBody.length });
  const dataset = [...tags].filter((t) => !t.tag.startsWith('0002')).sort((a, b) => a.tag.localeCompare(b.tag));
  return concat([new Uint8Array(128), encoder.encode('DICM'), groupLength, metaBody, ...dataset.map(encodeElement)]);
}
