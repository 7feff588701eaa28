import { compileQuery, isCompiledQuery } from 'graphql-jit';
import {
  execute,
  getOperationAST,
  GraphQLError,
  Kind,
  type FragmentDefinitionNode,
  type SelectionNode,
  createSourceEventStream,
  specifiedRules,
  validate,
  type DocumentNode,
  type ExecutionResult,
  type GraphQLSchema,
  type OperationTypeNode,
  type ValidationRule,
} from 'graphql';
import type { Principal } from '../domain/principal.ts';
import type { GraphContext } from './context.ts';
import { applyErrorPolicy, UNEXPECTED_ERROR_MESSAGE, withoutSuggestions, withValidationCode } from './error-policy.ts';
import { DEFAULT_QUERY_LIMITS, parseWithinLimits, queryLimitRules, type QueryLimits } from './query-limits.ts';

type Variables = Readonly<Record<string, unknown>> | null | undefined;
type Run = (context: GraphContext, variables: Variables) => Promise<ExecutionResult> | ExecutionResult;
/** Executes a subscription's selection for one event of its source stream. */
type EventRun = (payload: unknown, context: GraphContext, variables: Variables) => Promise<ExecutionResult> | ExecutionResult;

/** Who sent an operation; the call record says it. */
export type OperationSource = 'graphql-http' | 'graphql-ws' | 'v1';

/** One finished operation (or started subscription), as the call log records it. */
export interface OperationRecord {
  readonly source: OperationSource;
  /** The operation's name, or the v1 method id. */
  readonly name: string | undefined;
  readonly kind: OperationTypeNode;
  readonly durationMs: number;
  readonly ok: boolean;
  readonly principal: Principal;
  /** The document and operation name that ran: the call log records each root field. */
  readonly document: DocumentNode;
  readonly operationName: string | undefined;
  /** The errors of the result, after the error policy. */
  readonly errors: readonly GraphQLError[];
  readonly context: GraphContext;
}

/** An admitted operation; `release` once it has finished. */
export interface GuardAdmission {
  release(): void;
}

/**
 * Judges an operation before it runs, by its root fields (the per-field call limits, whether
 * introspection is allowed): an admission, or the error to answer instead (no data).
 */
export type OperationGuard = (
  rootFields: readonly string[],
  context: GraphContext,
  source: OperationSource,
) => Promise<GuardAdmission | GraphQLError> | GuardAdmission | GraphQLError;

export interface ExecutorOptions {
  readonly schema: GraphQLSchema;
  /**
   * Judges every operation sent as GraphQL (not the v1 facade's, which its dispatcher judges by
   * method) before it runs.
   */
  readonly guard?: OperationGuard;
  /** NODE_ENV=production: validation errors carry no "Did you mean" suggestions. */
  readonly production?: boolean;
  readonly limits?: QueryLimits;
  /** Parsed and validated documents kept, by text: at least this many of the most recently used. */
  readonly documentCacheSize?: number;
  /** Called once per finished query or mutation, and per started subscription: the one place operations are recorded. */
  readonly record?: (record: OperationRecord) => void;
}

/** A document that parsed and validated, or the errors that stopped it (already shaped by the error policy). */
export interface PreparedDocument {
  /** Undefined when it did not parse. */
  readonly document: DocumentNode | undefined;
  /** Parse or validation errors; empty when the document is usable. */
  readonly errors: readonly GraphQLError[];
  /** Set for a parse error: the spec sets those apart from validation errors only in name. */
  readonly parseFailed: boolean;
  /** Compiled operations of this document, by name ('' for the only or anonymous one). */
  readonly operations: Map<string, PreparedOperation>;
}

export interface PreparedOperation {
  readonly name: string | undefined;
  readonly kind: OperationTypeNode;
  readonly document: DocumentNode;
  /** Compiled by graphql-jit (so far: see `GraphqlExecutor.compile`). */
  readonly compiled: boolean;
  readonly run: Run;
  /** Subscriptions: how each event is executed (graphql-js, then graphql-jit once compiled). */
  readonly event?: EventRun;
}

