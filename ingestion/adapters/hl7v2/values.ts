import type { Attachment, Extension, Observation, ObservationComponent, Quantity } from '@medplum/fhirtypes';
import { AdapterError } from '../types.ts';
import { codeableConcept } from './codes.ts';
import { EXTENSIONS } from './constants.ts';
import type { DateConverter } from './dates.ts';
import type { Segment } from './segment.ts';

/** The value-carrying elements of an Observation (or of one of its components). */
export type ObservationValue = Pick<
  Observation,
  'valueQuantity' | 'valueCodeableConcept' | 'valueString' | 'valueBoolean' | 'valueInteger' | 'valueRange' | 'valueRatio' | 'valueTime' | 'valueDateTime' | 'valuePeriod'
>;

/** What OBX-5 maps to: a value, or one component per repetition, plus extensions (ED, RP). */
export interface MappedValue {
  value?: ObservationValue;
  /** One per repetition of a repeating non-text value (valueX of each; the caller adds the code). */
  repetitions?: ObservationValue[];
  extension?: Extension[];
  /** ED values as attachments (a pathology report also shows them in presentedForm). */
  attachments?: Attachment[];
}

/** Unit of the value (from OBX-6), already split into Quantity parts. */
export type UnitParts = Pick<Quantity, 'unit' | 'system' | 'code'>;

interface ValueContext {
  dates: DateConverter;
  warnings: string[];
}

const NUMBER = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)$/;
const TEXT_TYPES = new Set(['ST', 'TX', 'FT']);
/** Composite or coded-as-text types kept as their text (components joined by the component separator). */
const AS_TEXT = new Set(['ID', 'IS', 'AD', 'XAD', 'PN', 'XPN', 'CN', 'XCN', 'XON', 'XTN', 'TN', 'CX', 'HD', 'EI', 'CP', 'CK', 'MA', 'NA', 'CF', 'SNM']);
const SINGLE_TYPES = new Set(['NM', 'SN', 'CE', 'CWE', 'CNE', 'DT', 'TS', 'DTM', 'TM', 'NR', 'MO']);

/** True when `type` is an OBX-2 value type this adapter knows (HL7 table 0125). */
export function isKnownValueType(type: string): boolean {
  return TEXT_TYPES.has(type) || AS_TEXT.has(type) || SINGLE_TYPES.has(type) || type === 'ED' || type === 'RP';
}

/** Maps OBX-5 by its value type OBX-2. Throws AdapterError naming `OBX[n]-5` when the value does not fit. */
export function mapObxValue(obx: Segment, type: string, unit: UnitParts, ctx: ValueContext): MappedValue {
  const reps = obx.reps(5);
  if (reps === 0) return {};
  if (TEXT_TYPES.has(type) || AS_TEXT.has(type)) return { value: { valueString: obx.texts(5).join('\n') } };
  if (type === 'ED') return mapEd(obx, ctx);
  if (type === 'RP') return mapRp(obx);
  const one = (rep: number): ObservationValue => single(obx, type, rep, unit, ctx);
  if (reps === 1) return { value: one(0) };
  const repetitions: ObservationValue[] = [];
  for (let r = 0; r < reps; r++) repetitions.push(one(r));
  return { repetitions };
}

