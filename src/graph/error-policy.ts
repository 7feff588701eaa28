import { GraphQLError, type ExecutionResult } from 'graphql';
import { handleStreamOrSingleExecutionResult, type Plugin } from 'graphql-yoga';
import { DomainError, ForbiddenError, isServiceUnavailable, NotAuthenticatedError, RateLimitedError } from '../domain/errors.ts';
import type { Principal } from '../domain/principal.ts';
import type { Logger } from '../logger.ts';
import type { GraphContext } from './context.ts';

export const UNEXPECTED_ERROR_MESSAGE = 'Unexpected error.';
export const SERVICE_UNAVAILABLE_MESSAGE = 'Service temporarily unavailable.';

/**
 * Every error leaves with `extensions: { code, status }`. Domain errors keep their message; errors
 * the schema raised itself (validation, coercion, authorization) pass as they are; anything else is
 * logged with the request id and replaced by a generic message.
 */
export function formatGraphqlError(error: GraphQLError, log: Logger): GraphQLError {
  const original = error.originalError;
  if (original instanceof DomainError) return domainGraphqlError(original, error);
  if (original === undefined || original === null || original instanceof GraphQLError) {
    const inner = original instanceof GraphQLError ? original : error;
    // graphql-jit's errors may carry no extensions at all.
    if (typeof inner.extensions?.code === 'string') {
      return inner === error ? error : errorAt(inner.message, error, inner.extensions);
    }
    return errorAt(error.message, error, { ...error.extensions, code: 'BAD_REQUEST', status: 400 });
  }
  if (isServiceUnavailable(original)) {
    log.warn({ err: original, path: error.path?.join('.') }, 'a store is unavailable');
    return errorAt(SERVICE_UNAVAILABLE_MESSAGE, error, { code: 'SERVICE_UNAVAILABLE', status: 503, retryAfterSeconds: 1 });
  }
  log.error({ err: original, path: error.path?.join('.') }, 'unexpected error while resolving a GraphQL field');
  return maskedError(error);
}

/**
 * A new error at the place `at` points to. graphql-jit's errors name their place by `locations`
 * alone (no AST nodes), which the new error keeps, so both executors' answers read the same.
 */
function errorAt(message: string, at: GraphQLError | undefined, extensions: Record<string, unknown>): GraphQLError {
  const error = new GraphQLError(message, { nodes: at?.nodes, path: at?.path, extensions });
  if (!at?.nodes && at?.locations) Object.assign(error, { locations: at.locations });
  return error;
}

/** A domain error as a top-level GraphQL error, at the place `at` points to. */
export function domainGraphqlError(error: DomainError, at?: GraphQLError): GraphQLError {
  const extensions: Record<string, unknown> = { code: error.code, status: error.status };
  if (error instanceof RateLimitedError) {
    extensions.retryAfterSeconds = error.retryAfterSeconds;
    extensions.retryAfterMs = error.retryAfterSeconds * 1000;
  }
  return errorAt(error.message, at, extensions);
}

/**
 * Why `principal` may not use a field: a guest is not signed in (401 UNAUTHENTICATED), anybody
 * else lacks a permission (403 FORBIDDEN).
 */
export function refusalFor(principal: Principal): GraphQLError {
  return domainGraphqlError(
    principal.kind === 'guest' ? new NotAuthenticatedError('Authentication is required') : new ForbiddenError('Insufficient permissions'),
  );
}

/** A validation error carries a code and a status (400) when its rule gave none, on every path. */
export function withValidationCode(error: GraphQLError): GraphQLError {
  const extensions = error.extensions as Record<string, unknown>;
  extensions.code ??= 'GRAPHQL_VALIDATION_FAILED';
  extensions.status ??= 400;
  return error;
}

/**
 * In production, validation errors do not spell out the schema: "Did you mean …?" suggestions
 * (which let a client map the schema with introspection off) are removed.
 */
export function withoutSuggestions(error: GraphQLError): GraphQLError {
  const at = error.message.indexOf(' Did you mean');
  if (at === -1) return error;
  const masked = new GraphQLError(error.message.slice(0, at), { nodes: error.nodes, extensions: error.extensions });
  if (!error.nodes && error.locations) Object.assign(masked, { locations: error.locations });
  return masked;
}

export function maskedError(error?: GraphQLError): GraphQLError {
  return errorAt(UNEXPECTED_ERROR_MESSAGE, error, { code: 'INTERNAL_SERVER_ERROR', status: 500 });
}

export function formatExecutionResult<R extends ExecutionResult>(result: R, log: Logger): R {
  if (!result.errors?.length) return result;
  return { ...result, errors: result.errors.map((error) => formatGraphqlError(error, log)) };
}

/**
 * The whole policy for a result the shared executor produced: what `useErrorPolicy` and then
 * `maskYogaError` do to it on Yoga, so both answer the same bytes.
 */
export function applyErrorPolicy<R extends ExecutionResult>(result: R, log: Logger): R {
  if (!result.errors?.length) return result;
  return { ...result, errors: result.errors.map((error) => maskYogaError(formatGraphqlError(error, log))) };
}

/** Applies the error policy to every execution result, single or streamed, before Yoga serialises it. */
export function useErrorPolicy(): Plugin<GraphContext> {
  return {
    onExecute() {
      return {
        onExecuteDone(payload) {
          return handleStreamOrSingleExecutionResult(payload, ({ result, setResult }) => {
            // The request logger is touched only when there is something to log.
            if (result.errors?.length) setResult(formatExecutionResult(result, payload.args.contextValue.log));
          });
        },
      };
    },
  };
}

/**
 * Yoga's last word on errors raised outside execution (parsing, validation, request parsing):
 * GraphQL errors with a code keep their message and gain a `status`; anything else is masked.
 */
export function maskYogaError(error: unknown): GraphQLError {
  if (!(error instanceof GraphQLError) || typeof error.extensions.code !== 'string') return maskedError();
  if (error.originalError && !(error.originalError instanceof GraphQLError) && !(error.originalError instanceof SyntaxError)) {
    return maskedError();
  }
  // The same object goes back, so Yoga still reads its HTTP status from it; only details are trimmed.
  const extensions = error.extensions as Record<string, unknown>;
  delete extensions.originalError;
  extensions.status ??= error.extensions.code === 'INTERNAL_SERVER_ERROR' ? 500 : 400;
  return error;
}
