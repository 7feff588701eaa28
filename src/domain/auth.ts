import { eq } from 'drizzle-orm';
import type { Db } from '../db/client.ts';
import { apiTokens, sessions, users } from '../db/schema.ts';
import type { InvalidatingCache, InvalidationListener } from '../kv/cache.ts';
import type { Logger } from '../logger.ts';
import type { PermissionCatalog } from './permissions.ts';
import { GUEST, ROOT_USER_ID, type Principal, type UserSnapshot } from './principal.ts';
import { parseToken, secretMatches, TokenType, type ParsedToken } from './tokens.ts';

/** Why a presented token made its bearer a guest. */
export type AuthFailure = 'malformed' | 'unknown' | 'expired' | 'tokenDisabled' | 'userDisabled';

export interface Resolution {
  readonly principal: Principal;
  readonly failure: AuthFailure | null;
}

export type CachedResolution = Resolution;

export const SESSION_LIFETIME_MS = 30 * 24 * 60 * 60 * 1000;
/** A session's expiry slides forward when it is used, at most this often. */
const SESSION_TOUCH_INTERVAL_MS = 10 * 60 * 1000;
const POSITIVE_TTL_MS = 60_000;
const NEGATIVE_TTL_MS = 10_000;

export const authTags = {
  user: (id: string) => `user:${id}`,
  session: (id: string) => `session:${id}`,
  apiToken: (id: string) => `apiToken:${id}`,
};

const userColumns = {
  id: users.id,
  name: users.name,
  email: users.email,
  emailConfirmed: users.emailConfirmed,
  telegramName: users.telegramName,
  enabled: users.enabled,
  permissions: users.permissions,
  createdAt: users.createdAt,
};

/**
 * Turns a bearer token into a principal. A token that is missing, malformed, unknown, expired or
 * disabled makes a guest, never an error. Known tokens are served from an in-process cache that
 * every node invalidates through pub/sub when a user, session or token changes.
 */
export class Authenticator {
  readonly #db: Db;
  readonly #cache: InvalidatingCache<CachedResolution>;
  readonly #catalog: PermissionCatalog;
  readonly #log: Logger;

  constructor(db: Db, cache: InvalidatingCache<CachedResolution>, catalog: PermissionCatalog, log: Logger) {
    this.#db = db;
    this.#cache = cache;
    this.#catalog = catalog;
    this.#log = log;
  }

  async resolve(token: string | null | undefined): Promise<Principal> {
    return this.cached(token) ?? (await this.resolveDetailed(token!)).principal;
  }

  /** The principal when it is known without a database read (no token, or a cached one); else undefined. */
  cached(token: string | null | undefined): Principal | undefined {
    if (!token) return GUEST;
    const cached = this.#cache.get(token);
    return cached && !expired(cached.principal) ? cached.principal : undefined;
  }

  /** Like `resolve`, but says why a token failed, and always consults the database on a cache miss. */
  async resolveDetailed(token: string): Promise<Resolution> {
    const cached = this.#cache.get(token);
    if (cached) {
      if (!expired(cached.principal)) return cached;
      this.#cache.delete(token);
    }
    const parsed = parseToken(token);
    if (!parsed) return { principal: GUEST, failure: 'malformed' };
    const epoch = this.#cache.epoch;
    let resolution: Resolution;
    let tags: string[];
    if (parsed.type === TokenType.session) {
      [resolution, tags] = await this.#loadSession(parsed);
    } else if (parsed.type === TokenType.apiToken) {
      [resolution, tags] = await this.#loadApiToken(parsed);
    } else {
      return { principal: GUEST, failure: 'malformed' };
    }
    const ttlMs = resolution.failure ? NEGATIVE_TTL_MS : POSITIVE_TTL_MS;
    this.#cache.set(token, resolution, { ttlMs, tags }, epoch);
    return resolution;
  }

