import { createYoga, createSchema, useErrorHandler, type Plugin } from 'graphql-yoga';
import type { RequestHandler } from 'express';
import type { Logger } from 'pino';
import type { Repository } from '../../store/repository.ts';
import type { TimelineStore } from '../../timeline/projection.ts';
import type { GraphqlContext, ServerContext } from './context.ts';
import { typeDefs } from './type-defs.ts';
import { queryResolvers } from './resolvers-query.ts';
import { typeResolvers } from './resolvers-types.ts';
import { dateTimeScalar, JsonScalar } from './scalars.ts';
import { createLoaders } from './loaders.ts';
import { costLimitPlugin, depthLimitRule, fieldCountRule, type FieldCosts } from './limits.ts';
import { ctxOf } from '../http/context.ts';
import { variableErrorsPlugin } from './errors.ts';

/** Limits: maximum selection depth, estimated cost, root fields and aliased fields of one operation (the last three configurable). */
export const GRAPHQL_LIMITS = { maxDepth: 10, maxCost: 50_000, maxRootFields: 10, maxAliases: 30 } as const;

/** Configurable limits of the GraphQL endpoint (IDR_GRAPHQL_MAX_COST, _ROOT_FIELDS, _ALIASES). */
export interface GraphqlLimits {
  maxCost: number;
  maxRootFields: number;
  maxAliases: number;
}

/**
 * What a field that reads the store costs, beside the 1 every field costs: a patient search
 * (with its total) scans, a timeline page or a list of reports is one indexed query, a case
 * summary is several.
 */
export const STORE_FIELD_COSTS: FieldCosts = {
  'Query.patient': 5,
  'Query.patients': 100,
  'Patient.timeline': 20,
  'Patient.labTrend': 50,
  'Patient.reports': 20,
  'Patient.imagingStudies': 20,
  'Patient.documents': 20,
  'Patient.conditions': 20,
  'Patient.caseSummary': 200,
  'ImagingStudy.report': 5,
  'Report.results': 5,
  'TimelineEvent.resources': 5,
};

/**
 * The GraphQL endpoint (graphql-yoga) for the express app. Unexpected errors are masked unless
 * `development`; GraphiQL is served only in development. Every request gets fresh DataLoaders and
 * the RequestContext set by the express middleware.
 */
export function graphqlHandler(options: { repo: Repository; timeline: TimelineStore; development: boolean; logger: Logger; endpoint?: string; limits?: GraphqlLimits; timeZone?: string; viewerTemplate?: string }): RequestHandler {
  const limits = options.limits ?? GRAPHQL_LIMITS;
  const schema = createSchema<GraphqlContext & ServerContext>({
    typeDefs,
    resolvers: { DateTime: dateTimeScalar(options.timeZone ?? 'UTC'), JSON: JsonScalar, ...queryResolvers, ...typeResolvers },
  });
  const depthLimit: Plugin = {
    onValidate: ({ addValidationRule }) => {
      addValidationRule(depthLimitRule(GRAPHQL_LIMITS.maxDepth));
      addValidationRule(fieldCountRule(limits));
    },
  };
  const yoga = createYoga<ServerContext, GraphqlContext>({
    schema,
    graphqlEndpoint: options.endpoint ?? '/graphql',
    graphiql: options.development,
    // GraphiQL with its scripts and styles inlined (no CDN): the page works without internet.
    // Loaded on first use, development only (the bundle is 9 MB).
    renderGraphiQL: async (opts) => (await import('@graphql-yoga/render-graphiql')).renderGraphiQL(opts),
    landingPage: false,
    maskedErrors: { isDev: options.development },
    logging: false,
    context: ({ res }) => {
      const ctx = ctxOf(res);
      return { repo: options.repo, timeline: options.timeline, ctx, loaders: createLoaders(options.repo, ctx), ...(options.viewerTemplate ? { viewerTemplate: options.viewerTemplate } : {}) };
    },
    plugins: [
      depthLimit,
      costLimitPlugin(limits.maxCost, STORE_FIELD_COSTS),
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