function single(obx: Segment, type: string, rep: number, unit: UnitParts, ctx: ValueContext): ObservationValue {
  const loc = obx.loc(5);
  switch (type) {
    case 'NM': return { valueQuantity: numeric(obx, rep, unit, ctx) };
    case 'SN': return structuredNumeric(obx, rep, unit);
    case 'CE': case 'CWE': case 'CNE': {
      const cc = codeableConcept(obx, 5, rep);
      return cc ? { valueCodeableConcept: cc } : {};
    }
    case 'DT': case 'TS': case 'DTM': {
      const dt = ctx.dates.dateTime(obx.get(5, 1, rep), loc);
      return dt ? { valueDateTime: dt } : {};
    }
    case 'TM': return { valueTime: time(obx.get(5, 1, rep), loc) };
    case 'NR': {
      const low = obx.get(5, 1, rep);
      const high = obx.get(5, 2, rep);
      return { valueRange: { ...(low ? { low: { value: toNumber(low, loc), ...unit } } : {}), ...(high ? { high: { value: toNumber(high, loc), ...unit } } : {}) } };
    }
    case 'MO': {
      const currency = obx.get(5, 2, rep);
      return { valueQuantity: { value: toNumber(obx.get(5, 1, rep), loc), ...(currency ? { unit: currency, system: 'urn:iso:std:iso:4217', code: currency } : {}) } };
    }
    default: throw new AdapterError(obx.loc(2), `unknown value type ${JSON.stringify(type)}`);
  }
}

function numeric(obx: Segment, rep: number, unit: UnitParts, ctx: ValueContext): Quantity {
  const raw = obx.text(5, rep).trim();
  if (NUMBER.test(raw)) return { value: Number(raw), ...unit };
  // A comparator inside NM ("<5") is a sender mistake with an unambiguous meaning: read it as SN.
  const m = /^(<=|>=|<|>)\s*([+-]?(?:\d+(?:\.\d*)?|\.\d+))$/.exec(raw);
  if (m) {
    ctx.warnings.push(`${obx.loc(5)}: comparator in an NM value ${JSON.stringify(raw)} read as SN`);
    return { comparator: m[1] as Quantity['comparator'], value: Number(m[2]), ...unit };
  }
  throw new AdapterError(obx.loc(5), `expected a number, got ${JSON.stringify(raw)}`);
}

function structuredNumeric(obx: Segment, rep: number, unit: UnitParts): ObservationValue {
  const loc = obx.loc(5);
  const comparator = obx.get(5, 1, rep);
  const n1 = obx.get(5, 2, rep);
  const sep = obx.get(5, 3, rep);
  const n2 = obx.get(5, 4, rep);
  const asText = (): ObservationValue => ({ valueString: obx.text(5, rep) });
  if (!['', '=', '<', '>', '<=', '>=', '<>'].includes(comparator)) {
    throw new AdapterError(loc, `expected an SN comparator (<, >, <=, >=, =, <>), got ${JSON.stringify(comparator)}`);
  }
  if (!sep && !n2) {
    if (!n1) return asText();
    const q: Quantity = { value: toNumber(n1, loc), ...unit };
    if (comparator === '<>') return asText(); // "not equal" has no Quantity form
    if (comparator && comparator !== '=') q.comparator = comparator as Quantity['comparator'];
    return { valueQuantity: q };
  }
  if (comparator && comparator !== '=') return asText();
  if (sep === '-' && n1 && n2) return { valueRange: { low: { value: toNumber(n1, loc), ...unit }, high: { value: toNumber(n2, loc), ...unit } } };
  if ((sep === ':' || sep === '/') && n1 && n2) {
    return { valueRatio: { numerator: { value: toNumber(n1, loc) }, denominator: { value: toNumber(n2, loc) } } };
  }
  if (sep === '+' && !n2) {
    toNumber(n1, loc);
    return { valueString: `${n1}+` }; // categorical, e.g. HER2 IHC "2+"
  }
  throw new AdapterError(loc, `unrecognised SN value ${JSON.stringify(obx.text(5, rep))} (expected <^5, ^10^-^20, ^1^:^128 or ^2^+)`);
}

function toNumber(raw: string, loc: string): number {
  if (!NUMBER.test(raw)) throw new AdapterError(loc, `expected a number, got ${JSON.stringify(raw)}`);
  return Number(raw);
}

function time(raw: string, loc: string): string {
  const m = /^(\d{2})(\d{2})?(\d{2})?(\.\d+)?/.exec(raw);
  if (!m || +(m[1] as string) > 23) throw new AdapterError(loc, `expected an HL7 time HHMM[SS], got ${JSON.stringify(raw)}`);
  return `${m[1]}:${m[2] ?? '00'}:${m[3] ?? '00'}${m[4] ?? ''}`;
}

