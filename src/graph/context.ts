import { contextCacheSymbol } from '@pothos/core';
import type { Logger } from '../logger.ts';
import type { ClientInfo } from '../domain/client-info.ts';
import type { Domain } from '../domain/domain.ts';
import type { Principal } from '../domain/principal.ts';

/** Everything a resolver may use; built once per HTTP request, v1 call or graphql-ws operation. */
export interface GraphContext {
  readonly principal: Principal;
  readonly domain: Domain;
  readonly requestId: string;
  readonly log: Logger;
  readonly client: ClientInfo;
  /**
   * For long-lived operations (subscriptions): the principal as the connection's credential resolves
   * now. Absent where the transport cannot tell (then a subscription that depends on the principal
   * ends when the principal is invalidated).
   */
  readonly reauthenticate?: () => Promise<Principal>;
}

export interface GraphContextInit {
  readonly principal: Principal;
  readonly domain: Domain;
  readonly requestId: string;
  /**
   * Read the first time a resolver logs, so requests that log nothing create no child logger: a
   * function, or an object with a lazy `log` (the server's request context), which saves a closure
   * per request.
   */
  readonly log: (() => Logger) | { readonly log: Logger };
  readonly client: ClientInfo;
  readonly reauthenticate?: () => Promise<Principal>;
}

/**
 * A resolver context. Pothos keeps its per-request caches (the scope-auth decisions) under the
 * context's cache key; keying them by the principal instead of the request lets every request of
 * the same (cached) principal reuse them, because those decisions depend on the principal alone.
 * A new principal object (after any invalidation) starts with fresh caches.
 */
class ResolverContext implements GraphContext {
  readonly principal: Principal;
  readonly domain: Domain;
  readonly requestId: string;
  readonly client: ClientInfo;
  readonly reauthenticate: (() => Promise<Principal>) | undefined;
  readonly [contextCacheSymbol]: Principal;
  // Plain (not #private) fields: GraphQL servers may hand resolvers an object derived from this one.
  readonly logSource: (() => Logger) | { readonly log: Logger };
  cachedLog: Logger | undefined;

  constructor(init: GraphContextInit) {
    this.principal = init.principal;
    this.domain = init.domain;
    this.requestId = init.requestId;
    this.client = init.client;
    this.reauthenticate = init.reauthenticate;
    this[contextCacheSymbol] = init.principal;
    this.logSource = init.log;
    this.cachedLog = undefined;
  }

  get log(): Logger {
    this.cachedLog ??= typeof this.logSource === 'function' ? this.logSource() : this.logSource.log;
    return this.cachedLog;
  }
}

export function graphContext(init: GraphContextInit): GraphContext {
  return new ResolverContext(init);
}