type MutableOperation = { -readonly [K in keyof PreparedOperation]: PreparedOperation[K] };

/** Runs on graphql-js before an operation is compiled with graphql-jit. */
const JIT_AFTER_RUNS = 1;

/** Most compiled operations kept per document; a document of hundreds of operations is an attack, not a client. */
const OPERATIONS_PER_DOCUMENT = 16;

/** GraphQL's own answer when the operation to run cannot be told (graphql-yoga's wording and code). */
export function operationResolutionError(): GraphQLError {
  return new GraphQLError('Could not determine what operation to execute.', {
    extensions: { code: 'OPERATION_RESOLUTION_FAILURE', status: 400 },
  });
}

/**
 * A bounded cache that keeps what is used: two generations, as quick-lru does. A hit in the
 * current generation is one Map lookup (no reordering per hit); a hit in the previous one moves
 * the entry forward; when the current generation is full it becomes the previous one, and what
 * was not used since is dropped. At most `2 × size` entries, and at least the last `size` used.
 */
class DocumentCache<V> {
  #current = new Map<string, V>();
  #previous = new Map<string, V>();
  readonly #size: number;

  constructor(size: number) {
    this.#size = size;
  }

  get(key: string): V | undefined {
    const value = this.#current.get(key);
    if (value !== undefined) return value;
    const old = this.#previous.get(key);
    if (old !== undefined) {
      this.#previous.delete(key);
      this.set(key, old);
    }
    return old;
  }

  set(key: string, value: V): void {
    this.#current.set(key, value);
    if (this.#current.size >= this.#size) {
      this.#previous = this.#current;
      this.#current = new Map();
    }
  }
}

/**
 * The one executor of every GraphQL operation, whoever sends it (GraphQL over HTTP, graphql-ws, the
 * v1 facade, what Yoga still serves): documents parsed within the query limits and validated with
 * the limit rules, cached by text (bounded); operations compiled with graphql-jit from their second
 * run (graphql-js before, and for what jit cannot compile), kept with their document; results
 * passed through the error policy; each finished operation handed to `record`.
 */
export class GraphqlExecutor {
  readonly schema: GraphQLSchema;
  readonly #limits: QueryLimits;
  readonly #rules: readonly ValidationRule[];
  readonly #documents: DocumentCache<PreparedDocument>;
  readonly #record: ((record: OperationRecord) => void) | undefined;
  readonly #guard: OperationGuard | undefined;
  readonly #production: boolean;
  readonly #rootFields = new WeakMap<PreparedOperation, readonly string[]>();
  /** How often each subscription operation was started: the second start compiles it. */
  readonly #subscriptionStarts = new WeakMap<PreparedOperation, number>();
  /** Documents another server parsed and validated (Yoga, with its own cache), by identity. */
  readonly #foreign = new WeakMap<DocumentNode, PreparedDocument>();

  constructor(options: ExecutorOptions) {
    this.schema = options.schema;
    this.#limits = options.limits ?? DEFAULT_QUERY_LIMITS;
    this.#rules = [...specifiedRules, ...queryLimitRules(this.#limits)];
    this.#documents = new DocumentCache(options.documentCacheSize ?? 1000);
    this.#record = options.record;
    this.#guard = options.guard;
    this.#production = options.production ?? false;
  }

  /** The root fields an operation selects (fragments included, `__typename` left out), each once. */
  rootFields(operation: PreparedOperation): readonly string[] {
    let fields = this.#rootFields.get(operation);
    if (!fields) {
      fields = rootFieldsOf(operation.document, operation.name);
      this.#rootFields.set(operation, fields);
    }
    return fields;
  }

  /** The document of `query`, parsed and validated once per text while it stays in the cache. */
  prepare(query: string): PreparedDocument {
    let prepared = this.#documents.get(query);
    if (!prepared) {
      prepared = this.#prepareText(query);
      this.#documents.set(query, prepared);
    }
    return prepared;
  }

