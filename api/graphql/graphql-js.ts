import { createRequire } from 'node:module';
import type * as GraphqlModule from 'graphql';

/**
 * graphql-js, loaded the way Node loads it for graphql-yoga (graphql 16 has no "exports": Node
 * picks the CommonJS index.js). Importing 'graphql' directly would let a bundler-style resolver
 * (vitest/vite) pick index.mjs instead: two instances, and "Cannot use GraphQLNonNull from
 * another module or realm". Values come from here; types may still be imported from 'graphql'.
 */
export const graphqlJs = createRequire(import.meta.url)('graphql') as typeof GraphqlModule;
