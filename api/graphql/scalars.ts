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

/** ISO 8601 date-time; dates without a time are read as midnight UTC. */
export const DateTimeScalar = new GraphQLScalarType<Date, string>({
  name: 'DateTime',
  description: 'An ISO 8601 date or date-time, e.g. 2024-03-15 or 2024-03-15T09:00:00+01:00; returned in UTC.',
  serialize: (v) => (v instanceof Date ? v : new Date(String(v))).toISOString(),
  parseValue: parseDate,
  parseLiteral: (ast) => parseDate(ast.kind === Kind.STRING ? ast.value : undefined),
});

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
