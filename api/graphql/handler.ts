import { createYoga, createSchema, useErrorHandler, type Plugin } from 'graphql-yoga';
import type { RequestHandler } from 'express';
import type { Logger } from 'pino';
import type { Repository } from '../../store/repository.ts';
import type { TimelineStore } from '../../timeline/projection.ts';
import type { GraphqlContext, ServerContext } from './context.ts';
import { typeDefs } from './type-defs.ts';
import { queryResolvers } from './resolvers-query.ts';
import { typeResolvers } from './resolvers-types.ts';
import { DateTimeScalar, JsonScalar } from './scalars.ts';
import { createLoaders } from './loaders.ts';
import { costLimitPlugin, depthLimitRule } from './limits.ts';
import { ctxOf } from '../http/context.ts';
import { variableErrorsPlugin } from './errors.ts';

/** Limits: maximum selection depth and estimated cost of one operation. */
export const GRAPHQL_LIMITS = { maxDepth: 10, maxCost: 50_000 } as const;

/**
 * The GraphQL endpoint (graphql-yoga) for the express app. Unexpected errors are masked unless
 * `development`; GraphiQL is served only in development. Every request gets fresh DataLoaders and
 * the RequestContext set by the express middleware.
 */
export function graphqlHandler(options: { repo: Repository; timeline: TimelineStore; development: boolean; logger: Logger; endpoint?: string }): RequestHandler {
  const schema = createSchema<GraphqlContext & ServerContext>({
    typeDefs,
    resolvers: { DateTime: DateTimeScalar, JSON: JsonScalar, ...queryResolvers, ...typeResolvers },
  });
  const depthLimit: Plugin = { onValidate: ({ addValidationRule }) => addValidationRule(depthLimitRule(GRAPHQL_LIMITS.maxDepth)) };
  const yoga = createYoga<ServerContext, GraphqlContext>({
    schema,
    graphqlEndpoint: options.endpoint ?? '/graphql',
    graphiql: options.development,
    landingPage: false,
    maskedErrors: { isDev: options.development },
    logging: false,
    context: ({ res }) => {
      const ctx = ctxOf(res);
      return { repo: options.repo, timeline: options.timeline, ctx, loaders: createLoaders(options.repo, ctx) };
    },
    plugins: [
      depthLimit,
      costLimitPlugin(GRAPHQL_LIMITS.maxCost),
      variableErrorsPlugin(),
      useErrorHandler(({ errors, context }) => {
        for (const err of errors) {
          const original = (err as { originalError?: Error }).originalError;
          if (original && !(original as { extensions?: unknown }).extensions) {
            options.logger.error({ err: original, requestId: (context as Partial<GraphqlContext>).ctx?.requestId }, 'graphql resolver failed');
          }
        }
      }),
    ],
  });
  return (req, res) => {
    void yoga(req, res, { req, res });
  };
}
