import type { ExecutionResult, GraphQLError } from 'graphql';
import type { CallRecorder } from '../domain/call-recorder.ts';
import type { Domain } from '../domain/domain.ts';
import { hasPermission, type Principal } from '../domain/principal.ts';
import type { ClientInfo } from '../domain/client-info.ts';
import { graphContext } from '../graph/context.ts';
import type { Logger } from '../logger.ts';
import { isPlan, type CallContext, type Plan } from './method.ts';
import type { CompiledMethod, MethodTable } from './method-table.ts';
import { declined, failure, INTERNAL_ERROR, isOk, RpcCode, statusText, type V1Result } from './result.ts';

export type Transport = 'http' | 'ws';

export interface Call {
  readonly principal: Principal;
  readonly client: ClientInfo;
  readonly requestId: string;
  /** A logger bound to the request (or connection) id. */
  readonly log: Logger;
  readonly transport: Transport;
  /** The arguments came from a multipart upload. */
  readonly upload?: boolean;
}

export interface DispatcherOptions {
  readonly table: MethodTable;
  readonly domain: Domain;
  /** Calls one principal may have running on this node at once, per method. */
  readonly activeCallsPerPrincipal?: number;
  /** Where every call of a known method is recorded (default: the domain's call log). */
  readonly recorder?: CallRecorder;
}

/** The rule name a call refused by the per-node concurrency cap is recorded with. */
export const CONCURRENCY_RULE = 'concurrency';

const DENIED = failure(RpcCode.permissionDenied);
const NOT_FOUND = failure(RpcCode.methodNotFound);

/**
 * Runs one v1 call, with the checks in the order of the original server: method (-32809) →
 * permission (-32801) → parameters (-32808) → limits (-32802), so guests never learn parameter
 * schemas. Then the method's persisted GraphQL operation runs in-process and its result is mapped.
 */
export class Dispatcher {
  readonly #table: MethodTable;
  readonly #domain: Domain;
  readonly #activeLimit: number;
  readonly #recorder: CallRecorder;
  /** Calls in flight per method, by principal (user id, or client address for guests). */
  readonly #active = new Map<string, Map<string, number>>();

  constructor(options: DispatcherOptions) {
    this.#table = options.table;
    this.#domain = options.domain;
    this.#activeLimit = options.activeCallsPerPrincipal ?? 64;
    this.#recorder = options.recorder ?? options.domain.callLog.recorder;
  }

  lookup(id: string): CompiledMethod | undefined {
    return this.#table.get(id);
  }

  /**
   * Every call of a known method is recorded once, under its id: refusals (permission, parameters)
   * as errors, limits as declined (a result with `declinedBy`). Unknown ids are not: they are not methods.
   */
  async call(methodId: string, args: unknown[], call: Call): Promise<V1Result> {
    const compiled = this.#table.get(methodId);
    if (!compiled) return NOT_FOUND;
    const started = performance.now();
    const result = await this.#dispatch(compiled, args, call);
    const status = result.status;
    this.#recorder.record({
      methodId,
      principal: call.principal,
      client: call.client,
      durationMs: result.declinedBy ? 0 : performance.now() - started,
      status,
      statusText: result.statusText ?? statusText(status),
      error: !isOk(status),
      exception: result.exception ?? false,
      declinedBy: result.declinedBy,
    });
    return result;
  }

  async #dispatch(compiled: CompiledMethod, args: unknown[], call: Call): Promise<V1Result> {
    const { method } = compiled;
    if (!hasPermission(call.principal, method.permission)) return DENIED;
    if (method.upload && !call.upload) {
      return failure(call.transport === 'ws' ? RpcCode.uploadOverWebSocket : RpcCode.uploadCalledAsRpc);
    }
    if (!method.upload && call.upload) return failure(RpcCode.notAnUploadMethod);
    const invalid = compiled.validateParams(args);
    if (invalid !== null) return failure(RpcCode.invalidParams, invalid);

    let byPrincipal = this.#active.get(method.id);
    if (!byPrincipal) this.#active.set(method.id, (byPrincipal = new Map()));
    const key = call.principal.kind === 'guest' ? call.client.address : call.principal.user.id;
    const active = byPrincipal.get(key) ?? 0;
    if (active >= this.#activeLimit) return declined(CONCURRENCY_RULE);
    byPrincipal.set(key, active + 1);
    try {
      return await this.#run(compiled, args, call);
    } catch (err) {
      call.log.error({ err, method: method.id }, 'v1 call failed');
      return INTERNAL_ERROR;
    } finally {
      const left = byPrincipal.get(key)! - 1;
      if (left === 0) byPrincipal.delete(key);
      else byPrincipal.set(key, left);
    }
  }

  async #run(compiled: CompiledMethod, args: unknown[], call: Call): Promise<V1Result> {
    const planned = compiled.method.plan(args, call);
    if (!isPlan(planned)) return planned;
    const context = graphContext({
      principal: call.principal,
      domain: this.#domain,
      requestId: call.requestId,
      log: call,
      client: call.client,
    });
    return toV1Result(compiled, planned, await compiled.execute(planned, context), call);
  }
}

interface TypedError {
  __typename: string;
  message: string;
  code: string;
  status: number;
  retryAfterSeconds?: number;
}

function isTypedError(value: unknown): value is TypedError {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as TypedError).status === 'number' &&
    typeof (value as TypedError).message === 'string' &&
    typeof (value as TypedError).code === 'string'
  );
}

/** GraphQL result → v1 result: errors first (top-level, then typed), then the method's own mapping. */
function toV1Result(compiled: CompiledMethod, plan: Plan, result: ExecutionResult, call: CallContext): V1Result {
  if (result.errors?.length) return fromGraphqlError(result.errors[0]!);
  const data = (result.data ?? {}) as Record<string, unknown>;
  for (const value of Object.values(data)) {
    if (!isTypedError(value)) continue;
    if (value.code === 'RATE_LIMITED') {
      return failure(RpcCode.tooManyRequests, undefined, { retry_after: value.retryAfterSeconds ?? 1 });
    }
    return failure(value.status, value.message);
  }
  return compiled.method.result(data, call, plan);
}

function fromGraphqlError(error: GraphQLError): V1Result {
  const code = error.extensions.code;
  const status = error.extensions.status;
  if (code === 'UNAUTHENTICATED' || code === 'FORBIDDEN') return DENIED;
  if (code === 'RATE_LIMITED') {
    return failure(RpcCode.tooManyRequests, undefined, { retry_after: error.extensions.retryAfterSeconds ?? 1 });
  }
  if (code === 'INTERNAL_SERVER_ERROR' || typeof status !== 'number') return INTERNAL_ERROR;
  // Arguments that passed the v1 schemas but not the GraphQL input types (a wrong enum value, say).
  if (code === 'BAD_REQUEST' || code === 'GRAPHQL_VALIDATION_FAILED') return failure(RpcCode.invalidParams);
  return failure(status, error.message);
}