  /** Changes with every invalidation: read it before resolving to learn later whether anything changed since. */
  get epoch(): number {
    return this.#cache.epoch;
  }

  /** Drops cached principals everywhere; open connections on them are re-checked by their listeners. */
  invalidate(tags: readonly string[]): Promise<void> {
    return this.#cache.invalidate(tags);
  }

  onInvalidate(listener: InvalidationListener): () => void {
    return this.#cache.onInvalidate(listener);
  }

  async #loadSession(parsed: ParsedToken): Promise<[Resolution, string[]]> {
    const [row] = await this.#db
      .select({ session: sessions, user: userColumns })
      .from(sessions)
      .innerJoin(users, eq(users.id, sessions.userId))
      .where(eq(sessions.id, parsed.id));
    const tags = [authTags.session(parsed.id)];
    if (!row || !secretMatches(parsed, row.session.secretHash)) return [{ principal: GUEST, failure: 'unknown' }, tags];
    tags.push(authTags.user(row.user.id));
    const now = Date.now();
    if (row.session.expiresAt.getTime() <= now) return [{ principal: GUEST, failure: 'expired' }, tags];
    if (!row.user.enabled) return [{ principal: GUEST, failure: 'userDisabled' }, tags];
    let expiresAt = row.session.expiresAt;
    if (now - row.session.lastUsedAt.getTime() > SESSION_TOUCH_INTERVAL_MS) {
      expiresAt = new Date(now + SESSION_LIFETIME_MS);
      this.#touchSession(parsed.id, new Date(now), expiresAt);
    }
    const user: UserSnapshot = row.user;
    const principal: Principal = {
      kind: 'session',
      sessionId: parsed.id,
      expiresAt,
      user,
      root: user.id === ROOT_USER_ID,
      permissions: this.#catalog.forUser(user),
    };
    return [{ principal, failure: null }, tags];
  }

  async #loadApiToken(parsed: ParsedToken): Promise<[Resolution, string[]]> {
    const [row] = await this.#db
      .select({ token: apiTokens, user: userColumns })
      .from(apiTokens)
      .innerJoin(users, eq(users.id, apiTokens.userId))
      .where(eq(apiTokens.id, parsed.id));
    const tags = [authTags.apiToken(parsed.id)];
    if (!row || !secretMatches(parsed, row.token.secretHash)) return [{ principal: GUEST, failure: 'unknown' }, tags];
    tags.push(authTags.user(row.user.id));
    if (!row.token.enabled) return [{ principal: GUEST, failure: 'tokenDisabled' }, tags];
    if (!row.user.enabled) return [{ principal: GUEST, failure: 'userDisabled' }, tags];
    const user: UserSnapshot = row.user;
    const principal: Principal = {
      kind: 'apiToken',
      tokenId: parsed.id,
      user,
      root: user.id === ROOT_USER_ID,
      permissions: this.#catalog.forToken(this.#catalog.forUser(user), row.token.permissions),
    };
    const lastUsed = row.token.lastUsedAt?.getTime() ?? 0;
    if (Date.now() - lastUsed > SESSION_TOUCH_INTERVAL_MS) this.#touchApiToken(parsed.id);
    return [{ principal, failure: null }, tags];
  }

  #touchSession(id: string, lastUsedAt: Date, expiresAt: Date): void {
    this.#db
      .update(sessions)
      .set({ lastUsedAt, expiresAt })
      .where(eq(sessions.id, id))
      .catch((err: unknown) => this.#log.warn({ err, sessionId: id }, 'could not extend a session'));
  }

  #touchApiToken(id: string): void {
    this.#db
      .update(apiTokens)
      .set({ lastUsedAt: new Date() })
      .where(eq(apiTokens.id, id))
      .catch((err: unknown) => this.#log.warn({ err, tokenId: id }, 'could not record the use of an API token'));
  }
}

function expired(principal: Principal): boolean {
  return principal.kind === 'session' && principal.expiresAt.getTime() <= Date.now();
}
