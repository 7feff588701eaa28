import { setTimeout as sleep } from 'node:timers/promises';
import { and, eq, inArray, ne, or, sql } from 'drizzle-orm';
import type { Db } from '../db/client.ts';
import { actionTokens, sessions, userPasswords, users, type ActionTokenKind, type UserRow } from '../db/schema.ts';
import type { Logger } from '../logger.ts';
import { authTags } from './auth.ts';
import type { ClientInfo } from './client-info.ts';
import { NotAllowedError, NotFoundError, ValidationError } from './errors.ts';
import { renderMail, renderSubject, type MailTemplate } from './mail-templates.ts';
import type { Outbox } from './outbox.ts';
import type { Passwords } from './passwords.ts';
import type { Principal } from './principal.ts';
import type { RateLimiter } from './rate-limits.ts';
import { IGNORE_SECURITY_EVENTS, type SecurityEventSink } from './security-events.ts';
import type { Settings } from './settings.ts';
import { issueRecordToken, parseToken, secretMatches, TokenType } from './tokens.ts';
import { assertPassword, isEmailShaped, isValidUsername } from './user-fields.ts';

/** E-mail confirmation and password-reset tokens live one hour (decisions.md). */
export const ACTION_TOKEN_LIFETIME_MS = 60 * 60 * 1000;

export interface AccountEmailsDeps {
  readonly db: Db;
  readonly outbox: Outbox;
  readonly limiter: RateLimiter;
  readonly settings: Settings;
  readonly passwords: Passwords;
  readonly invalidate: (tags: readonly string[]) => Promise<void>;
  /** Tells the user of the password set by a reset. */
  readonly securityEvent?: SecurityEventSink;
  readonly log: Logger;
  /** Every request for an e-mail answers no sooner than this (the sign-in floor). */
  readonly minDurationMs?: number;
}

const KIND_OF: Record<MailTemplate, ActionTokenKind> = { 'email-confirmation': 'email_confirmation', 'password-reset': 'password_reset' };
const TYPE_OF: Record<MailTemplate, TokenType> = { 'email-confirmation': TokenType.emailConfirmation, 'password-reset': TokenType.passwordReset };

/**
 * E-mail confirmation and password reset by e-mailed single-use tokens. Requests for an e-mail
 * answer alike (and after the same minimum time) whether or not the account exists, is enabled,
 * has an address or was limited; only the outbox, which admins read, tells them apart.
 */
export class AccountEmails {
  readonly #deps: AccountEmailsDeps;

  constructor(deps: AccountEmailsDeps) {
    this.#deps = deps;
  }

  /** `send-confirmation-email`: a link to confirm the account's address, unless it is confirmed already. */
  requestConfirmation(usernameOrEmail: string, client: ClientInfo): Promise<void> {
    return this.#answerAlike(() => this.#request('email-confirmation', usernameOrEmail, client));
  }

  /** `send-password-reset-email`: a link to choose a new password. */
  requestPasswordReset(usernameOrEmail: string, client: ClientInfo): Promise<void> {
    return this.#answerAlike(() => this.#request('password-reset', usernameOrEmail, client));
  }

