import { describe, expect, it } from 'vitest';
import { graphqlJs } from './graphql-js.ts';
import { depthLimitRule } from './limits.ts';

const { buildSchema, parse, validate } = graphqlJs;

// A recursive schema, so any depth can be asked for.
const schema = buildSchema(`
  type Node { id: ID!, child: Node, children: [Node!]! }
  type Query { root: Node }
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
