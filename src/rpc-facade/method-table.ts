import { compileQuery, isCompiledQuery } from 'graphql-jit';
import { Kind, validate, type DocumentNode, type ExecutionResult, type GraphQLSchema } from 'graphql';
import type { GraphContext } from '../graph/context.ts';
import { parseWithinLimits, queryLimitRules } from '../graph/query-limits.ts';
import type { JsonSchema, Plan, V1Document, V1Method } from './method.ts';
import { compileParams, type ParamsValidator } from './params.ts';

type Run = (variables: Readonly<Record<string, unknown>>, context: GraphContext) => Promise<ExecutionResult> | ExecutionResult;

export interface CompiledMethod {
  readonly method: V1Method;
  readonly validateParams: ParamsValidator;
  execute(plan: Plan, context: GraphContext): Promise<ExecutionResult> | ExecutionResult;
}

/** What `schema/v1-methods.json` publishes of each method. */
export interface CatalogueEntry {
  readonly id: string;
  readonly title: string;
  readonly permission: string;
  readonly upload?: { readonly maxBytes: number };
  readonly params: readonly { name: string; required: boolean; description?: string; schema: JsonSchema }[];
}

/**
 * The v1 methods, compiled once at start-up: each document is parsed and validated against the
 * schema (a method whose document does not validate stops the start), each operation compiled with
 * graphql-jit, each parameter list compiled into an ajv validator.
 */
export class MethodTable {
  readonly #methods = new Map<string, CompiledMethod>();

  constructor(schema: GraphQLSchema, methods: readonly V1Method[]) {
    for (const method of methods) {
      if (this.#methods.has(method.id)) throw new Error(`v1 method ${method.id} is defined twice`);
      this.#methods.set(method.id, compileMethod(schema, method));
    }
  }

  get(id: string): CompiledMethod | undefined {
    return this.#methods.get(id);
  }

  catalogue(): CatalogueEntry[] {
    return [...this.#methods.values()]
      .map(({ method }) => ({
        id: method.id,
        title: method.title,
        permission: method.permission,
        ...(method.upload ? { upload: method.upload } : {}),
        params: method.params.map(({ name, required, description, schema }) => ({
          name,
          required,
          ...(description ? { description } : {}),
          schema,
        })),
      }))
      .sort((a, b) => a.id.localeCompare(b.id));
  }
}

/** A typed document arrives parsed (by `graphql()`); only plain text is parsed here. */
function parseDocument(method: V1Method, document: V1Document): DocumentNode {
  if (typeof document !== 'string') return document;
  try {
    return parseWithinLimits(document);
  } catch (error) {
    throw new Error(`v1 method ${method.id}: its GraphQL document does not parse: ${(error as Error).message}`);
  }
}

function compileMethod(schema: GraphQLSchema, method: V1Method): CompiledMethod {
  const given: readonly V1Document[] = Array.isArray(method.document) ? method.document : [method.document as V1Document];
  const documents = given.map((document) => parseDocument(method, document));
  const runs = new Map<string | undefined, Run>();
  for (const document of documents) {
    const errors = validate(schema, document).concat(validate(schema, document, queryLimitRules()));
    if (errors.length > 0) {
      throw new Error(`v1 method ${method.id}: its GraphQL document does not validate: ${errors.map((e) => e.message).join('; ')}`);
    }
    for (const operation of document.definitions.filter((definition) => definition.kind === Kind.OPERATION_DEFINITION)) {
      const name = operation.name?.value;
      if (runs.has(name)) throw new Error(`v1 method ${method.id}: operation ${name ?? '(anonymous)'} is defined twice`);
      const compiled = compileQuery(schema, document, name, { disablingCapturingStackErrors: true });
      if (!isCompiledQuery(compiled)) {
        throw new Error(`v1 method ${method.id}: operation ${name ?? '(anonymous)'} does not compile: ${compiled.errors?.map((e) => e.message).join('; ')}`);
      }
      runs.set(name, (variables, context) => compiled.query(undefined, context, variables) as Promise<ExecutionResult> | ExecutionResult);
    }
  }
  // The only operation of a method also runs for plans that name none.
  if (runs.size === 1) runs.set(undefined, [...runs.values()][0]!);
  return {
    method,
    validateParams: compileParams(method.params),
    execute(plan, context) {
      const run = runs.get(plan.operation);
      if (!run) throw new Error(`v1 method ${method.id} has no operation ${plan.operation ?? '(default)'}`);
      return run(plan.variables, context);
    },
  };
}