const MIME_TOP = new Set(['application', 'audio', 'image', 'text', 'video', 'model', 'multipart', 'message']);
const TYPE_OF_DATA: Readonly<Record<string, string>> = { AP: 'application', AU: 'audio', IM: 'image', SI: 'image', SD: 'application', NS: 'application', TEXT: 'text', TX: 'text' };

/** ED (encapsulated data) -> Attachment, kept losslessly in the R5 Observation.value extension. */
function mapEd(obx: Segment, ctx: ValueContext): MappedValue {
  const attachments: Attachment[] = [];
  const loc = obx.loc(5);
  for (let r = 0; r < obx.reps(5); r++) {
    const type = obx.get(5, 2, r);
    const subtype = obx.get(5, 3, r);
    const encoding = obx.get(5, 4, r).toUpperCase();
    const raw = obx.get(5, 5, r);
    if (!raw) {
      ctx.warnings.push(`${loc}: encapsulated data (ED) without data`);
      continue;
    }
    let data: string;
    if (encoding === 'BASE64') {
      data = raw.replace(/\s+/g, '');
      if (!/^[A-Za-z0-9+/]*={0,2}$/.test(data)) throw new AdapterError(loc, 'ED data declared Base64 is not valid Base64');
    } else if (encoding === 'HEX') {
      if (!/^(?:[0-9A-Fa-f]{2})*$/.test(raw)) throw new AdapterError(loc, 'ED data declared Hex is not valid hexadecimal');
      data = Buffer.from(raw, 'hex').toString('base64');
    } else if (encoding === 'A' || encoding === '') {
      data = Buffer.from(raw, 'utf8').toString('base64');
    } else {
      throw new AdapterError(loc, `unknown ED encoding ${JSON.stringify(obx.get(5, 4, r))} (expected A, Hex or Base64)`);
    }
    const top = MIME_TOP.has(type.toLowerCase()) ? type.toLowerCase() : TYPE_OF_DATA[type.toUpperCase()] ?? 'application';
    const sub = subtype ? subtype.toLowerCase() : top === 'text' ? 'plain' : 'octet-stream';
    const source = obx.get(5, 1, r);
    attachments.push({ contentType: `${top}/${sub}`, data, ...(source ? { title: source } : {}) });
  }
  if (attachments.length === 0) return {};
  return { extension: attachments.map((a) => ({ url: EXTENSIONS.observationValueR5, valueAttachment: a })), attachments };
}

/** RP (reference pointer) -> valueString with the pointer, plus an extension holding all its parts. */
function mapRp(obx: Segment): MappedValue {
  const pointers: string[] = [];
  const extension: Extension[] = [];
  for (let r = 0; r < obx.reps(5); r++) {
    const pointer = obx.get(5, 1, r);
    const app = [1, 2, 3].map((s) => obx.sub(5, 2, s, r)).filter(Boolean).join('/');
    const parts: Extension[] = [{ url: 'pointer', valueString: pointer }];
    if (app) parts.push({ url: 'application', valueString: app });
    if (obx.get(5, 3, r)) parts.push({ url: 'type', valueString: obx.get(5, 3, r) });
    if (obx.get(5, 4, r)) parts.push({ url: 'subtype', valueString: obx.get(5, 4, r) });
    if (pointer) pointers.push(pointer);
    extension.push({ url: EXTENSIONS.referencePointer, extension: parts });
  }
  return { value: { valueString: pointers.join('\n') }, extension };
}

/** Observation.component entries for a repeating value (one per repetition, same code as the OBX). */
export function repetitionComponents(code: Observation['code'], reps: ObservationValue[]): ObservationComponent[] {
  return reps.map((v) => ({ code, ...v }));
}
