import type { GraphQLError as GraphQLErrorType } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { graphqlJs } from './graphql-js.ts';
import { getStatus, OperationOutcomeError } from '@medplum/core';

/**
 * GraphQL errors with `extensions.code`. Repository errors (OperationOutcomes) become the matching
 * code; anything else is left to graphql-yoga's masking (a generic message outside development).
 */

const { GraphQLError } = graphqlJs;

export const ERROR_CODES = {
  badUserInput: 'BAD_USER_INPUT',
  notFound: 'NOT_FOUND',
  forbidden: 'FORBIDDEN',
  tooComplex: 'QUERY_TOO_COMPLEX',
} as const;

/** A BAD_USER_INPUT error naming the argument. */
export function badUserInput(message: string, argument?: string): GraphQLErrorType {
  return new GraphQLError(message, { extensions: { code: ERROR_CODES.badUserInput, ...(argument ? { argument } : {}) } });
}

/** Turns an OperationOutcomeError into a GraphQLError with a code; rethrows anything else unchanged. */
export function toGraphqlError(err: unknown): never {
  if (err instanceof OperationOutcomeError) {
    const status = getStatus(err.outcome);
    const issue = err.outcome.issue?.[0];
    const message = issue?.details?.text ?? err.message;
    const code = status === 404 || status === 410 ? ERROR_CODES.notFound : status === 403 || status === 401 ? ERROR_CODES.forbidden : status < 500 ? ERROR_CODES.badUserInput : undefined;
    if (code) throw new GraphQLError(message, { extensions: { code, ...(issue?.expression?.[0] ? { argument: issue.expression[0] } : {}) } });
  }
  throw err;
}

/** Runs a resolver body, mapping repository errors to GraphQL errors. */
export async function guarded<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    return toGraphqlError(err);
  }
}

/** A yoga plugin giving variable-coercion errors (e.g. an unknown enum value such as a lane) the code BAD_USER_INPUT. */
export function variableErrorsPlugin(): Plugin {
  return {
    onExecute: () => ({
      onExecuteDone: ({ result, setResult }) => {
        if (!('errors' in result) || !result.errors?.length || ('data' in result && result.data)) return;
        const errors = result.errors.map((e) =>
          /^Variable "\$/.test(e.message) && !e.extensions?.code ? new GraphQLError(e.message, { nodes: e.nodes ?? null, extensions: { ...e.extensions, code: ERROR_CODES.badUserInput } }) : e,
        );
        setResult({ ...result, errors });
      },
    }),
  };
}
