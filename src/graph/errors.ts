import {
  ConflictError,
  type DomainError,
  ForbiddenError,
  NotAllowedError,
  NotAuthenticatedError,
  NotFoundError,
  RateLimitedError,
  ValidationError,
} from '../domain/errors.ts';
import { builder } from './builder.ts';

/** Expected failures are results, not exceptions: every one implements this interface. */
export const ErrorInterface = builder.interfaceRef<DomainError>('Error').implement({
  description: 'An expected failure of an operation. `message` is safe to show to a person.',
  fields: (t) => ({
    message: t.exposeString('message'),
    code: t.exposeString('code', { description: 'Stable machine-readable code, e.g. INVALID_INPUT or NOT_FOUND.' }),
    status: t.exposeInt('status', { description: 'The matching HTTP-like status (400, 401, 403, 404, 409, 429).' }),
  }),
});

builder.objectType(ValidationError, {
  name: 'ValidationError',
  description: 'The input breaks a rule about its shape (a bad username, a short password, an unknown permission).',
  interfaces: [ErrorInterface],
  isTypeOf: (value) => value instanceof ValidationError,
  fields: (t) => ({
    field: t.exposeString('field', { nullable: true, description: 'The input field at fault, when there is one.' }),
  }),
});

builder.objectType(NotAllowedError, {
  name: 'NotAllowedError',
  description: 'A well-formed request the rules refuse (removing yourself, modifying root, …).',
  interfaces: [ErrorInterface],
  isTypeOf: (value) => value instanceof NotAllowedError,
});

builder.objectType(NotAuthenticatedError, {
  name: 'NotAuthenticatedError',
  description: 'The credentials (or the current token) do not identify an enabled account.',
  interfaces: [ErrorInterface],
  isTypeOf: (value) => value instanceof NotAuthenticatedError,
});

builder.objectType(ForbiddenError, {
  name: 'ForbiddenError',
  description: 'The principal is known but lacks what the operation requires.',
  interfaces: [ErrorInterface],
  isTypeOf: (value) => value instanceof ForbiddenError,
});

builder.objectType(NotFoundError, {
  name: 'NotFoundError',
  interfaces: [ErrorInterface],
  isTypeOf: (value) => value instanceof NotFoundError,
});

builder.objectType(ConflictError, {
  name: 'ConflictError',
  description: 'Something with the same unique name already exists.',
  interfaces: [ErrorInterface],
  isTypeOf: (value) => value instanceof ConflictError,
});

builder.objectType(RateLimitedError, {
  name: 'RateLimitedError',
  description: 'Too many attempts; try again later.',
  interfaces: [ErrorInterface],
  isTypeOf: (value) => value instanceof RateLimitedError,
  fields: (t) => ({
    retryAfterSeconds: t.exposeInt('retryAfterSeconds'),
  }),
});
