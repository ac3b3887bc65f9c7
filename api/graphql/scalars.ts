import type { ValueNode } from 'graphql';
import { ERROR_CODES } from './errors.ts';
import { graphqlJs } from './graphql-js.ts';

const { GraphQLError, GraphQLScalarType, Kind } = graphqlJs;

/** Custom scalars: DateTime (ISO 8601 in and out) and JSON (any value, e.g. a FHIR resource). */

function parseDate(value: unknown): Date {
  const d = typeof value === 'string' && /^\d{4}(-\d{2}(-\d{2}([T ][\d:.]+(Z|[+-]\d{2}:?\d{2})?)?)?)?$/.test(value) ? new Date(value) : new Date(NaN);
  if (Number.isNaN(d.getTime())) throw new GraphQLError(`DateTime: expected an ISO 8601 date or date-time, got ${JSON.stringify(value)}`, { extensions: { code: ERROR_CODES.badUserInput } });
  return d;
}

/**
 * An instant as ISO 8601 in `timeZone`, with its offset: 2025-03-17T00:00:00.000+01:00 — the
 * wall-clock time of the hospital, so a letter of 17 March reads 17 March, not 16 March 23:00Z.
 */
export function isoInZone(date: Date, timeZone: string): string {
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat('en-GB', { timeZone, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' })
      .formatToParts(date)
      .map((p) => [p.type, p.value]),
  );
  const wall = Date.UTC(Number(parts.year), Number(parts.month) - 1, Number(parts.day), Number(parts.hour), Number(parts.minute), Number(parts.second));
  const offsetMin = Math.round((wall - (date.getTime() - date.getUTCMilliseconds())) / 60_000);
  const sign = offsetMin < 0 ? '-' : '+';
  const abs = Math.abs(offsetMin);
  const ms = String(date.getUTCMilliseconds()).padStart(3, '0');
  const offset = `${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
  return `${parts.year}-${parts.month}-${parts.day}T${parts.hour}:${parts.minute}:${parts.second}.${ms}${offset}`;
}

/** The DateTime scalar, answering in the hospital's time zone; dates without a time are read as midnight UTC. */
export function dateTimeScalar(timeZone: string): InstanceType<typeof GraphQLScalarType<Date, string>> {
  return new GraphQLScalarType<Date, string>({
    name: 'DateTime',
    description: `An ISO 8601 date or date-time, e.g. 2024-03-15 or 2024-03-15T09:00:00+01:00; returned with its offset in the hospital's time zone (${timeZone}).`,
    serialize: (v) => isoInZone(v instanceof Date ? v : new Date(String(v)), timeZone),
    parseValue: parseDate,
    parseLiteral: (ast) => parseDate(ast.kind === Kind.STRING ? ast.value : undefined),
  });
}

function literal(ast: ValueNode, variables?: Record<string, unknown> | null): unknown {
  switch (ast.kind) {
    case Kind.STRING: case Kind.BOOLEAN: case Kind.ENUM: return ast.value;
    case Kind.INT: case Kind.FLOAT: return Number(ast.value);
    case Kind.NULL: return null;
    case Kind.LIST: return ast.values.map((v) => literal(v, variables));
    case Kind.OBJECT: return Object.fromEntries(ast.fields.map((f) => [f.name.value, literal(f.value, variables)]));
    case Kind.VARIABLE: return variables?.[ast.name.value];
  }
}

/** Any JSON value (FHIR resources are returned as they are served by /fhir). */
export const JsonScalar = new GraphQLScalarType({
  name: 'JSON',
  description: 'Any JSON value; FHIR resources as served by the FHIR REST API.',
  serialize: (v) => v,
  parseValue: (v) => v,
  parseLiteral: literal,
});
