import { setTimeout as sleep } from 'node:timers/promises';
import { and, desc, eq, gt, lt } from 'drizzle-orm';
import type { Db } from '../db/client.ts';
import { actionTokens, sessions, userPasswords, users, type SessionRow } from '../db/schema.ts';
import { authTags, SESSION_LIFETIME_MS } from './auth.ts';
import type { ClientInfo } from './client-info.ts';
import { ForbiddenError, NotAuthenticatedError, NotFoundError } from './errors.ts';
import type { Passwords } from './passwords.ts';
import type { PermissionCatalog } from './permissions.ts';
import { hasAnyPermission, ROOT_USER_ID, type AuthenticatedPrincipal, type Principal, type SessionPrincipal } from './principal.ts';
import { SignInLimits, type RateLimiter } from './rate-limits.ts';
import { IGNORE_SECURITY_EVENTS, type SecurityEventSink } from './security-events.ts';
import type { Settings } from './settings.ts';
import { issueRecordToken, TokenType } from './tokens.ts';
import { isValidUsername } from './user-fields.ts';

export interface Credentials {
  readonly username: string;
  readonly password: string;
}

export interface SignInResult {
  /** The new session token; shown once. */
  readonly token: string;
  readonly principal: SessionPrincipal;
}

export interface SessionsDeps {
  readonly db: Db;
  readonly passwords: Passwords;
  readonly catalog: PermissionCatalog;
  readonly limiter: RateLimiter;
  readonly settings: Settings;
  readonly invalidate: (tags: readonly string[]) => Promise<void>;
  /** Every sign-in answer takes at least this long (SIGNIN_MIN_DURATION_MS). */
  readonly signinMinDurationMs?: number;
  /** Tells users about security events on their accounts. */
  readonly securityEvent?: SecurityEventSink;
}

/** Sign-in, resume, sign-out. Failed sign-ins look alike (same answer, same time) whatever the reason. */
export class Sessions {
  readonly #deps: SessionsDeps;
  readonly #limits: SignInLimits;

  constructor(deps: SessionsDeps) {
    this.#deps = deps;
    this.#limits = new SignInLimits(deps.limiter);
  }

  /**
   * Every answer (a session, a wrong password, an unknown or disabled user, a limit) comes after the
   * same minimum time, so timing does not tell whether an account exists. The wait is a timer.
   */
  async signIn(credentials: Credentials, requiredPermissions: readonly string[] | null, client: ClientInfo): Promise<SignInResult> {
    const answerAt = Date.now() + (this.#deps.signinMinDurationMs ?? 0);
    try {
      return await this.#signIn(credentials, requiredPermissions, client);
    } finally {
      const wait = answerAt - Date.now();
      if (wait > 0) await sleep(wait);
    }
  }

  async #signIn(credentials: Credentials, requiredPermissions: readonly string[] | null, client: ClientInfo): Promise<SignInResult> {
    const settings = await this.#deps.settings.read();
    const username = credentials.username.toLowerCase();
    // Names nobody can have share one counter, so junk names cannot make large keys.
    const attempt = await this.#limits.begin(client.address, isValidUsername(username) ? username : '(invalid)', settings);

    // A name no user can have (NUL, megabytes, …) is an unknown user without a database read.
    const [row] = isValidUsername(username)
      ? await this.#deps.db
          .select({ user: users, hash: userPasswords.hash })
          .from(users)
          .leftJoin(userPasswords, eq(userPasswords.userId, users.id))
          .where(eq(users.name, username))
      : [];
    const check = await this.#deps.passwords.verify(row?.hash, credentials.password);
    if (!row || !check.ok || !row.user.enabled) {
      await attempt.failed();
      throw new NotAuthenticatedError();
    }
    await attempt.succeeded();
    if (check.needsRehash) {
      const hash = await this.#deps.passwords.hash(credentials.password);
      await this.#deps.db.update(userPasswords).set({ hash, updatedAt: new Date() }).where(eq(userPasswords.userId, row.user.id));
    }

    const permissions = this.#deps.catalog.forUser(row.user);
    const expiresAt = new Date(Date.now() + SESSION_LIFETIME_MS);
    const candidate: SessionPrincipal = {
      kind: 'session',
      sessionId: '0',
      expiresAt,
      user: row.user,
      root: row.user.id === ROOT_USER_ID,
      permissions,
    };
    assertAllowedArea(candidate, requiredPermissions);

    const { id, token, secretHash } = await issueRecordToken(this.#deps.db, TokenType.session);
    await this.#deps.db.insert(sessions).values({
      id,
      userId: row.user.id,
      secretHash,
      expiresAt,
      remoteAddress: client.address,
      userAgent: client.userAgent?.slice(0, 512) ?? null,
    });
    await (this.#deps.securityEvent ?? IGNORE_SECURITY_EVENTS)(row.user.id, { kind: 'signIn', client });
    return { token, principal: { ...candidate, sessionId: id } };
  }

  /** Signing in with the token already held: how a UI resumes a stored session. */
  resume(principal: Principal, requiredPermissions: readonly string[] | null): AuthenticatedPrincipal {
    if (principal.kind === 'guest') throw new NotAuthenticatedError();
    assertAllowedArea(principal, requiredPermissions);
    return principal;
  }

  /** Ends the caller's session; API tokens and guests have none to end. */
  async signOut(principal: Principal): Promise<string> {
    if (principal.kind !== 'session') throw new NotFoundError('Not Found');
    await this.#deps.db.delete(sessions).where(eq(sessions.id, principal.sessionId));
    await this.#deps.invalidate([authTags.session(principal.sessionId)]);
    return principal.sessionId;
  }

  /** A user's live sessions, most recently used first. */
  async listForUser(userId: string): Promise<SessionRow[]> {
    return this.#deps.db
      .select()
      .from(sessions)
      .where(and(eq(sessions.userId, userId), gt(sessions.expiresAt, new Date())))
      .orderBy(desc(sessions.lastUsedAt));
  }

  /** Removes expired sessions and action tokens; returns how many rows went. */
  async purgeExpired(now = new Date()): Promise<number> {
    const expiredSessions = await this.#deps.db.delete(sessions).where(lt(sessions.expiresAt, now)).returning({ id: sessions.id });
    const expiredTokens = await this.#deps.db
      .delete(actionTokens)
      .where(lt(actionTokens.expiresAt, now))
      .returning({ id: actionTokens.id });
    return expiredSessions.length + expiredTokens.length;
  }
}

/** `signin_permissions`: null or empty means no requirement; otherwise any one of them must match. */
function assertAllowedArea(principal: AuthenticatedPrincipal, required: readonly string[] | null): void {
  if (required && required.length > 0 && !hasAnyPermission(principal, required)) throw new ForbiddenError();
}
