import type { Filter as MongoFilter, Sort } from 'mongodb';
import type { Filter, SearchRequest } from '@medplum/core';
import { parseSearchRequest, splitSearchOnComma } from '@medplum/core';
import type { SearchParameter } from '@medplum/fhirtypes';
import type { ResourceDoc } from '../schema/collections.ts';
import { badRequest } from '@medplum/core';
import { fail } from '../schema/outcomes.ts';
import { patientCompartmentParamsFor, searchParamsFor } from '../schema/fhir-definitions.ts';
import { compartmentKey, isExactType, normalizeString, searchKey } from '../schema/search-index.ts';
import { resourceKey } from '../schema/resource-id.ts';
import { parseDateRange, type DateRange } from '../schema/search-dates.ts';

/**
 * The one place that turns a parsed FHIR search (from @medplum/core's parseSearchRequest) into a
 * MongoDB filter and sort over the `resources` collection. Values were computed at write time by
 * search-index.ts; this module only compares against them.
 * See: https://hl7.org/fhir/R4/search.html
 */

export interface MongoSearch {
  filter: MongoFilter<ResourceDoc>;
  sort: Sort;
  /** Parameters ignored under Prefer: handling=lenient. */
  ignored: string[];
}

export const DEFAULT_COUNT = 20;
export const MAX_COUNT = 1000;

const ORDERED_TYPES = new Set(['date', 'number', 'quantity']);
const PREFIX_RE = /^(eq|ne|gt|lt|ge|le|sa|eb|ap)(?=[\d+.-])/;

/**
 * Parses a search query string with @medplum/core's parser. Comma-separated (OR) values of date,
 * number and quantity parameters, each with its own prefix (`date=lt2020,ge2024`), are kept as
 * they are: Medplum's parser rejects them, and `searchToMongo` reads the prefix of each value.
 */
export function parseFhirSearch(resourceType: string, query: string): SearchRequest {
  const params = searchParamsFor(resourceType);
  const rest = new URLSearchParams();
  const ored: Filter[] = [];
  for (const [key, value] of new URLSearchParams(query)) {
    const type = params[key]?.type ?? (key === '_lastUpdated' ? 'date' : undefined);
    if (type && ORDERED_TYPES.has(type) && value.includes(',')) ored.push({ code: key, operator: 'eq' as Filter['operator'], value });
    else rest.append(key, value);
  }
  let request: SearchRequest;
  try {
    request = parseSearchRequest(`${resourceType}?${rest.toString()}`);
  } catch (err) {
    // The parser only reads the query, so whatever it throws (Medplum's own OperationOutcomeError,
    // or a plain Error such as "Unrecognized search parameter type: composite") is a bad request.
    const text = (err as { outcome?: { issue?: { details?: { text?: string } }[] } }).outcome?.issue?.[0]?.details?.text ?? (err as Error).message;
    return fail(badRequest(text));
  }
  if (ored.length) request.filters = [...(request.filters ?? []), ...ored];
  return request;
}

/** The prefix of one value of a comma-separated list, else the filter's operator. */
function prefixed(op: Filter['operator'], value: string): [Filter['operator'], string] {
  const m = PREFIX_RE.exec(value);
  return m ? [m[1] as Filter['operator'], value.slice(2)] : [op, value];
}

/** Translates a search request; unknown parameters fail with 400 unless `lenient`. */
export function searchToMongo(req: SearchRequest, options: { lenient?: boolean; extra?: MongoFilter<ResourceDoc>[] } = {}): MongoSearch {
  const params = searchParamsFor(req.resourceType);
  const clauses: { clause: MongoFilter<ResourceDoc>; filter?: Filter }[] = (options.extra ?? []).map((clause) => ({ clause }));
  const ignored: string[] = [];
  for (const f of req.filters ?? []) {
    const clause = filterToMongo(req.resourceType, params, f);
    if (clause === undefined) {
      if (options.lenient) {
        ignored.push(f.code);
        continue;
      }
      fail(badRequest(`Unknown or unsupported search parameter "${f.code}" for ${req.resourceType}`, f.code));
    }
    clauses.push({ clause, filter: f });
  }
  const sort: Record<string, 1 | -1> = {};
  for (const rule of req.sortRules ?? []) {
    const field = sortField(params, rule.code);
    if (!field) {
      if (options.lenient) {
        ignored.push(`_sort=${rule.code}`);
        continue;
      }
      fail(badRequest(`Unknown sort parameter "${rule.code}" for ${req.resourceType}`, '_sort'));
    }
    sort[field] = rule.descending ? -1 : 1;
  }
  if (Object.keys(sort).length === 0) sort.lu = -1;
  sort._id = 1; // a total order, so pages neither repeat nor skip
  return { filter: withTopLevelEqualities(req.resourceType, params, clauses), sort, ignored };
}

