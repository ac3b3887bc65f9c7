import type { Resource, SearchParameter } from '@medplum/fhirtypes';
import {
  convertToSearchableNumbers,
  convertToSearchableQuantities,
  convertToSearchableReferences,
  convertToSearchableStrings,
  convertToSearchableTokens,
  convertToSearchableUris,
  evalFhirPathTyped,
  getSearchParameterDetails,
  toTypedValue,
} from '@medplum/core';
import { patientCompartmentParamsFor, searchParamsFor } from './fhir-definitions.ts';
import { parseDateRange } from './search-dates.ts';

/**
 * Computes the values a resource is found by, once per write, so a search is a plain equality or
 * range query on these fields (FerretDB and MongoDB alike). Exact values (token, reference, uri)
 * go into the flat `keys` array as "code=value"; the others into `sp`, by parameter code:
 *  - token:     keys "code=system|value", "code=value" (any system), "code=system|" (any value in
 *               the system); display texts, lower-cased, under sp["<code>:text"]
 *  - string:    lower-cased, accent-free full values and each word (prefix search by anchored regex);
 *               the exact values under "<code>:exact"
 *  - date:      one range { s, e } (earliest start, latest end) as Dates
 *  - quantity:  { v, s, c, all } the first value with its unit system and code (or unit text),
 *               and all values (FerretDB 1.24 cannot $elemMatch sub-documents, so pairs are not arrays)
 *  - reference: keys "code=Type/id", "code=id", absolute URLs as given
 *  - uri:       keys "code=value"
 *  - number:    the values
 * Keeping the exact values in one flat array, not in `sp` as well, keeps documents small: the
 * embedded store decodes every field of every document a query reads.
 * See: https://hl7.org/fhir/R4/search.html
 */

/** The first quantity with its unit, and every value (for unit-less comparisons). */
export interface QuantityKey {
  v: number;
  s: string;
  c: string;
  all: number[];
}

export interface DateRangeKey {
  s: Date;
  e: Date;
}

export type IndexValue = string[] | number[] | QuantityKey | DateRangeKey;

export interface SearchKeys {
  /** Search values by parameter code. */
  sp: Record<string, IndexValue>;
  /** One scalar per parameter for _sort. */
  so: Record<string, string | number | Date>;
  /** Ids of the patients whose compartment holds the resource. */
  patients: string[];
  /**
   * Every exact search value as "code=value" (token, reference and uri parameters), in one
   * top-level array: a search names one of them as a scalar equality that one index serves on
   * MongoDB and on the embedded store alike (see store/search-to-mongo.ts).
   */
  keys: string[];
}

/** Search-parameter types whose values are compared exactly and go into `keys`. */
const EXACT_TYPES = new Set(['token', 'reference', 'uri']);

/** The `keys` entry for an exact value of a parameter. */
export function searchKey(code: string, value: string): string {
  return `${code}=${value}`;
}

/** True for parameter types whose values live in `keys` (token, reference, uri). */
export function isExactType(type: string | undefined): boolean {
  return type !== undefined && EXACT_TYPES.has(type);
}

/** The values of one parameter in a `keys` array. */
export function keyValues(keys: readonly string[] | undefined, code: string): string[] {
  const prefix = `${code}=`;
  return (keys ?? []).filter((k) => k.startsWith(prefix)).map((k) => k.slice(prefix.length));
}

/** The values one exact (token, reference, uri) parameter has on a resource, as `keys` holds them after "code=". */
export function paramValues(resource: Resource, code: string): string[] {
  const param = searchParamsFor(resource.resourceType)[code];
  if (!param?.expression || !isExactType(param.type)) return [];
  const values = indexParam(resource.resourceType, param, [toTypedValue(resource)])?.sp[code];
  return Array.isArray(values) ? values.map(String) : [];
}

/**
 * Denormalised keys for reads that have no R4 search parameter: a radiology report's studies
 * (DiagnosticReport.imagingStudy), so "reports of this study" is an indexed equality.
 */
export const IMAGING_STUDY_KEY = '_imaging-study';

/**
 * A resource's type in each patient compartment it belongs to, as one key per patient
 * ("_compartment=Observation|<patient id>"), so "this patient's Observations" is one indexed
 * equality that selects exactly those rows. The embedded store indexes `rt` and `patients` apart,
 * and PostgreSQL often reads every row of the type, or every row of the patient, to find them.
 */
export const COMPARTMENT_KEY = '_compartment';

/** The key of a type within one patient's compartment (see COMPARTMENT_KEY). */
export function compartmentKey(resourceType: string, patient: string): string {
  return searchKey(COMPARTMENT_KEY, `${resourceType}|${patient}`);
}

