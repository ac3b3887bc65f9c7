import { badRequest, evalFhirPathTyped, toTypedValue, type FhirPathAtom, type TypedValue } from '@medplum/core';
import type { Resource } from '@medplum/fhirtypes';
import { fail } from '../schema/outcomes.ts';
import { isResourceType, loadFhirDefinitions } from '../schema/fhir-definitions.ts';
import { MAX_REPEAT_DEPTH, parseViewPath, variablesOf } from './view-fhirpath.ts';

/**
 * SQL on FHIR v2 ViewDefinitions: a ViewDefinition is checked and compiled once (`compileView`),
 * then turns each resource into rows (`viewRows`). Pure: no database, no HTTP.
 * See: https://sql-on-fhir.org/ig/StructureDefinition-ViewDefinition.html
 */

/** A column as a ViewDefinition declares it. */
export interface ViewColumn {
  name: string;
  path: string;
  type?: string;
  collection?: boolean;
  description?: string;
}

/** A select: columns, nested selects and unions, optionally over each node of forEach / forEachOrNull / repeat. */
export interface ViewSelect {
  column?: ViewColumn[];
  select?: ViewSelect[];
  forEach?: string;
  forEachOrNull?: string;
  repeat?: string[];
  unionAll?: ViewSelect[];
}

/** A ViewDefinition (logical model; not an R4 resource type). */
export interface ViewDefinition {
  resourceType?: 'ViewDefinition';
  name?: string;
  title?: string;
  description?: string;
  status?: string;
  resource: string;
  constant?: ({ name: string } & Record<string, unknown>)[];
  select: ViewSelect[];
  where?: { path: string; description?: string }[];
}

/** A value in a row: a FHIR primitive, an object for a complex value, an array for a collection column, or null. */
export type RowValue = string | number | boolean | null | Record<string, unknown> | RowValue[];
export type Row = Record<string, RowValue>;

/** An output column: its name, declared FHIR type and whether it holds a collection. */
export interface OutputColumn {
  name: string;
  type?: string;
  collection: boolean;
}

interface CompiledColumn extends OutputColumn {
  path: FhirPathAtom;
}

interface CompiledSelect {
  columns: CompiledColumn[];
  selects: CompiledSelect[];
  unionAll: CompiledSelect[];
  iterate?: { kind: 'forEach' | 'forEachOrNull' | 'repeat'; paths: FhirPathAtom[] };
  /** Every column this select produces, in output order. */
  output: OutputColumn[];
}

/** A checked ViewDefinition, ready to run. */
export interface CompiledView {
  name?: string;
  resource: string;
  columns: OutputColumn[];
  where: FhirPathAtom[];
  selects: CompiledSelect[];
  constants: Record<string, TypedValue>;
}

const NAME = /^[A-Za-z][A-Za-z0-9_]*$/;
/** Variables FHIRPath or this runner define besides the view's constants. */
const BUILT_IN_VARIABLES = new Set(['resource', 'rootResource', 'context', 'rowIndex', 'ucum', 'sct', 'loinc']);

/** Checks a ViewDefinition (400 naming the element on any error) and compiles its paths. */
export function compileView(input: unknown): CompiledView {
  loadFhirDefinitions();
  if (!isObject(input)) fail(badRequest('A ViewDefinition must be a JSON object', 'ViewDefinition'));
  const view = input as Partial<ViewDefinition>;
  if (typeof view.resource !== 'string' || !isResourceType(view.resource)) fail(badRequest(`ViewDefinition.resource must name an R4 resource type, got ${JSON.stringify(view.resource ?? null)}`, 'ViewDefinition.resource'));
  if (!Array.isArray(view.select) || view.select.length === 0) fail(badRequest('ViewDefinition.select must hold at least one select', 'ViewDefinition.select'));
  const constants = compileConstants(view.constant);
  const known = new Set([...Object.keys(constants).map((k) => k.slice(1)), ...BUILT_IN_VARIABLES]);
  const path = (expression: unknown, where: string): FhirPathAtom => compilePath(expression, where, known);
  const selects = view.select.map((s, i) => compileSelect(s, `ViewDefinition.select[${i}]`, path));
  const columns = selects.flatMap((s) => s.output);
  assertUnique(columns, 'ViewDefinition');
  if (view.where !== undefined && !Array.isArray(view.where)) fail(badRequest('ViewDefinition.where must be an array', 'ViewDefinition.where'));
  const where = (view.where ?? []).map((w, i) => path(isObject(w) ? w.path : undefined, `ViewDefinition.where[${i}].path`));
  return { ...(typeof view.name === 'string' ? { name: view.name } : {}), resource: view.resource, columns, where, selects, constants };
}