/**
 * Builds the filter with its selective equalities as top-level scalar keys: the resource type,
 * the patient compartment (`patients`) when the search names one Patient, and as `_id` or `keys`
 * (schema/search-index.ts) the id, else the type-in-compartment key of that Patient, else the
 * most selective exact value. MongoDB serves these from compound
 * indexes; the embedded store pushes only top-level scalar equalities down to its GIN indexes
 * (see tools/ferretdb), never `$and`, `$in`, `$or` or ranges, which it checks on the rows found.
 */
function withTopLevelEqualities(resourceType: string, params: Record<string, SearchParameter>, clauses: { clause: MongoFilter<ResourceDoc>; filter?: Filter }[]): MongoFilter<ResourceDoc> {
  const top: Record<string, unknown> = { rt: resourceType, deleted: false };
  const compartment = compartmentNaming(resourceType, params);
  let patient: { id: string; index: number } | undefined;
  let best: { field: '_id' | 'keys'; value: string; rank: number; index: number } | undefined;
  clauses.forEach(({ filter: f }, index) => {
    if (!f || f.operator !== 'eq') return;
    const vs = values(f);
    const v = vs[0];
    if (vs.length !== 1 || v === undefined) return;
    if (f.code === '_id') {
      best = { field: '_id', value: resourceKey(resourceType, v), rank: 0, index };
      return;
    }
    const param = params[f.code];
    if (!param || !['token', 'reference', 'uri'].includes(param.type ?? '')) return;
    const onlyPatients = param.target?.length === 1 && param.target[0] === 'Patient';
    const patientId = v.startsWith('Patient/') ? v.slice('Patient/'.length) : onlyPatients && !v.includes('/') ? v : undefined;
    // A Patient's own compartment holds only itself (schema/search-index.ts): Patient?link=Patient/x
    // looks for other patients, so it is a plain reference search.
    if (compartment.has(f.code) && patientId && !patient && resourceType !== 'Patient') patient = { id: patientId, index };
    // The compartment key already narrows to one patient: prefer another value for `keys`.
    const rank = (f.code === 'identifier' ? 1 : param.type === 'reference' ? 2 : param.type === 'token' ? 3 : 4) + (patient?.index === index ? 10 : 0);
    if (!best || rank < best.rank) best = { field: 'keys', value: searchKey(f.code, v), rank, index };
  });
  if (patient) {
    // One patient's resources of one type: the compartment key selects exactly them, at any store
    // size; every clause, the most selective value's included, narrows those rows.
    top.patients = patient.id;
    if (best?.field !== '_id') best = { field: 'keys', value: compartmentKey(resourceType, patient.id), rank: -1, index: -1 };
  }
  if (best) top[best.field] = best.value;
  const rest = clauses.filter((_, i) => i !== best?.index).map((c) => c.clause);
  if (rest.length) top.$and = rest;
  return top as MongoFilter<ResourceDoc>;
}

const namingParams = new Map<string, Set<string>>();

/**
 * The parameters whose value names a patient whose compartment holds the resource: the patient
 * compartment's own (Observation: subject, performer), and `patient` where it narrows one of them
 * (Observation.subject.where(resolve() is Patient)), which is what most searches of one patient's
 * data use.
 */
function compartmentNaming(resourceType: string, params: Record<string, SearchParameter>): Set<string> {
  const known = namingParams.get(resourceType);
  if (known) return known;
  const paths = (code: string): string[] => (params[code]?.expression ?? '').split('|').map((e) => e.trim()).filter((e) => e.startsWith(`${resourceType}.`));
  const out = new Set(patientCompartmentParamsFor(resourceType));
  const within = [...out].flatMap(paths);
  const patient = paths('patient');
  if (patient.length && patient.every((e) => within.some((w) => e === w || e.startsWith(`${w}.where(`)))) out.add('patient');
  namingParams.set(resourceType, out);
  return out;
}

function sortField(params: Record<string, SearchParameter>, code: string): string | undefined {
  if (code === '_id') return 'id';
  if (code === '_lastUpdated') return 'lu';
  const p = params[code];
  if (!p || p.type === 'composite' || p.type === 'special') return undefined;
  return `so.${code}`;
}

function values(f: Filter): string[] {
  return splitSearchOnComma(f.value).filter((v) => v !== '');
}

function anyOf(clauses: MongoFilter<ResourceDoc>[]): MongoFilter<ResourceDoc> {
  return clauses.length === 1 ? (clauses[0] as MongoFilter<ResourceDoc>) : { $or: clauses };
}