/** Lower-case and strip diacritics, as FHIR string search is case- and accent-insensitive. */
export function normalizeString(s: string): string {
  return s.normalize('NFD').replace(/\p{Diacritic}/gu, '').toLowerCase().trim();
}

/** Computes the search keys of a resource. */
export function computeSearchKeys(resource: Resource): SearchKeys {
  const sp: SearchKeys['sp'] = {};
  const so: SearchKeys['so'] = {};
  const params = searchParamsFor(resource.resourceType);
  const typed = [toTypedValue(resource)];
  for (const [code, param] of Object.entries(params)) {
    if (code === '_id' || code === '_lastUpdated' || !param.expression) continue;
    const keys = indexParam(resource.resourceType, param, typed);
    if (!keys) continue;
    for (const [k, v] of Object.entries(keys.sp)) sp[k] = v;
    if (keys.sort !== undefined) so[code] = keys.sort;
  }
  if (resource.resourceType === 'DocumentReference') {
    const words = contentWords(resource);
    if (words.length) sp._content = words;
  }
  const keys: string[] = [];
  for (const [code, param] of Object.entries(params)) {
    const values = sp[code];
    if (!param.type || !EXACT_TYPES.has(param.type) || !Array.isArray(values)) continue;
    for (const v of values) keys.push(searchKey(code, String(v)));
  }
  if (resource.resourceType === 'DiagnosticReport') {
    for (const s of resource.imagingStudy ?? []) if (s.reference) keys.push(searchKey(IMAGING_STUDY_KEY, s.reference));
  }
  const patients = compartmentPatients(resource, (code) => sp[code]);
  for (const p of patients) keys.push(compartmentKey(resource.resourceType, p));
  for (const [code, param] of Object.entries(params)) if (param.type && EXACT_TYPES.has(param.type)) delete sp[code];
  return { sp, so, patients, keys };
}

/** At most this many distinct words of a document are indexed for `_content`. */
export const CONTENT_WORD_LIMIT = 20_000;

/**
 * `_content` (full text) of a DocumentReference without $text: the distinct normalised words
 * (lower case, no diacritics, split on anything that is not a letter or digit) of its inline
 * text/plain attachments, i.e. the text the document adapters extracted.
 * See: https://hl7.org/fhir/R4/search.html#content
 */
function contentWords(resource: Resource): string[] {
  const words = new Set<string>();
  for (const c of (resource as { content?: { attachment?: { contentType?: string; data?: string } }[] }).content ?? []) {
    const a = c.attachment;
    if (!a?.data || !(a.contentType ?? '').toLowerCase().startsWith('text/plain')) continue;
    for (const w of normalizeString(Buffer.from(a.data, 'base64').toString('utf8')).split(/[^\p{L}\p{N}]+/u)) {
      if (w && words.size < CONTENT_WORD_LIMIT) words.add(w);
    }
  }
  return [...words];
}

interface ParamKeys {
  sp: Record<string, IndexValue>;
  sort?: string | number | Date;
}

