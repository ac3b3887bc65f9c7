import type {
  ASTVisitor, DocumentNode, FragmentDefinitionNode, GraphQLField, GraphQLObjectType, GraphQLSchema, OperationDefinitionNode, SelectionSetNode, ValidationContext,
} from 'graphql';
import { graphqlJs } from './graphql-js.ts';
import type { Plugin } from 'graphql-yoga';
import { ERROR_CODES } from './errors.ts';

const { GraphQLError, Kind, getNamedType, getNullableType, isListType, valueFromAST } = graphqlJs;

/**
 * Query limits, so that one request cannot keep the store busy: a maximum selection depth (a
 * validation rule, like graphql-depth-limit), a maximum number of root fields and of aliased
 * fields (a validation rule: 300 aliased `patients` fields are 300 searches run at once), and a
 * maximum estimated cost (checked before execution, when variable values are known). Every field
 * costs 1, a field that reads the store costs its weight (`fieldCosts`, keyed `Type.field`), and
 * both are multiplied by the page size (`first`, else its default) of each enclosing list field.
 * Every selection counts, so aliases and repeated fields are paid for each time. Fragments are
 * measured once each, so nested fragment spreads cannot make the checks themselves slow.
 */

type FragmentMap = Map<string, FragmentDefinitionNode>;

function fragmentsOf(document: DocumentNode): FragmentMap {
  return new Map(document.definitions.filter((d): d is FragmentDefinitionNode => d.kind === Kind.FRAGMENT_DEFINITION).map((d) => [d.name.value, d]));
}

/**
 * A measure of a selection set where a fragment's measure is computed once and reused at every
 * spread (a fragment spread inside itself, which validation refuses anyway, counts as `cyclic`).
 */
function memoised<T>(fragments: FragmentMap, measure: (set: SelectionSetNode, spread: (name: string) => T) => T, cyclic: T): (set: SelectionSetNode) => T {
  const done = new Map<string, T>();
  const active = new Set<string>();
  const spread = (name: string): T => {
    const known = done.get(name);
    if (known !== undefined) return known;
    const f = fragments.get(name);
    if (!f || active.has(name)) return cyclic;
    active.add(name);
    const value = measure(f.selectionSet, spread);
    active.delete(name);
    done.set(name, value);
    return value;
  };
  return (set) => measure(set, spread);
}

/** A validation rule rejecting operations nested deeper than `max` (introspection excluded). */
export function depthLimitRule(max: number): (context: ValidationContext) => ASTVisitor {
  return (context) => {
    const depthOf = (set: SelectionSetNode, spread: (name: string) => number): number => {
      let deepest = 0;
      for (const s of set.selections) {
        if (s.kind === Kind.FIELD) {
          if (s.name.value.startsWith('__')) continue;
          deepest = Math.max(deepest, 1 + (s.selectionSet ? depthOf(s.selectionSet, spread) : 0));
        } else if (s.kind === Kind.INLINE_FRAGMENT) {
          deepest = Math.max(deepest, depthOf(s.selectionSet, spread));
        } else {
          deepest = Math.max(deepest, spread(s.name.value));
        }
      }
      return deepest;
    };
    const depth = memoised(fragmentsOf(context.getDocument()), depthOf, 0);
    return {
      OperationDefinition(node: OperationDefinitionNode) {
        const d = depth(node.selectionSet);
        if (d > max) context.reportError(new GraphQLError(`Query depth ${d} exceeds the maximum of ${max}`, { nodes: [node], extensions: { code: ERROR_CODES.tooComplex } }));
      },
    };
  };
}

/** Root fields (after fragments) and aliased fields (at any depth, each use of a fragment counted) of an operation. */
export function operationShape(document: DocumentNode, operation: OperationDefinitionNode): { rootFields: number; aliases: number } {
  const fragments = fragmentsOf(document);
  const aliasesOf = (set: SelectionSetNode, spread: (name: string) => number): number => {
    let n = 0;
    for (const s of set.selections) {
      if (s.kind === Kind.FIELD) n += (s.alias ? 1 : 0) + (s.selectionSet ? aliasesOf(s.selectionSet, spread) : 0);
      else if (s.kind === Kind.INLINE_FRAGMENT) n += aliasesOf(s.selectionSet, spread);
      else n += spread(s.name.value);
    }
    return n;
  };
  const rootOf = (set: SelectionSetNode, spread: (name: string) => number): number => {
    let n = 0;
    for (const s of set.selections) {
      if (s.kind === Kind.FIELD) n += s.name.value.startsWith('__') ? 0 : 1;
      else if (s.kind === Kind.INLINE_FRAGMENT) n += rootOf(s.selectionSet, spread);
      else n += spread(s.name.value);
    }
    return n;
  };
  // Capped sums: a document crafted to overflow the counts still just exceeds the limits.
  const cap = (n: number): number => Math.min(n, Number.MAX_SAFE_INTEGER);
  return { rootFields: cap(memoised(fragments, rootOf, 0)(operation.selectionSet)), aliases: cap(memoised(fragments, aliasesOf, 0)(operation.selectionSet)) };
}