  /** Validates an already parsed document (the v1 facade's persisted ones), without caching it. */
  prepareDocument(document: DocumentNode): PreparedDocument {
    let errors = validate(this.schema, document, this.#rules).map(withValidationCode);
    if (this.#production) errors = errors.map(withoutSuggestions);
    return { document, errors, parseFailed: false, operations: new Map() };
  }

  /**
   * A document that graphql-yoga parsed and validated under the same limits (its own cache keeps
   * one object per text), so that its operations are compiled and recorded here too.
   */
  adopt(document: DocumentNode): PreparedDocument {
    let prepared = this.#foreign.get(document);
    if (!prepared) {
      prepared = { document, errors: [], parseFailed: false, operations: new Map() };
      this.#foreign.set(document, prepared);
    }
    return prepared;
  }

  /**
   * The operation `operationName` picks (graphql's rules); undefined when none is picked. It is
   * resolved before validation errors are answered (GraphQL over HTTP answers a GET mutation with
   * 405 whether or not it validates), and prepared once; only an operation of a valid document runs.
   */
  operation(prepared: PreparedDocument, operationName: string | null | undefined): PreparedOperation | undefined {
    const { document } = prepared;
    if (!document) return undefined;
    const key = operationName ?? '';
    let operation = prepared.operations.get(key);
    if (operation) return operation;
    const node = getOperationAST(document, operationName);
    if (!node) return undefined;
    operation =
      prepared.errors.length === 0
        ? this.#prepareOperation(document, node.name?.value, node.operation)
        : { name: node.name?.value, kind: node.operation, document, compiled: false, run: invalidDocument };
    if (prepared.operations.size < OPERATIONS_PER_DOCUMENT) prepared.operations.set(key, operation);
    return operation;
  }

  /**
   * Runs a query or mutation with the error policy applied to its result. Never throws: a failure
   * outside the resolvers becomes a masked error, logged with the request.
   */
  execute(
    operation: PreparedOperation,
    context: GraphContext,
    variables: Variables,
    source: OperationSource,
    name: string | undefined = operation.name,
  ): Promise<ExecutionResult> | ExecutionResult {
    if (this.#guard && source !== 'v1') return this.#guarded(this.#guard, operation, context, variables, source, name);
    return this.#execute(operation, context, variables, source, name);
  }

  async #guarded(
    guard: OperationGuard,
    operation: PreparedOperation,
    context: GraphContext,
    variables: Variables,
    source: OperationSource,
    name: string | undefined,
  ): Promise<ExecutionResult> {
    const started = this.#record ? performance.now() : 0;
    let answer: GuardAdmission | GraphQLError;
    try {
      answer = await guard(this.rootFields(operation), context, source);
    } catch (error) {
      return this.#finish(crashed(error), operation, context, source, name, started);
    }
    // A refusal is recorded too: the call log counts it as declined, with its rule.
    if (answer instanceof GraphQLError) return this.#finish({ errors: [answer] }, operation, context, source, name, started);
    try {
      return await this.#execute(operation, context, variables, source, name);
    } finally {
      answer.release();
    }
  }

  #execute(
    operation: PreparedOperation,
    context: GraphContext,
    variables: Variables,
    source: OperationSource,
    name: string | undefined,
  ): Promise<ExecutionResult> | ExecutionResult {
    const started = this.#record ? performance.now() : 0;
    let result: Promise<ExecutionResult> | ExecutionResult;
    try {
      result = operation.run(context, variables);
    } catch (error) {
      result = crashed(error);
    }
    if (result instanceof Promise) {
      return result.then(
        (value) => this.#finish(value, operation, context, source, name, started),
        (error: unknown) => this.#finish(crashed(error), operation, context, source, name, started),
      );
    }
    return this.#finish(result, operation, context, source, name, started);
  }

  /** Starts a subscription (graphql-js); every event passes through the error policy. */
  async subscribe(
    operation: PreparedOperation,
    context: GraphContext,
    variables: Variables,
    source: OperationSource = 'graphql-ws',
  ): Promise<AsyncIterableIterator<ExecutionResult> | ExecutionResult> {
    const started = this.#record ? performance.now() : 0;
    if (this.#guard) {
      // Starting a subscription counts as a call of its field; it holds no concurrency slot while it runs.
      const answer = await this.#guard(this.rootFields(operation), context, 'graphql-ws');
      if (answer instanceof GraphQLError) return this.#finish({ errors: [answer] }, operation, context, source, operation.name, started);
      answer.release();
    }
    // The source stream comes from graphql-js (its errors read as the spec's reference words them);
    // each event is then executed as queries are: on graphql-jit from the operation's second start.
    const stream = await createSourceEventStream({
      schema: this.schema,
      document: operation.document,
      operationName: operation.name,
      variableValues: variables,
      contextValue: context,
    });
    if (!(Symbol.asyncIterator in stream)) return this.#finish(stream, operation, context, source, operation.name, started);
    const starts = (this.#subscriptionStarts.get(operation) ?? 0) + 1;
    this.#subscriptionStarts.set(operation, starts);
    // Compiled once, at the start after the graphql-js ones; an operation jit cannot compile is not tried again.
    if (starts === JIT_AFTER_RUNS + 1) this.compile(operation);
    this.#finish({}, operation, context, source, operation.name, started);
    return mapEvents(stream[Symbol.asyncIterator](), async (payload) => {
      let event: ExecutionResult;
      try {
        event = await operation.event!(payload, context, variables);
      } catch (error) {
        event = crashed(error);
      }
      return event.errors?.length ? applyErrorPolicy(event, context.log) : event;
    });
  }

  #finish(
    result: ExecutionResult,
    operation: PreparedOperation,
    context: GraphContext,
    source: OperationSource,
    name: string | undefined,
    started: number,
  ): ExecutionResult {
    // The request logger is touched only when there is something to log.
    const final = result.errors?.length ? applyErrorPolicy(result, context.log) : result;
    this.#record?.({
      source,
      name,
      kind: operation.kind,
      durationMs: performance.now() - started,
      ok: !final.errors?.length,
      principal: context.principal,
      document: operation.document,
      operationName: operation.name,
      errors: final.errors ?? [],
      context,
    });
    return final;
  }

  #prepareText(query: string): PreparedDocument {
    let document: DocumentNode;
    try {
      document = parseWithinLimits(query, this.#limits);
    } catch (error) {
      if (!(error instanceof GraphQLError)) throw error;
      const parseError = new GraphQLError(error.message, {
        source: error.source,
        positions: error.positions,
        extensions: { code: 'GRAPHQL_PARSE_FAILED', status: 400 },
      });
      return { document: undefined, errors: [parseError], parseFailed: true, operations: new Map() };
    }
    return this.prepareDocument(document);
  }

  /**
   * A valid operation starts on graphql-js and is compiled with graphql-jit on its second run, as
   * Mercurius does: a compile costs far more than one execution, so documents sent once (ad hoc
   * queries, or one per request) never pay it.
   */
  #prepareOperation(document: DocumentNode, name: string | undefined, kind: OperationTypeNode): MutableOperation {
    const viaGraphqlJs = graphqlJsRun(this.schema, document, name);
    const operation: MutableOperation = { name, kind, document, compiled: false, run: viaGraphqlJs };
    if (kind === 'subscription') {
      operation.event = graphqlJsEvent(this.schema, document, name);
      return operation;
    }
    let runs = 0;
    operation.run = (context, variables) => {
      if (++runs > JIT_AFTER_RUNS) this.compile(operation);
      return viaGraphqlJs(context, variables);
    };
    return operation;
  }

  /**
   * Compiles `operation` with graphql-jit now (the v1 facade does so at start-up); false when jit
   * cannot compile it, which leaves it on graphql-js.
   */
  compile(operation: PreparedOperation): boolean {
    if (operation.compiled) return true;
    const target = operation as MutableOperation;
    const { schema } = this;
    const { document, name } = operation;
    const viaGraphqlJs = graphqlJsRun(schema, document, name);
    const compiled = compileQuery(schema, document, name, { disablingCapturingStackErrors: true });
    if (!isCompiledQuery(compiled)) {
      target.run = viaGraphqlJs;
      return false;
    }
    target.compiled = true;
    if (operation.kind === 'subscription') {
      // The compiled query of a subscription resolves its root field from the event (`rootValue`).
      target.event = (payload, context, variables) =>
        compiled.query(payload, context, variables as Record<string, unknown>) as Promise<ExecutionResult> | ExecutionResult;
      return true;
    }
    target.run = (context, variables) => {
      const result = compiled.query(undefined, context, variables as Record<string, unknown>) as Promise<ExecutionResult> | ExecutionResult;
      // Variables that do not coerce: graphql-jit words the errors its own way. graphql-js, which
      // stops at the same check, words them as the spec's reference (and Yoga) does.
      if (!(result instanceof Promise) && result.data === undefined && result.errors?.length) return viaGraphqlJs(context, variables);
      return result;
    };
    return true;
  }
}