function filterToMongo(resourceType: string, params: Record<string, SearchParameter>, f: Filter): MongoFilter<ResourceDoc> | undefined {
  if (f.code === '_id') {
    const ids = values(f);
    return f.operator === 'not' || f.operator === 'ne' ? { id: { $nin: ids } } : { id: { $in: ids } };
  }
  if (f.code === '_lastUpdated') {
    return anyOf(values(f).map((v) => dateClause('lu', 'lu', ...prefixed(f.operator, v))));
  }
  if (f.code === '_content') return resourceType === 'DocumentReference' ? contentClause(f) : undefined;
  const param = params[f.code];
  if (!param || f.code.includes('.') || f.code.startsWith('_has')) return undefined;
  const field = `sp.${f.code}`;
  if (f.operator === 'missing' || f.operator === 'present') {
    if (f.value !== 'true' && f.value !== 'false') fail(badRequest(`:${f.operator} takes true or false, got "${f.value}"`, f.code));
    const missing = (f.operator === 'missing') === (f.value === 'true');
    if (isExactType(param.type)) {
      const anyValue = { $regex: `^${escapeRegex(f.code)}=` };
      return { keys: missing ? { $not: anyValue } : anyValue } as MongoFilter<ResourceDoc>;
    }
    return { [field]: { $exists: !missing } };
  }
  switch (param.type) {
    case 'token':
      return tokenClause(f);
    case 'string':
      return stringClause(f, field);
    case 'date':
      return anyOf(values(f).map((v) => dateClause(`${field}.s`, `${field}.e`, ...prefixed(f.operator, v))));
    case 'quantity':
      return anyOf(values(f).map((v) => quantityClause(field, ...prefixed(f.operator, v))));
    case 'number':
      return anyOf(values(f).map((v) => prefixed(f.operator, v)).map(([op, v]) => numberClause(field, op, parseNumber(v, f.code))));
    case 'reference':
      return referenceClause(f);
    case 'uri':
      return uriClause(f);
    default:
      fail(badRequest(`Search parameter "${f.code}" of type ${param.type} is not supported for ${resourceType}`, f.code));
  }
}

function unsupportedModifier(f: Filter): never {
  fail(badRequest(`Modifier or prefix "${f.operator}" is not supported on "${f.code}"`, f.code));
}

/**
 * Token, reference and uri values are stored exactly as they are searched, as "code=value" in
 * `keys` (schema/search-index.ts), so equality is `$in` and `:not` is `$nin`; each type adds its
 * own modifiers through `extra`.
 */
function exactValueClause(f: Filter, extra: Partial<Record<Filter['operator'], (vs: string[]) => MongoFilter<ResourceDoc>>>): MongoFilter<ResourceDoc> {
  const vs = values(f);
  const keys = vs.map((v) => searchKey(f.code, v));
  if (f.operator === 'eq') return { keys: keys.length === 1 ? keys[0] : { $in: keys } } as MongoFilter<ResourceDoc>;
  if (f.operator === 'not' || f.operator === 'ne') return { keys: { $nin: keys } } as MongoFilter<ResourceDoc>;
  const other = extra[f.operator];
  if (!other) unsupportedModifier(f);
  return other(vs);
}

function tokenClause(f: Filter): MongoFilter<ResourceDoc> {
  const field = `sp.${f.code}:text`;
  return exactValueClause(f, {
    text: (vs) => anyOf(vs.map((v) => ({ [field]: { $regex: `(^|\\s)${escapeRegex(normalizeString(v))}` } }))),
    // Hierarchies where the code itself carries it (ICD-10 C50 → C50.4, ICD-O-3 8500 → 8500/3):
    // the codes that start with the value, with or without its system.
    below: (vs) => startsWithClause(f.code, vs),
  });
}

function stringClause(f: Filter, field: string): MongoFilter<ResourceDoc> {
  const vs = values(f);
  switch (f.operator) {
    case 'eq':
    case 'sw':
      return anyOf(vs.map((v) => ({ [field]: { $regex: `^${escapeRegex(normalizeString(v))}` } })));
    case 'contains':
      return anyOf(vs.map((v) => ({ [field]: { $regex: escapeRegex(normalizeString(v)) } })));
    case 'exact':
      return { [`${field}:exact`]: { $in: vs } };
    default:
      unsupportedModifier(f);
  }
}

/**
 * `_content=word1 word2`: every word must start a word of the document's text (anchored regex on
 * the `sp._content` word list, index-friendly on MongoDB); commas separate alternatives.
 */