/** A validation rule refusing operations with more than `maxRootFields` root fields or `maxAliases` aliased fields. */
export function fieldCountRule(limits: { maxRootFields: number; maxAliases: number }): (context: ValidationContext) => ASTVisitor {
  return (context) => ({
    OperationDefinition(node: OperationDefinitionNode) {
      const { rootFields, aliases } = operationShape(context.getDocument(), node);
      if (rootFields > limits.maxRootFields) {
        context.reportError(new GraphQLError(`The operation asks for ${rootFields} root fields; at most ${limits.maxRootFields} are allowed (IDR_GRAPHQL_MAX_ROOT_FIELDS): send several requests`, { nodes: [node], extensions: { code: ERROR_CODES.tooComplex, rootFields, max: limits.maxRootFields } }));
      }
      if (aliases > limits.maxAliases) {
        context.reportError(new GraphQLError(`The operation uses ${aliases} aliased fields; at most ${limits.maxAliases} are allowed (IDR_GRAPHQL_MAX_ALIASES)`, { nodes: [node], extensions: { code: ERROR_CODES.tooComplex, aliases, max: limits.maxAliases } }));
      }
    },
  });
}

const LIST_WITHOUT_FIRST = 10;

/** Weights of fields that read the store, keyed `Type.field`; other fields cost 1. */
export type FieldCosts = Readonly<Record<string, number>>;

/** The estimated cost of an operation given its variables. */
export function operationCost(schema: GraphQLSchema, document: DocumentNode, variables: Record<string, unknown> = {}, operationName?: string | null, fieldCosts: FieldCosts = {}): number {
  const ops = document.definitions.filter((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION);
  const op = ops.find((o) => !operationName || o.name?.value === operationName);
  if (!op) return 0;
  const root = op.operation === 'mutation' ? schema.getMutationType() : schema.getQueryType();
  const fragments = fragmentsOf(document);
  const fragmentCosts = new Map<string, number>();
  const active = new Set<string>();
  const fragmentCost = (name: string): number => {
    const known = fragmentCosts.get(name);
    if (known !== undefined) return known;
    const f = fragments.get(name);
    if (!f || active.has(name)) return 0;
    active.add(name);
    const c = cost(f.selectionSet, schema.getType(f.typeCondition.name.value) as GraphQLObjectType);
    active.delete(name);
    fragmentCosts.set(name, c);
    return c;
  };
  const cost = (set: SelectionSetNode, type: GraphQLObjectType | null | undefined): number => {
    let total = 0;
    for (const s of set.selections) {
      if (s.kind === Kind.FRAGMENT_SPREAD) {
        total += fragmentCost(s.name.value);
        continue;
      }
      if (s.kind === Kind.INLINE_FRAGMENT) {
        total += cost(s.selectionSet, s.typeCondition ? (schema.getType(s.typeCondition.name.value) as GraphQLObjectType) : type);
        continue;
      }
      if (s.name.value.startsWith('__')) continue;
      const field: GraphQLField<unknown, unknown> | undefined = type?.getFields?.()[s.name.value];
      total += (type && fieldCosts[`${type.name}.${s.name.value}`]) || 1;
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
      total += factor * cost(s.selectionSet, getNamedType(field.type) as GraphQLObjectType);
    }
    return Math.min(total, Number.MAX_SAFE_INTEGER);
  };
  return cost(op.selectionSet, root);
}

/** A yoga plugin that refuses operations whose estimated cost exceeds `max`. */
export function costLimitPlugin(max: number, fieldCosts: FieldCosts = {}): Plugin {
  return {
    onExecute({ args, setResultAndStopExecution }) {
      const cost = operationCost(args.schema, args.document, (args.variableValues ?? {}) as Record<string, unknown>, args.operationName, fieldCosts);
      if (cost > max) {
        setResultAndStopExecution({ errors: [new GraphQLError(`Query cost ${cost} exceeds the maximum of ${max} (IDR_GRAPHQL_MAX_COST); ask for fewer items per page or fewer fields`, { extensions: { code: ERROR_CODES.tooComplex, cost, max } })] });
      }
    },
  };
}
