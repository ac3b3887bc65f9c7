import { describe, expect, it } from 'vitest';
import type { FieldNode, FragmentDefinitionNode, OperationDefinitionNode } from 'graphql';
import { graphqlJs } from './graphql-js.ts';
import { fieldsAt } from './selection.ts';

/** The info fieldsAt reads, for the first root field of a query's first operation. */
function infoOf(query: string): { fieldNodes: FieldNode[]; fragments: Record<string, FragmentDefinitionNode> } {
  const doc = graphqlJs.parse(query);
  const op = doc.definitions.find((d): d is OperationDefinitionNode => d.kind === graphqlJs.Kind.OPERATION_DEFINITION) as OperationDefinitionNode;
  const fragments = Object.fromEntries(doc.definitions.filter((d): d is FragmentDefinitionNode => d.kind === graphqlJs.Kind.FRAGMENT_DEFINITION).map((d) => [d.name.value, d]));
  return { fieldNodes: [op.selectionSet.selections[0] as FieldNode], fragments };
}

describe('fieldsAt', () => {
  it('collects the fields at a path through aliases, inline fragments and fragment spreads', () => {
    const info = infoOf(`{ timeline(first: 5) {
      totalCount
      edges { cursor node { time t2: title ... on TimelineEvent { lane } ...More } }
      more: edges { node { summary } }
    } }
    fragment More on TimelineEvent { codes ...Again }
    fragment Again on TimelineEvent { source { agent } }`);
    expect([...fieldsAt(info, ['edges', 'node'])].sort()).toEqual(['codes', 'lane', 'source', 'summary', 'time', 'title']);
    expect([...fieldsAt(info, ['edges'])].sort()).toEqual(['cursor', 'node']);
    expect([...fieldsAt(info, [])].sort()).toEqual(['edges', 'totalCount']);
  });

  it('is empty where nothing is selected, and does not loop on a fragment that spreads itself', () => {
    expect(fieldsAt(infoOf('{ timeline { totalCount } }'), ['edges', 'node']).size).toBe(0);
    const cyclic = infoOf('{ timeline { edges { node { ...A } } } } fragment A on TimelineEvent { time ...A }');
    expect([...fieldsAt(cyclic, ['edges', 'node'])]).toEqual(['time']);
  });
});
