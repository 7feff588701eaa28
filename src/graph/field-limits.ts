import { GraphQLError } from 'graphql';
import type { Refusal } from '../domain/call-limits.ts';
import type { GraphContext } from './context.ts';
import type { GuardAdmission, OperationGuard } from './executor.ts';

const INTROSPECTION_FIELDS = new Set(['__schema', '__type']);

export interface FieldGuardOptions {
  /** NODE_ENV=production: introspection only when the `graphqlIntrospection` setting allows it. */
  readonly production: boolean;
}

/** A refused operation as GraphQL answers it: `RATE_LIMITED`, the wait in `retryAfterMs` (and whole seconds). */
export function rateLimitedError(refusal: Refusal): GraphQLError {
  return new GraphQLError('Too many requests', {
    extensions: {
      code: 'RATE_LIMITED',
      status: 429,
      retryAfterMs: refusal.retryAfterMs,
      retryAfterSeconds: Math.max(1, Math.ceil(refusal.retryAfterMs / 1000)),
      rule: `${refusal.key}:${refusal.rule}`,
    },
  });
}

export function introspectionDisabledError(): GraphQLError {
  return new GraphQLError('GraphQL introspection is disabled', { extensions: { code: 'INTROSPECTION_DISABLED', status: 403 } });
}

/**
 * The per-field declaration mechanism of GraphQL: every root field of an operation is a call of
 * that field, judged by the call limits declared for its name (`DECLARED_CALL_LIMITS`, keyed by
 * field name beside the v1 method ids) before the operation runs; introspection is refused in
 * production unless the setting allows it. Read from live settings: a change applies at once.
 */
export function fieldGuard(options: FieldGuardOptions): OperationGuard {
  return async (fields, context: GraphContext) => {
    const limited: string[] = [];
    for (const field of fields) {
      if (!INTROSPECTION_FIELDS.has(field)) limited.push(field);
      else if (options.production && context.domain.liveSettings.current?.graphqlIntrospection !== true) return introspectionDisabledError();
    }
    if (limited.length === 0) return NOTHING;
    const answer = await context.domain.callLimits.admitAll(limited, context.principal, context.client);
    return answer.ok ? answer : rateLimitedError(answer);
  };
}

const NOTHING: GuardAdmission = { release() {} };