function rootFieldsOf(document: DocumentNode, name: string | undefined): readonly string[] {
  const operation = getOperationAST(document, name);
  if (!operation) return [];
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const definition of document.definitions) {
    if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments.set(definition.name.value, definition);
  }
  const fields = new Set<string>();
  const seen = new Set<string>();
  const walk = (selections: readonly SelectionNode[]) => {
    for (const selection of selections) {
      if (selection.kind === Kind.FIELD) {
        if (selection.name.value !== '__typename') fields.add(selection.name.value);
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        walk(selection.selectionSet.selections);
      } else if (!seen.has(selection.name.value)) {
        seen.add(selection.name.value);
        const fragment = fragments.get(selection.name.value);
        if (fragment) walk(fragment.selectionSet.selections);
      }
    }
  };
  walk(operation.selectionSet.selections);
  return [...fields];
}

/** `name` of `document` on graphql-js. */
function graphqlJsRun(schema: GraphQLSchema, document: DocumentNode, name: string | undefined): Run {
  return (context, variables) =>
    execute({ schema, document, operationName: name, variableValues: variables, contextValue: context }) as Promise<ExecutionResult> | ExecutionResult;
}

/** One event of subscription `name` of `document` on graphql-js, as its `subscribe` runs it. */
function graphqlJsEvent(schema: GraphQLSchema, document: DocumentNode, name: string | undefined): EventRun {
  return (payload, context, variables) =>
    execute({ schema, document, operationName: name, rootValue: payload, variableValues: variables, contextValue: context }) as
      | Promise<ExecutionResult>
      | ExecutionResult;
}

function invalidDocument(): never {
  throw new Error('an operation of a document that does not validate was run');
}

/** A failure outside the resolvers: the error policy masks it and logs the original. */
function crashed(error: unknown): ExecutionResult {
  return { errors: [new GraphQLError(UNEXPECTED_ERROR_MESSAGE, { originalError: error instanceof Error ? error : new Error(String(error)) })] };
}

/** `source` with `map` applied to each event; `return` reaches the source at once, even mid-wait. */
function mapEvents<T, U>(source: AsyncIterator<T>, map: (value: T) => U | Promise<U>): AsyncIterableIterator<U> {
  const iterator: AsyncIterableIterator<U> = {
    async next() {
      const step = await source.next();
      return step.done ? { done: true, value: undefined } : { done: false, value: await map(step.value) };
    },
    async return() {
      await source.return?.(undefined);
      return { done: true, value: undefined };
    },
    async throw(error: unknown) {
      if (source.throw) await source.throw(error);
      return { done: true, value: undefined };
    },
    [Symbol.asyncIterator]() {
      return iterator;
    },
  };
  return iterator;
}
