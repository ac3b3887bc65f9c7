import { describe, expect, it } from 'vitest';
import { graphqlJs } from './graphql-js.ts';
import { depthLimitRule, fieldCountRule, operationCost } from './limits.ts';

const { buildSchema, parse, validate } = graphqlJs;

// A recursive schema, so any depth can be asked for.
const schema = buildSchema(`
  type Node { id: ID!, child: Node, children: [Node!]! }
  type Query { root: Node, search(first: Int = 20): [Node!]! }
`);

function nested(depth: number): string {
  let q = 'id';
  for (let i = 1; i < depth; i++) q = `child { ${q} }`;
  return `{ root { ${q} } }`;
}

function errors(query: string, max: number): string[] {
  return validate(schema, parse(query), [depthLimitRule(max)]).map((e) => e.message);
}

describe('depthLimitRule', () => {
  it('accepts a query at the limit and refuses one level deeper, naming both numbers', () => {
    expect(errors(nested(9), 10)).toEqual([]);
    expect(errors(nested(10), 10)).toEqual(['Query depth 11 exceeds the maximum of 10']);
  });

  it('follows fragments and inline fragments, and does not loop on recursive fragments', () => {
    const viaFragments = `
      query { root { ...A } }
      fragment A on Node { child { ... on Node { child { ...B } } } }
      fragment B on Node { child { child { id } } }`;
    expect(errors(viaFragments, 5)).toEqual(['Query depth 6 exceeds the maximum of 5']);
    expect(errors(viaFragments, 6)).toEqual([]);
    const recursive = 'query { root { ...R } } fragment R on Node { child { ...R } }';
    expect(() => validate(schema, parse(recursive), [depthLimitRule(10)])).not.toThrow();
  });

  it('does not count introspection fields', () => {
    expect(errors('{ __schema { types { fields { type { ofType { name } } } } } }', 2)).toEqual([]);
  });
});

/** A chain of fragments each spreading the next twice: expanded naively, 2^levels selections. */
function fragmentBomb(levels: number, leaf: string): string {
  const defs = Array.from({ length: levels }, (_, i) => `fragment F${i} on Query { ...F${i + 1} ...F${i + 1} }`);
  return `query { ...F0 } ${defs.join(' ')} fragment F${levels} on Query { ${leaf} }`;
}

describe('fieldCountRule', () => {
  const check = (query: string, limits = { maxRootFields: 10, maxAliases: 30 }): string[] => validate(schema, parse(query), [fieldCountRule(limits)]).map((e) => e.message);

  it('refuses 300 aliased root fields, naming the counts and the settings', () => {
    const query = `{ ${Array.from({ length: 300 }, (_, i) => `p${i}: search { id }`).join(' ')} }`;
    expect(check(query)).toEqual([
      'The operation asks for 300 root fields; at most 10 are allowed (IDR_GRAPHQL_MAX_ROOT_FIELDS): send several requests',
      'The operation uses 300 aliased fields; at most 30 are allowed (IDR_GRAPHQL_MAX_ALIASES)',
    ]);
  });

  it('counts aliases at any depth and through fragments, and accepts what is within the limits', () => {
    const nestedAliases = `{ root { ...A } } fragment A on Node { ${Array.from({ length: 31 }, (_, i) => `c${i}: child { id }`).join(' ')} }`;
    expect(check(nestedAliases)).toEqual(['The operation uses 31 aliased fields; at most 30 are allowed (IDR_GRAPHQL_MAX_ALIASES)']);
    expect(check(`{ a: root { id } b: root { id } search { id } }`)).toEqual([]);
  });

  it('counts a fragment at each use without expanding it each time', () => {
    const errs = check(fragmentBomb(40, 'x: root { id }'));
    expect(errs).toHaveLength(2);
    expect(errs[0]).toMatch(/asks for \d+ root fields/);
  });
});

describe('operationCost', () => {
  const costOf = (query: string, weights = {}): number => operationCost(schema, parse(query), {}, undefined, weights);

  it('pays for every aliased copy of a field, with its weight, times the page size', () => {
    expect(costOf('{ search { id } }')).toBe(1 + 20);
    expect(costOf('{ a: search { id } b: search { id } }')).toBe(2 * 21);
    expect(costOf('{ a: search(first: 100) { id } b: search { id } }', { 'Query.search': 50 })).toBe(50 + 100 + 50 + 20);
  });

  it('multiplies nested lists and stays quick on nested fragment spreads', () => {
    expect(costOf('{ search(first: 5) { children { id } } }')).toBe(1 + 5 * (1 + 10 * 1));
    expect(costOf(fragmentBomb(40, 'root { id }'))).toBe(2 ** 40 * 2);
  });
});
