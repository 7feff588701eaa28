import type { ClientInfo } from '../domain/client-info.ts';
import type { Principal } from '../domain/principal.ts';
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

/** Which operation of the method's document runs, with which variables. */
export interface Plan {
  readonly operation?: string;
  readonly variables: Readonly<Record<string, unknown>>;
  /** For reads: one row was asked for by id, so the answer is an object, not a list. */
  readonly single?: boolean;
}

/**
 * One v1 method: its id, who may call it, its positional parameters, the persisted GraphQL
 * document it runs, how arguments become variables and how the GraphQL data becomes the v1 result.
 * Typed GraphQL errors (the `Error` interface) become v1 errors before `result` is called.
 */
export interface V1Method {
  readonly id: string;
  /** `*`, `guest`, `user`, `root` or a declared permission name. */
  readonly permission: string;
  readonly title: string;
  readonly params: readonly ParamSpec[];
  /** Set for methods that take `multipart/form-data` uploads. */
  readonly upload?: { readonly maxBytes: number };
  readonly document: string;
  /** Returns a plan, or a result when the arguments alone decide the answer. */
  plan(args: readonly unknown[], call: CallContext): Plan | V1Result;
  result(data: Record<string, unknown>, call: CallContext, plan: Plan): V1Result;
}

export function isPlan(value: Plan | V1Result): value is Plan {
  return 'variables' in value;
}

/** Selection to add to every mutation result union: the fields of the `Error` interface. */
export const ERROR_FIELDS = '__typename ... on Error { message code status }';
