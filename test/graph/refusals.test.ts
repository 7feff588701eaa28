import { GraphQLError } from 'graphql';
import { describe, expect, it } from 'vitest';
import { NotAuthenticatedError } from '../../src/domain/errors.ts';
import { GUEST, type SessionPrincipal } from '../../src/domain/principal.ts';
import type { GraphContext } from '../../src/graph/context.ts';
import { formatGraphqlError, refusalFor } from '../../src/graph/error-policy.ts';
import { actorOf } from '../../src/graph/types/common.ts';
import { createLogger } from '../../src/logger.ts';

const SILENT = createLogger('silent').log;
const signedIn = { kind: 'session', sessionId: '5', permissions: new Set<string>(), root: false } as unknown as SessionPrincipal;

function thrownBy(run: () => unknown): GraphQLError {
  try {
    run();
  } catch (error) {
    if (error instanceof GraphQLError) return error;
    throw error;
  }
  throw new Error('nothing was thrown');
}

describe('refusals', () => {
  it('answer a guest 401 UNAUTHENTICATED and a signed-in principal 403 FORBIDDEN', () => {
    expect(refusalFor(GUEST).extensions).toEqual({ code: 'UNAUTHENTICATED', status: 401 });
    expect(refusalFor(signedIn).extensions).toEqual({ code: 'FORBIDDEN', status: 403 });
  });

  it('make actorOf refuse a guest as not signed in', () => {
    expect(thrownBy(() => actorOf({ principal: GUEST } as GraphContext)).extensions).toEqual({ code: 'UNAUTHENTICATED', status: 401 });
    expect(actorOf({ principal: signedIn } as GraphContext)).toBe(signedIn);
  });

  it('give a NotAuthenticatedError that is not a typed result the same code and status', () => {
    const raised = new GraphQLError('Not authenticated', { path: ['viewer'], originalError: new NotAuthenticatedError() });
    const formatted = formatGraphqlError(raised, SILENT);
    expect({ message: formatted.message, path: formatted.path, extensions: formatted.extensions }).toEqual({
      message: 'Not authenticated',
      path: ['viewer'],
      extensions: { code: 'UNAUTHENTICATED', status: 401 },
    });
  });
});
