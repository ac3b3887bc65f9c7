import type {
  ASTVisitor, DocumentNode, FragmentDefinitionNode, GraphQLField, GraphQLObjectType, GraphQLSchema, OperationDefinitionNode, SelectionSetNode, ValidationContext,
} from 'graphql';
import { graphqlJs } from './graphql-js.ts';
import type { Plugin } from 'graphql-yoga';
import { ERROR_CODES } from './errors.ts';

const { GraphQLError, Kind, getNamedType, getNullableType, isListType, valueFromAST } = graphqlJs;

/**
 * Query limits: a maximum selection depth (a validation rule, like graphql-depth-limit) and a
 * maximum estimated cost (checked before execution, when variable values are known): every field
 * costs 1, times the page size (`first`, else its default) of each enclosing list field.
 */

/** A validation rule rejecting operations nested deeper than `max` (introspection excluded). */
export function depthLimitRule(max: number): (context: ValidationContext) => ASTVisitor {
  return (context) => {
    const fragments = new Map(context.getDocument().definitions.filter((d): d is FragmentDefinitionNode => d.kind === Kind.FRAGMENT_DEFINITION).map((d) => [d.name.value, d]));
    const depth = (set: SelectionSetNode, seen: Set<string>): number => {
      let deepest = 0;
      for (const s of set.selections) {
        if (s.kind === Kind.FIELD) {
          if (s.name.value.startsWith('__')) continue;
          deepest = Math.max(deepest, 1 + (s.selectionSet ? depth(s.selectionSet, seen) : 0));
        } else if (s.kind === Kind.INLINE_FRAGMENT) {
          deepest = Math.max(deepest, depth(s.selectionSet, seen));
        } else if (!seen.has(s.name.value)) {
          const f = fragments.get(s.name.value);
          if (f) deepest = Math.max(deepest, depth(f.selectionSet, new Set([...seen, s.name.value])));
        }
      }
      return deepest;
    };
    return {
      OperationDefinition(node: OperationDefinitionNode) {
        const d = depth(node.selectionSet, new Set());
        if (d > max) context.reportError(new GraphQLError(`Query depth ${d} exceeds the maximum of ${max}`, { nodes: [node], extensions: { code: ERROR_CODES.tooComplex } }));
      },
    };
  };
}

const LIST_WITHOUT_FIRST = 10;

/** The estimated cost of an operation given its variables. */
export function operationCost(schema: GraphQLSchema, document: DocumentNode, variables: Record<string, unknown> = {}, operationName?: string | null): number {
  const fragments = new Map(document.definitions.filter((d): d is FragmentDefinitionNode => d.kind === Kind.FRAGMENT_DEFINITION).map((d) => [d.name.value, d]));
  const ops = document.definitions.filter((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION);
  const op = ops.find((o) => !operationName || o.name?.value === operationName);
  if (!op) return 0;
  const root = op.operation === 'mutation' ? schema.getMutationType() : schema.getQueryType();
  const cost = (set: SelectionSetNode, type: GraphQLObjectType | null | undefined, seen: Set<string>): number => {
    let total = 0;
    for (const s of set.selections) {
      if (s.kind === Kind.FRAGMENT_SPREAD) {
        const f = fragments.get(s.name.value);
        if (f && !seen.has(s.name.value)) total += cost(f.selectionSet, schema.getType(f.typeCondition.name.value) as GraphQLObjectType, new Set([...seen, s.name.value]));
        continue;
      }
      if (s.kind === Kind.INLINE_FRAGMENT) {
        total += cost(s.selectionSet, s.typeCondition ? (schema.getType(s.typeCondition.name.value) as GraphQLObjectType) : type, seen);
        continue;
      }
      if (s.name.value.startsWith('__')) continue;
      const field: GraphQLField<unknown, unknown> | undefined = type?.getFields?.()[s.name.value];
      total += 1;
      if (!s.selectionSet || !field) continue;
      let factor = 1;
      const firstArg = field.args.find((a) => a.name === 'first');
      if (firstArg) {
        const node = s.arguments?.find((a) => a.name.value === 'first');
        const v = node ? valueFromAST(node.value, firstArg.type, variables) : firstArg.defaultValue;
        factor = typeof v === 'number' && v > 0 ? v : 1;
      } else if (isListType(getNullableType(field.type))) {
        factor = LIST_WITHOUT_FIRST;
      }
      total += factor * cost(s.selectionSet, getNamedType(field.type) as GraphQLObjectType, seen);
    }
    return total;
  };
  return cost(op.selectionSet, root, new Set());
}

/** A yoga plugin that refuses operations whose estimated cost exceeds `max`. */
export function costLimitPlugin(max: number): Plugin {
  return {
    onExecute({ args, setResultAndStopExecution }) {
      const cost = operationCost(args.schema, args.document, (args.variableValues ?? {}) as Record<string, unknown>, args.operationName);
      if (cost > max) {
        setResultAndStopExecution({ errors: [new GraphQLError(`Query cost ${cost} exceeds the maximum of ${max}; ask for fewer items per page`, { extensions: { code: ERROR_CODES.tooComplex, cost, max } })] });
      }
    },
  };
}