function contentClause(f: Filter): MongoFilter<ResourceDoc> {
  if (f.operator !== 'eq' && f.operator !== 'contains') unsupportedModifier(f);
  const alternatives = values(f).map((v) => {
    const words = normalizeString(v).split(/[^\p{L}\p{N}]+/u).filter((w) => w);
    if (!words.length) fail(badRequest(`_content "${v}" has no words to search for`, '_content'));
    const clauses = words.map((w) => ({ 'sp._content': { $regex: f.operator === 'contains' ? escapeRegex(w) : `^${escapeRegex(w)}` } }));
    return clauses.length === 1 ? (clauses[0] as MongoFilter<ResourceDoc>) : { $and: clauses };
  });
  return anyOf(alternatives);
}

function referenceClause(f: Filter): MongoFilter<ResourceDoc> {
  return exactValueClause(f, { identifier: (vs) => ({ keys: { $in: vs.map((v) => searchKey(f.code, `identifier:${v}`)) } }) as MongoFilter<ResourceDoc> });
}

function uriClause(f: Filter): MongoFilter<ResourceDoc> {
  return exactValueClause(f, { below: (vs) => startsWithClause(f.code, vs) });
}

/** Exact values of `code` that start with any of `vs` (an anchored regex on `keys`: an index range on MongoDB). */
function startsWithClause(code: string, vs: string[]): MongoFilter<ResourceDoc> {
  return anyOf(vs.map((v) => ({ keys: { $regex: `^${escapeRegex(searchKey(code, v))}` } }) as MongoFilter<ResourceDoc>));
}

/** Date comparison of a resource range [s, e] (both inclusive) against the value's range. */
function dateClause(startField: string, endField: string, op: Filter['operator'], value: string): MongoFilter<ResourceDoc> {
  const r: DateRange | undefined = parseDateRange(value);
  if (!r) fail(badRequest(`Invalid date "${value}": expected YYYY, YYYY-MM, YYYY-MM-DD or a dateTime`, startField));
  const { start, end } = r;
  switch (op) {
    case 'eq':
      return { [startField]: { $gte: start }, [endField]: { $lt: end } };
    case 'ne':
      return { $or: [{ [startField]: { $lt: start } }, { [endField]: { $gte: end } }] };
    case 'gt':
      return { [endField]: { $gte: end } };
    case 'lt':
      return { [startField]: { $lt: start } };
    case 'ge':
      return { [endField]: { $gte: start } };
    case 'le':
      return { [startField]: { $lt: end } };
    case 'sa':
      return { [startField]: { $gte: end } };
    case 'eb':
      return { [endField]: { $lt: start } };
    case 'ap': {
      const slack = Math.max(86_400_000, Math.abs(Date.now() - start.getTime()) * 0.1);
      return { [startField]: { $lt: new Date(end.getTime() + slack) }, [endField]: { $gte: new Date(start.getTime() - slack) } };
    }
    default:
      fail(badRequest(`Prefix "${op}" is not supported on dates`, startField));
  }
}

function parseNumber(v: string, code: string): { value: number; lo: number; hi: number } {
  if (!/^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/.test(v)) fail(badRequest(`Invalid number "${v}" for "${code}"`, code));
  const value = Number(v);
  const decimals = /\.(\d+)/.exec(v)?.[1]?.length ?? 0;
  const half = 0.5 * 10 ** -decimals;
  return { value, lo: value - half, hi: value + half };
}

function numberClause(field: string, op: Filter['operator'], n: { value: number; lo: number; hi: number }): MongoFilter<ResourceDoc> {
  switch (op) {
    case 'eq':
      return { [field]: { $gte: n.lo, $lt: n.hi } };
    case 'ne':
      return { [field]: { $exists: true, $not: { $gte: n.lo, $lt: n.hi } } }; // a resource without a value is not "not equal"
    case 'gt':
    case 'sa':
      return { [field]: { $gt: n.value } };
    case 'lt':
    case 'eb':
      return { [field]: { $lt: n.value } };
    case 'ge':
      return { [field]: { $gte: n.value } };
    case 'le':
      return { [field]: { $lte: n.value } };
    case 'ap': {
      const slack = Math.abs(n.value) * 0.1;
      return { [field]: { $gte: n.value - slack, $lte: n.value + slack } };
    }
    default:
      fail(badRequest(`Prefix "${op}" is not supported on numbers`, field));
  }
}

function quantityClause(field: string, op: Filter['operator'], value: string): MongoFilter<ResourceDoc> {
  const [num = '', system = '', code = ''] = value.split('|');
  const code0 = field.slice(3);
  const n = parseNumber(num, code0);
  if (!system && !code) return numberClause(`${field}.all`, op, n);
  const clause: Record<string, unknown> = { ...numberClause(`${field}.v`, op, n) };
  if (code) clause[`${field}.c`] = code;
  if (system) clause[`${field}.s`] = system;
  return clause as MongoFilter<ResourceDoc>;
}

/** Escapes a string for literal use in a regular expression. */
export function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
