import type { FieldNode, FragmentDefinitionNode, GraphQLResolveInfo, SelectionSetNode } from 'graphql';
import { graphqlJs } from './graphql-js.ts';

const { Kind } = graphqlJs;

/**
 * The names of the fields a query selects at `path` below the field being resolved (e.g.
 * ["edges", "node"] of a connection), through inline fragments and fragment spreads, whatever
 * their aliases. `@skip`/`@include` are not evaluated: a field they leave out still counts, so the
 * set is never short of what the response needs.
 */
export function fieldsAt(info: Pick<GraphQLResolveInfo, 'fieldNodes' | 'fragments'>, path: readonly string[]): Set<string> {
  let sets = info.fieldNodes.flatMap((n) => (n.selectionSet ? [n.selectionSet] : []));
  for (const name of path) {
    sets = sets.flatMap((s) => fieldsOf(s, info.fragments).flatMap((f) => (f.name.value === name && f.selectionSet ? [f.selectionSet] : [])));
  }
  return new Set(sets.flatMap((s) => fieldsOf(s, info.fragments).map((f) => f.name.value)));
}

function fieldsOf(set: SelectionSetNode, fragments: Record<string, FragmentDefinitionNode>, seen = new Set<string>()): FieldNode[] {
  return set.selections.flatMap((s): FieldNode[] => {
    if (s.kind === Kind.FIELD) return [s];
    if (s.kind === Kind.INLINE_FRAGMENT) return fieldsOf(s.selectionSet, fragments, seen);
    const fragment = fragments[s.name.value];
    if (!fragment || seen.has(s.name.value)) return [];
    return fieldsOf(fragment.selectionSet, fragments, new Set([...seen, s.name.value]));
  });
}