  /** Confirms the address the token was sent to; every confirmation token of that address dies. */
  async confirmEmail(token: string): Promise<UserRow> {
    const row = await this.#validToken(token, 'email-confirmation');
    const confirmed = await this.#deps.db.transaction(async (tx) => {
      // Single use even under parallel use: only the request that deletes the row goes on.
      const deleted = await tx.delete(actionTokens).where(eq(actionTokens.id, row.id)).returning({ id: actionTokens.id });
      if (deleted.length === 0) throw new NotFoundError('Token not found');
      await tx
        .delete(actionTokens)
        .where(and(eq(actionTokens.userId, row.userId), eq(actionTokens.kind, 'email_confirmation'), eq(actionTokens.email, row.email)));
      const [user] = await tx
        .update(users)
        .set({ emailConfirmed: true })
        .where(and(eq(users.id, row.userId), eq(users.email, row.email)))
        .returning();
      return user;
    });
    // Tokens die when the address changes, so the row's address is the user's.
    if (!confirmed) throw new NotFoundError('Token not found');
    await this.#deps.invalidate([authTags.user(confirmed.id)]);
    return confirmed;
  }

  /**
   * Sets the password of the token's account, confirms its address (the reset proves it is the
   * owner's), deletes its reset and confirmation tokens and ends its sessions (the caller's own
   * excepted, when it is one of them). Returns how many sessions ended.
   */
  async resetPassword(token: string, password: string, caller: Principal): Promise<number> {
    const plain = assertPassword(password);
    const row = await this.#validToken(token, 'password-reset');
    const hash = await this.#deps.passwords.hash(plain);
    const keep = caller.kind === 'session' && caller.user.id === row.userId ? caller.sessionId : null;
    const ended = await this.#deps.db.transaction(async (tx) => {
      const deleted = await tx.delete(actionTokens).where(eq(actionTokens.id, row.id)).returning({ id: actionTokens.id });
      if (deleted.length === 0) throw new NotFoundError('Token not found');
      await tx
        .insert(userPasswords)
        .values({ userId: row.userId, hash })
        .onConflictDoUpdate({ target: userPasswords.userId, set: { hash, updatedAt: new Date() } });
      await tx.update(users).set({ emailConfirmed: true }).where(and(eq(users.id, row.userId), eq(users.email, row.email)));
      await tx
        .delete(actionTokens)
        .where(and(eq(actionTokens.userId, row.userId), inArray(actionTokens.kind, ['email_confirmation', 'password_reset'])));
      return tx
        .delete(sessions)
        .where(keep ? and(eq(sessions.userId, row.userId), ne(sessions.id, keep)) : eq(sessions.userId, row.userId))
        .returning({ id: sessions.id });
    });
    await this.#deps.invalidate([authTags.user(row.userId), ...ended.map(({ id }) => authTags.session(id))]);
    await (this.#deps.securityEvent ?? IGNORE_SECURITY_EVENTS)(row.userId, { kind: 'passwordChanged' });
    return ended.length;
  }

  async #answerAlike(work: () => Promise<void>): Promise<void> {
    const answerAt = Date.now() + (this.#deps.minDurationMs ?? 0);
    try {
      await work();
    } finally {
      const wait = answerAt - Date.now();
      if (wait > 0) await sleep(wait);
    }
  }

  async #request(template: MailTemplate, usernameOrEmail: string, client: ClientInfo): Promise<void> {
    const { limiter, db, outbox, log } = this.#deps;
    const settings = await this.#deps.settings.read();
    const window = settings.emailWindowSeconds;
    // Every request counts against its client address, whether or not the account exists.
    const byAddress = await limiter.count(`email:ip:${client.address}`, window);
    const user = await this.#findUser(usernameOrEmail);
    if (!user || !user.enabled || !user.email) return;
    if (template === 'email-confirmation' && user.emailConfirmed) return;
    const email = user.email;

    let limited: string | null = null;
    let firstOver = false;
    if (byAddress > settings.emailIpLimit) {
      limited = `Not sent: more than ${settings.emailIpLimit} e-mails were requested from ${client.address} within ${window} s`;
      firstOver = byAddress === settings.emailIpLimit + 1;
    } else {
      const byAccount = await limiter.count(`email:account:${user.id}`, window);
      if (byAccount > settings.emailAccountLimit) {
        limited = `Not sent: more than ${settings.emailAccountLimit} e-mails were requested for this account within ${window} s`;
        firstOver = byAccount === settings.emailAccountLimit + 1;
      }
    }
    if (limited) {
      log.warn({ template, userId: user.id, client: client.address }, 'e-mail request over a limit: not sent');
      // One record per limit and window (the request that went over first): a flood writes one row.
      if (firstOver) {
        await outbox.recordLimited(
          { recipient: email, template, subject: renderSubject(template, settings) },
          `${limited}; further requests in this window are not recorded.`,
        );
      }
      return;
    }

    const id = await db.transaction(async (tx) => {
      const issued = await issueRecordToken(tx as unknown as Db, TYPE_OF[template]);
      await tx.insert(actionTokens).values({
        id: issued.id,
        userId: user.id,
        kind: KIND_OF[template],
        email,
        secretHash: issued.secretHash,
        expiresAt: new Date(Date.now() + ACTION_TOKEN_LIFETIME_MS),
      });
      return outbox.insert(tx, renderMail(template, settings, { username: user.name, email, token: issued.token }));
    });
    // Only now, after the commit, may a worker look for the row.
    outbox.dispatch([id]);
  }

  /** "username or e-mail", as v1 takes it; names and addresses share one namespace. */
  async #findUser(reference: string): Promise<UserRow | null> {
    const value = reference.trim().toLowerCase();
    const conditions = [];
    if (isValidUsername(value)) conditions.push(eq(users.name, value));
    if (isEmailShaped(value)) conditions.push(eq(users.email, value));
    if (conditions.length === 0) return null;
    const [row] = await this.#deps.db
      .select()
      .from(users)
      .where(or(...conditions))
      .orderBy(sql`${users.name} = ${value} desc`)
      .limit(1);
    return row ?? null;
  }

  /** The stored token a presented one stands for: 400 malformed / wrong kind / hash mismatch, 404 unknown, 400 expired. */
  async #validToken(token: string, template: MailTemplate) {
    const parsed = parseToken(token);
    if (!parsed || parsed.type !== TYPE_OF[template]) throw new ValidationError('Token is invalid', 'token');
    const [row] = await this.#deps.db
      .select()
      .from(actionTokens)
      .where(and(eq(actionTokens.id, parsed.id), eq(actionTokens.kind, KIND_OF[template])));
    if (!row) throw new NotFoundError('Token not found');
    if (!secretMatches(parsed, row.secretHash)) throw new ValidationError('Token is invalid', 'token');
    if (row.expiresAt.getTime() <= Date.now()) throw new NotAllowedError('TOKEN_EXPIRED', 'Token has expired');
    return row;
  }
}
