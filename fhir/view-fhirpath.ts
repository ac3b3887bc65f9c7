import { FunctionAtom, parseFhirPath, SymbolAtom, type Atom, type AtomContext, type FhirPathAtom, type TypedValue } from '@medplum/core';

/**
 * FHIRPath for ViewDefinitions: @medplum/core parses and evaluates, and this module swaps in the
 * functions SQL on FHIR needs that core lacks or only stubs: `getResourceKey()`,
 * `getReferenceKey([type])` (over every reference, not only the first), `repeat(projection)`,
 * `lowBoundary()` / `highBoundary()`.
 * See: https://sql-on-fhir.org/ig/StructureDefinition-ViewDefinition.html#required-additional-functions
 */

type Impl = (context: AtomContext, input: TypedValue[], args: readonly Atom[]) => TypedValue[];

/** An atom calling one of the functions below instead of core's table. */
class ViewFunctionAtom implements Atom {
  readonly name: string;
  readonly args: readonly Atom[];
  private readonly impl: Impl;

  constructor(name: string, args: readonly Atom[], impl: Impl) {
    this.name = name;
    this.args = args;
    this.impl = impl;
  }

  eval(context: AtomContext, input: TypedValue[]): TypedValue[] {
    return this.impl(context, input, this.args);
  }

  toString(): string {
    return `${this.name}(${this.args.map((a) => a.toString()).join(', ')})`;
  }
}

const FUNCTIONS: Record<string, Impl> = {
  getResourceKey: (_ctx, input) => input.flatMap((tv) => (typeof tv.value?.id === 'string' && tv.value.resourceType ? [{ type: 'string', value: tv.value.id as string }] : [])),
  getReferenceKey: (_ctx, input, args) => {
    const wanted = args[0] instanceof SymbolAtom ? args[0].name : undefined;
    return input.flatMap((tv) => {
      const key = referenceKey(tv.value?.reference);
      return key && (!wanted || key.type === wanted) ? [{ type: 'string', value: key.id }] : [];
    });
  },
  repeat: (ctx, input, args) => {
    const projection = args[0];
    if (!projection) throw new Error('repeat() needs a projection');
    const out: TypedValue[] = [];
    let frontier = input;
    for (let depth = 0; frontier.length && depth < MAX_REPEAT_DEPTH; depth++) {
      frontier = frontier.flatMap((item) => projection.eval({ parent: ctx, variables: { $this: item } }, [item]));
      out.push(...frontier);
    }
    return out;
  },
  lowBoundary: (_ctx, input) => input.flatMap((tv) => boundary(tv, 'low')),
  highBoundary: (_ctx, input) => input.flatMap((tv) => boundary(tv, 'high')),
};

/** How deep `repeat` follows a projection (resources are trees; this only stops runaway expressions). */
export const MAX_REPEAT_DEPTH = 64;

/** Parses a ViewDefinition path, with the functions above in place of core's. */
export function parseViewPath(expression: string): FhirPathAtom {
  const atom = parseFhirPath(expression);
  substitute(atom as unknown as Record<string, unknown>);
  return atom;
}

/** The `%name` variables an expression refers to. */
export function variablesOf(atom: Atom): string[] {
  const found = new Set<string>();
  walk(atom as unknown as Record<string, unknown>, (node) => {
    if (node instanceof SymbolAtom && node.name.startsWith('%')) found.add(node.name.slice(1));
  });
  return [...found];
}

function substitute(node: Record<string, unknown>): void {
  for (const [key, value] of Object.entries(node)) {
    if (Array.isArray(value)) {
      value.forEach((item, i) => {
        const replaced = replacement(item);
        if (replaced) value[i] = replaced;
        if (isAtom(item)) substitute(item as Record<string, unknown>);
      });
      continue;
    }
    if (!isAtom(value)) continue;
    const replaced = replacement(value);
    if (replaced) node[key] = replaced;
    substitute(value as Record<string, unknown>);
  }
}