function compileConstants(constants: unknown): Record<string, TypedValue> {
  if (constants === undefined) return {};
  if (!Array.isArray(constants)) fail(badRequest('ViewDefinition.constant must be an array', 'ViewDefinition.constant'));
  const out: Record<string, TypedValue> = {};
  constants.forEach((c: unknown, i) => {
    const at = `ViewDefinition.constant[${i}]`;
    if (!isObject(c) || typeof c.name !== 'string' || !NAME.test(c.name)) fail(badRequest('A constant needs a name of letters, digits and _', `${at}.name`));
    const values = Object.keys(c).filter((k) => /^value[A-Z]/.test(k));
    const key = values[0];
    if (values.length !== 1 || key === undefined) fail(badRequest(`Constant ${c.name} needs exactly one value[x]`, at));
    const type = key.charAt(5).toLowerCase() + key.slice(6);
    out[`%${c.name}`] = { type, value: c[key] };
  });
  return out;
}

function compilePath(expression: unknown, where: string, known: Set<string>): FhirPathAtom {
  if (typeof expression !== 'string' || !expression.trim()) fail(badRequest('Expected a FHIRPath expression (a string)', where));
  let atom: FhirPathAtom;
  try {
    atom = parseViewPath(expression);
  } catch (err) {
    fail(badRequest(`Invalid FHIRPath "${expression}": ${(err as Error).message}`, where));
  }
  const unknown = variablesOf(atom).filter((v) => !known.has(v) && !v.startsWith('`vs-') && !v.startsWith('`ext-'));
  if (unknown.length) fail(badRequest(`"${expression}" uses undefined constant %${unknown[0]}`, where));
  return atom;
}

function compileSelect(input: unknown, at: string, path: (e: unknown, where: string) => FhirPathAtom): CompiledSelect {
  if (!isObject(input)) fail(badRequest('A select must be an object', at));
  const s = input as ViewSelect;
  const iterators = (['forEach', 'forEachOrNull', 'repeat'] as const).filter((k) => s[k] !== undefined);
  if (iterators.length > 1) fail(badRequest(`A select has at most one of forEach, forEachOrNull, repeat; got ${iterators.join(', ')}`, at));
  const kind = iterators[0];
  let iterate: CompiledSelect['iterate'];
  if (kind === 'repeat') {
    if (!Array.isArray(s.repeat) || !s.repeat.length) fail(badRequest('repeat must be a non-empty array of FHIRPath expressions', `${at}.repeat`));
    iterate = { kind, paths: s.repeat.map((p, i) => path(p, `${at}.repeat[${i}]`)) };
  } else if (kind) {
    iterate = { kind, paths: [path(s[kind], `${at}.${kind}`)] };
  }
  for (const k of ['column', 'select', 'unionAll'] as const) if (s[k] !== undefined && !Array.isArray(s[k])) fail(badRequest(`${k} must be an array`, `${at}.${k}`));
  const columns = (s.column ?? []).map((c: unknown, i): CompiledColumn => {
    const cat = `${at}.column[${i}]`;
    if (!isObject(c)) fail(badRequest('A column must be an object', cat));
    if (typeof c.name !== 'string' || !NAME.test(c.name)) fail(badRequest(`Column name ${JSON.stringify(c.name ?? null)} must start with a letter and hold only letters, digits and _`, `${cat}.name`));
    if (c.collection !== undefined && typeof c.collection !== 'boolean') fail(badRequest('collection must be true or false', `${cat}.collection`));
    return { name: c.name, path: path(c.path, `${cat}.path`), ...(typeof c.type === 'string' ? { type: c.type } : {}), collection: c.collection === true };
  });
  const selects = (s.select ?? []).map((sub, i) => compileSelect(sub, `${at}.select[${i}]`, path));
  const unionAll = (s.unionAll ?? []).map((sub, i) => compileSelect(sub, `${at}.unionAll[${i}]`, path));
  const first = unionAll[0]?.output.map((c) => c.name).join(',');
  unionAll.forEach((u, i) => {
    const names = u.output.map((c) => c.name).join(',');
    if (names !== first) fail(badRequest(`Every unionAll branch must give the same columns in the same order: [${first}] and [${names}]`, `${at}.unionAll[${i}]`));
  });
  const output = [...columns.map(({ name, type, collection }) => ({ name, ...(type ? { type } : {}), collection })), ...selects.flatMap((x) => x.output), ...(unionAll[0]?.output ?? [])];
  assertUnique(output, at);
  return { columns, selects, unionAll, ...(iterate ? { iterate } : {}), output };
}

