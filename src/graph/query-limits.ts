import { maxAliasesRule } from '@escape.tech/graphql-armor-max-aliases';
import { maxDepthRule } from '@escape.tech/graphql-armor-max-depth';
import {
  getNamedType,
  GraphQLError,
  isCompositeType,
  isObjectType,
  isInterfaceType,
  Kind,
  type GraphQLCompositeType,
  type GraphQLField,
  parse,
  type DocumentNode,
  type FieldNode,
  type FragmentDefinitionNode,
  type ParseOptions,
  type SelectionNode,
  type Source,
  type ValidationContext,
  type ValidationRule,
} from 'graphql';
import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE } from '../domain/list-query.ts';

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
  /** Most directives in one operation, counting each fragment spread. */
  readonly maxDirectives: number;
  /**
   * Highest estimated cost of one operation: every field costs 1, times the page sizes of the list
   * fields above it (`first` / `last`; the page maximum when a variable gives it; the schema's
   * default, or a connection's default page, when it is left out).
   */
  readonly maxCost: number;
}

export const DEFAULT_QUERY_LIMITS: QueryLimits = {
  maxDepth: 12,
  maxIntrospectionDepth: 15,
  maxAliases: 30,
  maxTokens: 5000,
  maxDirectives: 50,
  maxCost: 20_000,
};

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
    operationWeightRule(limits),
  ];
}

/**
 * Directives and cost of each operation, fragments counted where they are spread (a fragment
 * spread twice costs twice). Introspection fields are free: the introspection depth bounds them.
 */
function operationWeightRule(limits: QueryLimits): ValidationRule {
  return (context) => ({
    OperationDefinition(operation) {
      const schema = context.getSchema();
      const fragments = new Map<string, FragmentDefinitionNode>();
      for (const definition of context.getDocument().definitions) {
        if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments.set(definition.name.value, definition);
      }
      /** The type a fragment's condition names; the enclosing one when it names none. */
      const typeNamed = (name: string | undefined, enclosing: GraphQLCompositeType | undefined) => {
        const type = name === undefined ? enclosing : schema.getType(name);
        return type && isCompositeType(type) ? type : undefined;
      };
      let directives = 0;
      let cost = 0;
      let stopped = false;
      const walk = (selections: readonly SelectionNode[], parent: GraphQLCompositeType | undefined, multiplier: number, depth: number, path: readonly string[]) => {
        for (const selection of selections) {
          if (stopped) return;
          directives += selection.directives?.length ?? 0;
          if (selection.kind === Kind.FIELD) {
            if (selection.name.value.startsWith('__')) continue;
            cost += multiplier;
            const definition = parent && (isObjectType(parent) || isInterfaceType(parent)) ? parent.getFields()[selection.name.value] : undefined;
            if (selection.selectionSet) {
              const named = definition && getNamedType(definition.type);
              const type = named && isCompositeType(named) ? named : undefined;
              walk(selection.selectionSet.selections, type, multiplier * pageSize(selection, definition), depth + 1, path);
            }
          } else if (selection.kind === Kind.INLINE_FRAGMENT) {
            walk(selection.selectionSet.selections, typeNamed(selection.typeCondition?.name.value, parent), multiplier, depth, path);
          } else {
            const name = selection.name.value;
            const fragment = fragments.get(name);
            // A cycle is reported by graphql's own rule; stop here so it costs nothing twice.
            if (!fragment || path.includes(name)) continue;
            directives += fragment.directives?.length ?? 0;
            walk(fragment.selectionSet.selections, typeNamed(fragment.typeCondition.name.value, parent), multiplier, depth, [...path, name]);
          }
          if (directives > limits.maxDirectives || cost > limits.maxCost || depth > 64) stopped = true;
        }
      };
      directives += operation.directives?.length ?? 0;
      walk(operation.selectionSet.selections, schema.getRootType(operation.operation) ?? undefined, 1, 0, []);
      if (directives > limits.maxDirectives) {
        reportLimit(`Query uses more than ${limits.maxDirectives} directives`)(context);
      } else if (cost > limits.maxCost) {
        reportLimit(`Query is estimated to cost more than ${limits.maxCost} (each field 1, times the page sizes above it)`)(context);
      }
    },
  });
}

const PAGE_ARGUMENTS = new Set(['first', 'last', 'limit']);

/**
 * The page size a field asks for: the largest of its `first`, `last` or `limit` arguments (at most
 * the page maximum, which a variable counts as). Left out, it is the argument's schema default, or a
 * connection's default page; fields without such arguments count 1.
 */
function pageSize(field: FieldNode, definition: GraphQLField<unknown, unknown> | undefined): number {
  let size = 1;
  const given = new Set<string>();
  for (const argument of field.arguments ?? []) {
    const name = argument.name.value;
    const value = argument.value;
    // `first: null` asks for the default page, as leaving it out does.
    if (!PAGE_ARGUMENTS.has(name) || value.kind === Kind.NULL) continue;
    given.add(name);
    if (value.kind === Kind.INT) size = Math.max(size, Math.min(Number(value.value), MAX_PAGE_SIZE));
    else if (value.kind === Kind.VARIABLE) size = MAX_PAGE_SIZE;
  }
  const pageArguments = definition?.args.filter((argument) => PAGE_ARGUMENTS.has(argument.name)) ?? [];
  if (given.size === 0 && pageArguments.length > 0) {
    const declared = pageArguments.map((argument) => argument.defaultValue).filter((value): value is number => typeof value === 'number');
    size = declared.length > 0 ? Math.min(Math.max(...declared), MAX_PAGE_SIZE) : DEFAULT_PAGE_SIZE;
  }
  return size;
}

/**
 * Parses with the token limit. graphql-js enforces it itself (`maxTokens`), stopping the lexer at
 * the limit with a syntax error; graphql-armor's max-tokens does the same through the parser's
 * private lexer, so it is not used.
 */
export function parseWithinLimits(source: string | Source, limits: QueryLimits = DEFAULT_QUERY_LIMITS, options?: ParseOptions): DocumentNode {
  return parse(source, { ...options, maxTokens: limits.maxTokens });
}
