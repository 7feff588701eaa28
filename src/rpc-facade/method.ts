import { print, type DocumentNode } from 'graphql';
import type { ClientInfo } from '../domain/client-info.ts';
import type { Principal } from '../domain/principal.ts';
import { graphql, type AnyTypedDocument, type FragmentOf, type ResultOf, type VariablesOf } from './graphql.ts';
import type { V1Result } from './result.ts';

/** A JSON Schema (draft-07), as the v1 documents give them per parameter. */
export type JsonSchema = Readonly<Record<string, unknown>>;

export interface ParamSpec {
  readonly name: string;
  readonly required: boolean;
  readonly schema: JsonSchema;
  readonly description?: string;
}

export interface CallContext {
  readonly principal: Principal;
  readonly client: ClientInfo;
  readonly requestId: string;
}

/** The fields of the `Error` interface, to spread into every mutation result union. */
export const ErrorFields = graphql(`
  fragment ErrorFields on Error { message code status }
`);

/** The same selection for documents written as plain strings. */
export const ERROR_FIELDS = `__typename ... on Error ${selectionOf(ErrorFields)}`;

function selectionOf(fragment: DocumentNode): string {
  const [definition] = fragment.definitions;
  if (!definition || !('selectionSet' in definition)) throw new Error('expected a fragment');
  return print(definition.selectionSet);
}

/**
 * A persisted document: typed with `graphql()` (result and variables types come from the schema), or
 * plain GraphQL text. Either way it is parsed once, when the module defining it loads or when the
 * method table is built.
 */
export type V1Document = AnyTypedDocument | string;

/** The variables of a method's documents; plain-text documents take any. */
type Variables<D extends V1Document> = [D] extends [AnyTypedDocument] ? VariablesOf<D> : Readonly<Record<string, unknown>>;

/**
 * The data a method maps; plain-text documents give untyped data. Typed errors (members carrying
 * `ErrorFields`) are answered by the dispatcher before `result` runs, so they are removed from each
 * root field's type.
 */
export type Answered<D extends V1Document> = [D] extends [AnyTypedDocument] ? AnsweredData<D> : Readonly<Record<string, unknown>>;

type AnsweredData<D> = D extends AnyTypedDocument
  ? { readonly [K in keyof ResultOf<D>]: Exclude<ResultOf<D>[K], FragmentOf<typeof ErrorFields>> }
  : never;

/** Which operation of the method's documents runs, with which variables. */
export interface Plan<V = Readonly<Record<string, unknown>>> {
  readonly operation?: string;
  readonly variables: V;
  /** For reads: one row was asked for by id, so the answer is an object, not a list. */
  readonly single?: boolean;
}

/**
 * One v1 method: its id, who may call it, its positional parameters, the persisted GraphQL
 * document it runs, how arguments become variables and how the GraphQL data becomes the v1 result.
 * Typed GraphQL errors (the `Error` interface) become v1 errors before `result` is called.
 *
 * `plan` receives the arguments after they passed the parameter schemas, so it may rely on them.
 * A method with several documents (one operation each) names the operation in its plan; `D` is then
 * the union of the documents and `result` tells them apart by their root fields.
 */
export interface V1Method<D extends V1Document = V1Document> {
  readonly id: string;
  /** `*`, `guest`, `user`, `root` or a declared permission name. */
  readonly permission: string;
  readonly title: string;
  readonly params: readonly ParamSpec[];
  /** Set for methods that take `multipart/form-data` uploads. */
  readonly upload?: { readonly maxBytes: number };
  readonly document: D | readonly D[];
  /** Returns a plan, or a result when the arguments alone decide the answer. */
  plan(args: readonly unknown[], call: CallContext): Plan<Variables<D>> | V1Result;
  result(data: Answered<D>, call: CallContext, plan: Plan<Variables<D>>): V1Result;
}

/** Defines a method, inferring the types of `plan` and `result` from its document. */
export function v1Method<const D extends V1Document>(method: V1Method<D>): V1Method<D> {
  return method;
}

export function isPlan(value: Plan<unknown> | V1Result): value is Plan<unknown> {
  return 'variables' in value;
}