function replacement(value: unknown): Atom | undefined {
  if (!(value instanceof FunctionAtom)) return undefined;
  const impl = FUNCTIONS[value.name];
  return impl ? new ViewFunctionAtom(value.name, value.args, impl) : undefined;
}

function walk(node: Record<string, unknown>, visit: (node: unknown) => void): void {
  visit(node);
  for (const value of Object.values(node)) {
    for (const item of Array.isArray(value) ? value : [value]) if (isAtom(item)) walk(item as Record<string, unknown>, visit);
  }
}

function isAtom(value: unknown): boolean {
  return typeof value === 'object' && value !== null && typeof (value as Atom).eval === 'function';
}

/** Type and id of a relative or absolute literal reference ("Patient/1", "https://x/fhir/Patient/1/_history/2"). */
export function referenceKey(reference: unknown): { type: string; id: string } | undefined {
  if (typeof reference !== 'string') return undefined;
  const m = /(?:^|\/)([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})(?:\/_history\/[^/]+)?$/.exec(reference);
  return m ? { type: m[1] as string, id: m[2] as string } : undefined;
}

/**
 * The least or greatest value a value of limited precision may stand for.
 * Decimals: JSON parsing drops trailing zeros (1.0 arrives as 1), so a decimal's precision is
 * taken as at least one decimal place. Dates and times: missing parts filled in, and a date-time
 * without a time zone gets the widest one (+14:00 for the low, -12:00 for the high boundary).
 * See: https://build.fhir.org/ig/HL7/FHIRPath/#lowboundaryprecision-integer-decimal--date--datetime--time
 */
function boundary(tv: TypedValue, side: 'low' | 'high'): TypedValue[] {
  const v: unknown = tv.value;
  if (typeof v === 'number') {
    if (Number.isInteger(v) && tv.type !== 'decimal') return [tv];
    const places = Math.max((String(v).split('.')[1] ?? '').length, 1);
    const half = 0.5 * 10 ** -places;
    return [{ type: 'decimal', value: Number((side === 'low' ? v - half : v + half).toFixed(places + 1)) }];
  }
  if (typeof v !== 'string') return [];
  if (tv.type === 'date') {
    const d = dateBoundary(v, side);
    return d ? [{ type: 'date', value: d }] : [];
  }
  if (tv.type === 'time') {
    const t = timeBoundary(v, side);
    return t ? [{ type: 'time', value: t }] : [];
  }
  if (tv.type === 'dateTime' || tv.type === 'instant') {
    const m = /^(\d{4}(?:-\d{2}(?:-\d{2})?)?)(?:T([\d:.]+))?(Z|[+-]\d{2}:\d{2})?$/.exec(v);
    const date = m ? dateBoundary(m[1] as string, side) : undefined;
    const time = m ? timeBoundary(m[2] ?? '', side) : undefined;
    if (!m || !date || !time) return [];
    return [{ type: 'dateTime', value: `${date}T${time}${m[3] ?? (side === 'low' ? '+14:00' : '-12:00')}` }];
  }
  return [];
}

function dateBoundary(v: string, side: 'low' | 'high'): string | undefined {
  const m = /^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$/.exec(v);
  if (!m) return undefined;
  const year = m[1] as string;
  const month = m[2] ?? (side === 'low' ? '01' : '12');
  const lastDay = new Date(Date.UTC(Number(year), Number(month), 0)).getUTCDate();
  const day = m[3] ?? (side === 'low' ? '01' : String(lastDay).padStart(2, '0'));
  return `${year}-${month}-${day}`;
}

function timeBoundary(v: string, side: 'low' | 'high'): string | undefined {
  const m = /^T?(?:(\d{2})(?::(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?)?$/.exec(v);
  if (!m) return undefined;
  const [, h, min, s, frac] = m;
  const low = side === 'low';
  const ms = frac === undefined ? (low ? '000' : '999') : frac.padEnd(3, low ? '0' : '9').slice(0, 3);
  return `${h ?? (low ? '00' : '23')}:${min ?? (low ? '00' : '59')}:${s ?? (low ? '00' : '59')}.${ms}`;
}