function indexParam(resourceType: string, param: SearchParameter, typed: ReturnType<typeof toTypedValue>[]): ParamKeys | undefined {
  const code = param.code as string;
  let values;
  try {
    const details = getSearchParameterDetails(resourceType, param);
    values = evalFhirPathTyped(details.parsedExpression, typed);
  } catch {
    return undefined; // expressions Medplum cannot evaluate on this resource are not searchable
  }
  if (values.length === 0) return undefined;
  switch (param.type) {
    case 'token': {
      const tokens = convertToSearchableTokens(values, { textSearchSystem: '\u0000text' });
      const out = new Set<string>();
      const texts = new Set<string>();
      for (const t of tokens) {
        if (t.system === '\u0000text') {
          if (t.value) texts.add(normalizeString(t.value));
          continue;
        }
        const value = t.value ?? '';
        out.add(`${t.system ?? ''}|${value}`);
        if (value) out.add(value);
        if (t.system) out.add(`${t.system}|`);
      }
      if (out.size === 0 && texts.size === 0) return undefined;
      const first = tokens.find((t) => t.system !== '\u0000text');
      const sp: Record<string, IndexValue> = { [code]: [...out] };
      if (texts.size) sp[`${code}:text`] = [...texts];
      return { sp, sort: first?.value ?? [...texts][0] };
    }
    case 'string': {
      const strings = convertToSearchableStrings(values).filter((s): s is string => typeof s === 'string' && s.length > 0);
      if (!strings.length) return undefined;
      const normalized = new Set<string>();
      for (const s of strings) {
        const n = normalizeString(s);
        normalized.add(n);
        for (const w of n.split(/[\s,.;:/()-]+/)) if (w) normalized.add(w);
      }
      return { sp: { [code]: [...normalized], [`${code}:exact`]: strings }, sort: normalizeString(strings[0] as string) };
    }
    case 'date': {
      // Our own ranges, not convertToSearchableDates: Medplum fills a month as day 31 ("2024-04"
      // would end on 1 May). Ranges are [s, e] with e inclusive (last millisecond).
      let s: Date | undefined;
      let e: Date | undefined;
      let openStart = false;
      let openEnd = false;
      for (const { value } of values) {
        const r = dateValueRange(value);
        if (!r) continue;
        if (r.s === undefined) openStart = true;
        else if (!s || r.s < s) s = r.s;
        if (r.e === undefined) openEnd = true;
        else if (!e || r.e > e) e = r.e;
      }
      if (!s && !e) return undefined;
      const range: DateRangeKey = { s: openStart || !s ? new Date('0001-01-01T00:00:00Z') : s, e: openEnd || !e ? new Date('9999-12-31T23:59:59.999Z') : e };
      return { sp: { [code]: range }, sort: range.s };
    }
    case 'quantity': {
      const qs = convertToSearchableQuantities(values).filter((q) => typeof q.value === 'number');
      const first = qs[0];
      if (!first) return undefined;
      const key: QuantityKey = { v: first.value as number, s: first.system ?? '', c: first.code ?? first.unit ?? '', all: qs.map((q) => q.value as number) };
      return { sp: { [code]: key }, sort: key.v };
    }
    case 'reference': {
      const refs = new Set<string>();
      for (const r of convertToSearchableReferences(values)) {
        if (!r) continue;
        refs.add(r);
        const m = /^([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})$/.exec(r);
        if (m) refs.add(m[2] as string);
      }
      if (!refs.size) return undefined;
      return { sp: { [code]: [...refs] }, sort: [...refs][0] };
    }
    case 'number': {
      const nums = convertToSearchableNumbers(values).map((n) => n[0]).filter((n): n is number => typeof n === 'number');
      return nums.length ? { sp: { [code]: nums }, sort: nums[0] as number } : undefined;
    }
    case 'uri': {
      const uris = convertToSearchableUris(values).filter((u): u is string => typeof u === 'string');
      return uris.length ? { sp: { [code]: uris }, sort: uris[0] as string } : undefined;
    }
    default:
      return undefined; // composite and special parameters are not supported
  }
}

/** The range a date, dateTime, instant or Period covers (an unbounded side is undefined). */
function dateValueRange(value: unknown): { s?: Date; e?: Date } | undefined {
  const lastMs = (v: string): Date | undefined => {
    const r = parseDateRange(v);
    return r && new Date(r.end.getTime() - 1);
  };
  if (typeof value === 'string') {
    const r = parseDateRange(value);
    return r && { s: r.start, e: new Date(r.end.getTime() - 1) };
  }
  if (value && typeof value === 'object' && ('start' in value || 'end' in value)) {
    const p = value as { start?: unknown; end?: unknown };
    const s = typeof p.start === 'string' ? parseDateRange(p.start)?.start : undefined;
    const e = typeof p.end === 'string' ? lastMs(p.end) : undefined;
    return s || e ? { ...(s ? { s } : {}), ...(e ? { e } : {}) } : undefined;
  }
  return undefined;
}

/**
 * The patients whose compartment the resource is in — the `patients` of computeSearchKeys — from
 * the compartment's parameters alone (an Observation has about 30 search parameters, 4 of them
 * name its patient).
 */
export function compartmentOf(resource: Resource): string[] {
  const params = searchParamsFor(resource.resourceType);
  const typed = [toTypedValue(resource)];
  return compartmentPatients(resource, (code) => {
    const param = params[code];
    return param?.expression ? indexParam(resource.resourceType, param, typed)?.sp[code] : undefined;
  });
}

/** The patients of a resource's compartment, given the values of its reference parameters by code. */
function compartmentPatients(resource: Resource, valuesOf: (code: string) => IndexValue | undefined): string[] {
  if (resource.resourceType === 'Patient') return resource.id ? [resource.id] : [];
  // A document Bundle (a tumour board's case pack) belongs where its Composition does, so access to it follows the patient's.
  if (resource.resourceType === 'Bundle') {
    const first = resource.type === 'document' ? resource.entry?.[0]?.resource : undefined;
    return first?.resourceType === 'Composition' ? compartmentOf(first) : [];
  }
  const ids = new Set<string>();
  for (const param of patientCompartmentParamsFor(resource.resourceType)) {
    const refs = valuesOf(param);
    if (!Array.isArray(refs)) continue;
    for (const r of refs) {
      if (typeof r === 'string' && r.startsWith('Patient/')) ids.add(r.slice('Patient/'.length));
    }
  }
  return [...ids];
}
