/**
 * Expected failures of domain operations. Each has a stable `code` (GraphQL `extensions.code`,
 * typed error results) and the v1 `status` it maps to; the message is safe to show to the caller.
 */
export abstract class DomainError extends Error {
  abstract readonly code: string;
  abstract readonly status: number;
}

/** Input that breaks a rule about its shape: a bad username, a short password, an unknown permission. */
export class ValidationError extends DomainError {
  readonly code = 'INVALID_INPUT';
  readonly status = 400;
  /** The input field at fault, when there is one. */
  readonly field: string | null;

  constructor(message: string, field: string | null = null) {
    super(message);
    this.name = 'ValidationError';
    this.field = field;
  }
}

/** A well-formed request the rules refuse: removing yourself, modifying root, and the like. */
export class NotAllowedError extends DomainError {
  readonly status = 400;
  readonly code: string;

  constructor(code: string, message: string) {
    super(message);
    this.name = 'NotAllowedError';
    this.code = code;
  }
}

/**
 * No principal where one is needed: a guest (or a dead token) calling what requires signing in,
 * and a sign-in whose credentials identify no enabled account.
 */
export class NotAuthenticatedError extends DomainError {
  readonly code = 'UNAUTHENTICATED';
  readonly status = 401;

  constructor(message = 'Not authenticated') {
    super(message);
    this.name = 'NotAuthenticatedError';
  }
}

export class ForbiddenError extends DomainError {
  readonly code = 'FORBIDDEN';
  readonly status = 403;

  constructor(message = 'You are not authorized to access this area.') {
    super(message);
    this.name = 'ForbiddenError';
  }
}

export class NotFoundError extends DomainError {
  readonly code = 'NOT_FOUND';
  readonly status = 404;

  constructor(message = 'Not Found') {
    super(message);
    this.name = 'NotFoundError';
  }
}

export class ConflictError extends DomainError {
  readonly code = 'CONFLICT';
  readonly status = 409;

  constructor(message: string) {
    super(message);
    this.name = 'ConflictError';
  }
}

export class RateLimitedError extends DomainError {
  readonly code = 'RATE_LIMITED';
  readonly status = 429;
  /** Seconds until another attempt can succeed. */
  readonly retryAfterSeconds: number;

  constructor(retryAfterSeconds: number, message = 'Too many requests') {
    super(message);
    this.name = 'RateLimitedError';
    this.retryAfterSeconds = Math.max(1, Math.ceil(retryAfterSeconds));
  }
}

/**
 * Whether `error` (or an error it wraps: drizzle and GraphQL wrap driver errors) says a store the
 * call needs cannot be reached. Such calls are answered 503-class, at once, and succeed again as
 * soon as the store is back.
 */
export { isStoreUnreachable as isServiceUnavailable } from '../db/availability.ts';