function assertUnique(columns: OutputColumn[], at: string): void {
  const seen = new Set<string>();
  for (const c of columns) {
    if (seen.has(c.name)) fail(badRequest(`Column ${c.name} is defined more than once`, at));
    seen.add(c.name);
  }
}

/** The rows a view gives for one resource (none when the resource is of another type or fails a where). */
export function viewRows(view: CompiledView, resource: Resource): Row[] {
  if (resource.resourceType !== view.resource) return [];
  const root = toTypedValue(resource);
  const variables: Record<string, TypedValue> = { ...view.constants, '%resource': root, '%rootResource': root, '%rowIndex': { type: 'integer', value: 0 } };
  for (const where of view.where) {
    const result = evalFhirPathTyped(where, [root], variables);
    if (result.length === 0) return [];
    if (result.length > 1 || result[0]?.type !== 'boolean') fail(badRequest(`where "${where.original}" must give a boolean, got ${result.map((r) => r.type).join(', ')}`, 'ViewDefinition.where'));
    if (result[0]?.value !== true) return [];
  }
  return product(view.selects.map((s) => runSelect(s, root, variables)));
}

/** Every row of a view over resources, one resource at a time. */
export function* runView(view: CompiledView, resources: Iterable<Resource>): Generator<Row> {
  for (const resource of resources) yield* viewRows(view, resource);
}

function runSelect(s: CompiledSelect, node: TypedValue, variables: Record<string, TypedValue>): Row[] {
  let foci: { node: TypedValue; variables: Record<string, TypedValue> }[] = [{ node, variables }];
  if (s.iterate) {
    const nodes = s.iterate.kind === 'repeat' ? repeatNodes(s.iterate.paths, node, variables) : evalFhirPathTyped(s.iterate.paths[0] as FhirPathAtom, [node], variables);
    if (nodes.length === 0 && s.iterate.kind === 'forEachOrNull') return [nullRow(s, variables)];
    foci = nodes.map((n, i) => ({ node: n, variables: { ...variables, '%rowIndex': { type: 'integer', value: i } } }));
  }
  const rows: Row[] = [];
  for (const focus of foci) {
    const own: Row = {};
    for (const c of s.columns) own[c.name] = columnValue(c, focus.node, focus.variables);
    const parts: Row[][] = [[own], ...s.selects.map((sub) => runSelect(sub, focus.node, focus.variables))];
    if (s.unionAll.length) parts.push(s.unionAll.flatMap((u) => runSelect(u, focus.node, focus.variables)));
    rows.push(...product(parts));
  }
  return rows;
}

/**
 * The row of a forEachOrNull that found nothing: its own columns evaluated on an empty focus (so
 * %rowIndex is 0 and paths give null), every column of its nested selects and unions null.
 */
function nullRow(s: CompiledSelect, variables: Record<string, TypedValue>): Row {
  const row: Row = Object.fromEntries(s.output.map((c) => [c.name, null]));
  const empty = { ...variables, '%rowIndex': { type: 'integer', value: 0 } };
  for (const c of s.columns) row[c.name] = columnOf(c, evalFhirPathTyped(c.path, [], empty));
  return row;
}

/** Depth first: each node reached by any of the paths, then the nodes reached from it. */
function repeatNodes(paths: FhirPathAtom[], start: TypedValue, variables: Record<string, TypedValue>): TypedValue[] {
  const out: TypedValue[] = [];
  const visit = (node: TypedValue, depth: number): void => {
    if (depth > MAX_REPEAT_DEPTH) return;
    for (const p of paths) {
      for (const child of evalFhirPathTyped(p, [node], variables)) {
        out.push(child);
        visit(child, depth + 1);
      }
    }
  };
  visit(start, 0);
  return out;
}

function columnValue(c: CompiledColumn, node: TypedValue, variables: Record<string, TypedValue>): RowValue {
  return columnOf(c, evalFhirPathTyped(c.path, [node], variables));
}

function columnOf(c: CompiledColumn, result: TypedValue[]): RowValue {
  const values = result.map((v) => jsonValue(v.value));
  if (c.collection) return values;
  if (values.length > 1) fail(badRequest(`Column ${c.name}: "${c.path.original}" gave ${values.length} values; declare the column collection: true or narrow the path`, c.name));
  return values[0] ?? null;
}

function jsonValue(value: unknown): RowValue {
  if (value === undefined || value === null) return null;
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return value;
  return value as Record<string, unknown>;
}

/** The cross join of row sets: every combination, merged left to right. */
function product(parts: Row[][]): Row[] {
  let rows: Row[] = [{}];
  for (const part of parts) rows = rows.flatMap((left) => part.map((right) => ({ ...left, ...right })));
  return rows;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
