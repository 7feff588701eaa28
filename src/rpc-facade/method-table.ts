import { Kind, type ExecutionResult, type GraphQLSchema } from 'graphql';
import type { GraphContext } from '../graph/context.ts';
import { GraphqlExecutor, type PreparedDocument, type PreparedOperation } from '../graph/executor.ts';
import type { JsonSchema, Plan, V1Document, V1Method } from './method.ts';
import { compileParams, type ParamsValidator } from './params.ts';

export interface CompiledMethod {
  readonly method: V1Method;
  readonly validateParams: ParamsValidator;
  /** Runs the plan's operation on the shared executor: the error policy is applied to the result. */
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
 * The v1 methods, compiled once at start-up on the shared executor: each document is parsed and
 * validated against the schema and the query limits (a method whose document does not validate
 * stops the start), each operation compiled with graphql-jit, each parameter list compiled into an
 * ajv validator.
 */
export class MethodTable {
  readonly #methods = new Map<string, CompiledMethod>();

  /** A schema alone gets an executor of its own (the catalogue, tests); a gateway passes its shared one. */
  constructor(on: GraphqlExecutor | GraphQLSchema, methods: readonly V1Method[]) {
    const executor = on instanceof GraphqlExecutor ? on : new GraphqlExecutor({ schema: on });
    for (const method of methods) {
      if (this.#methods.has(method.id)) throw new Error(`v1 method ${method.id} is defined twice`);
      this.#methods.set(method.id, compileMethod(executor, method));
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

/** A typed document arrives parsed (by `graphql()`); plain text is parsed by the executor. */
function prepareDocument(executor: GraphqlExecutor, method: V1Method, document: V1Document): PreparedDocument {
  const prepared = typeof document === 'string' ? executor.prepare(document) : executor.prepareDocument(document);
  if (prepared.parseFailed) {
    throw new Error(`v1 method ${method.id}: its GraphQL document does not parse: ${prepared.errors.map((e) => e.message).join('; ')}`);
  }
  if (prepared.errors.length > 0) {
    throw new Error(`v1 method ${method.id}: its GraphQL document does not validate: ${prepared.errors.map((e) => e.message).join('; ')}`);
  }
  return prepared;
}

function compileMethod(executor: GraphqlExecutor, method: V1Method): CompiledMethod {
  const given: readonly V1Document[] = Array.isArray(method.document) ? method.document : [method.document as V1Document];
  const operations = new Map<string | undefined, PreparedOperation>();
  for (const document of given) {
    const prepared = prepareDocument(executor, method, document);
    for (const definition of prepared.document!.definitions) {
      if (definition.kind !== Kind.OPERATION_DEFINITION) continue;
      const name = definition.name?.value;
      if (operations.has(name)) throw new Error(`v1 method ${method.id}: operation ${name ?? '(anonymous)'} is defined twice`);
      const operation = executor.operation(prepared, name);
      // Persisted documents are known at start-up: each must compile, so no v1 call takes the slow path.
      if (!operation || operation.kind === 'subscription' || !executor.compile(operation)) {
        throw new Error(`v1 method ${method.id}: operation ${name ?? '(anonymous)'} does not compile with graphql-jit`);
      }
      operations.set(name, operation);
    }
  }
  // The only operation of a method also runs for plans that name none.
  if (operations.size === 1) operations.set(undefined, [...operations.values()][0]!);
  return {
    method,
    validateParams: compileParams(method.params),
    execute(plan, context) {
      const operation = operations.get(plan.operation);
      if (!operation) throw new Error(`v1 method ${method.id} has no operation ${plan.operation ?? '(default)'}`);
      return executor.execute(operation, context, plan.variables, 'v1', method.id);
    },
  };
}
