import { maxAliasesRule } from '@escape.tech/graphql-armor-max-aliases';
import { maxDepthRule } from '@escape.tech/graphql-armor-max-depth';
import { GraphQLError, parse, type DocumentNode, type ParseOptions, type Source, type ValidationContext, type ValidationRule } from 'graphql';

export interface QueryLimits {
  /** Deepest allowed nesting of fields, fragments included (`__type` counts; `__schema` has its own limit). */
  readonly maxDepth: number;
  /**
   * Deepest allowed nesting under `__schema`. The standard introspection query (graphql-js and
   * GraphiQL's, with its `ofType` chain nine deep) reaches 15 levels; this lets tools load the
   * schema without raising the limit for everything else.
   */
  readonly maxIntrospectionDepth: number;
  /** Most aliases allowed in one operation, counting each fragment spread. */
  readonly maxAliases: number;
  /** Most lexical tokens the parser reads before giving up. */
  readonly maxTokens: number;
}

export const DEFAULT_QUERY_LIMITS: QueryLimits = { maxDepth: 12, maxIntrospectionDepth: 15, maxAliases: 30, maxTokens: 5000 };

/** Reports the library's rejection as an ordinary validation error with our code and message. */
function reportLimit(message: string) {
  return (context: ValidationContext | null) =>
    context?.reportError(new GraphQLError(message, { extensions: { code: 'QUERY_TOO_COMPLEX', status: 400 } }));
}

/**
 * The depth and alias rules (graphql-armor). Depth is checked twice: `maxDepth` for everything but
 * `__schema` (the library's `ignoreIntrospection`), and `maxIntrospectionDepth` for everything, so
 * introspection gets its own, bounded allowance. Its defaults are tightened where they would let a
 * document past our limits: a fragment
 * adds no level of its own (`flattenFragments`, so a spread weighs what its fields weigh), and
 * aliases of `__typename` count like any other. Rejections are reported, not thrown, so they
 * reach the client as validation errors.
 */
export function queryLimitRules(limits: QueryLimits = DEFAULT_QUERY_LIMITS): ValidationRule[] {
  return [
    maxDepthRule({
      n: limits.maxDepth,
      ignoreIntrospection: true,
      flattenFragments: true,
      propagateOnRejection: false,
      onReject: [reportLimit(`Query is nested deeper than ${limits.maxDepth} levels`)],
    }),
    maxDepthRule({
      n: limits.maxIntrospectionDepth,
      ignoreIntrospection: false,
      flattenFragments: true,
      propagateOnRejection: false,
      onReject: [reportLimit(`Introspection is nested deeper than ${limits.maxIntrospectionDepth} levels`)],
    }),
    maxAliasesRule({
      n: limits.maxAliases,
      allowList: [],
      propagateOnRejection: false,
      onReject: [reportLimit(`Query uses more than ${limits.maxAliases} aliases`)],
    }),
  ];
}

/**
 * Parses with the token limit. graphql-js enforces it itself (`maxTokens`), stopping the lexer at
 * the limit with a syntax error; graphql-armor's max-tokens does the same through the parser's
 * private lexer, so it is not used.
 */
export function parseWithinLimits(source: string | Source, limits: QueryLimits = DEFAULT_QUERY_LIMITS, options?: ParseOptions): DocumentNode {
  return parse(source, { ...options, maxTokens: limits.maxTokens });
}
