import { and, asc, count, desc, eq, ilike, ne, or, sql, type SQL } from 'drizzle-orm';
import type { Db } from '../db/client.ts';
import { actionTokens, sessions, userPasswords, users, type PermissionMap, type UserRow } from '../db/schema.ts';
import { authTags } from './auth.ts';
import { uniqueViolation } from './db-errors.ts';
import { ConflictError, ForbiddenError, NotAllowedError, NotFoundError, ValidationError } from './errors.ts';
import { containsPattern, type Page, type SortOrder } from './list-query.ts';
import type { Passwords } from './passwords.ts';
import type { PermissionCatalog, PermissionState } from './permissions.ts';
import type { Settings } from './settings.ts';
import { IGNORE_SECURITY_EVENTS, type SecurityEventSink } from './security-events.ts';
import { ROOT_USER_ID, type AuthenticatedPrincipal } from './principal.ts';
import { isRecordId } from './record-ids.ts';
import {
  assertPassword,
  isEmailShaped,
  isStorableText,
  isValidUsername,
  normalizeEmail,
  normalizeTelegramName,
  normalizeUsername,
} from './user-fields.ts';

export type UserSortField = 'id' | 'name' | 'createdAt' | 'enabled';

export interface UserFilter {
  readonly id?: string | null;
  /** Case-insensitive substring of the name, e-mail or Telegram username. */
  readonly search?: string | null;
}

export interface NewUserFields {
  readonly username: string;
  readonly password?: string | null;
  readonly enabled?: boolean | null;
  readonly permissions?: PermissionMap | null;
  readonly email?: string | null;
  readonly telegramName?: string | null;
}

export interface UserWithPassword {
  readonly user: UserRow;
  /** The password now in force: the one given, or the one generated for it. */
  readonly password: string;
}

export interface UsersDeps {
  readonly db: Db;
  readonly settings: Settings;
  readonly passwords: Passwords;
  readonly catalog: PermissionCatalog;
  readonly invalidate: (tags: readonly string[]) => Promise<void>;
  /** Tells users about security events on their accounts. */
  readonly securityEvent?: SecurityEventSink;
}

type Tx = Parameters<Parameters<Db['transaction']>[0]>[0];
type Executor = Db | Tx;

const sortColumns = { id: users.id, name: users.name, createdAt: users.createdAt, enabled: users.enabled } as const;

/**
 * Looks a user up by "id or name": all digits is an id, anything else a username. A reference that
 * can be neither (an id beyond bigint, a name no user could have) matches nobody without asking the database.
 */
export function userRefCondition(ref: string): SQL {
  if (/^\d+$/.test(ref)) return isRecordId(ref) ? eq(users.id, ref) : sql`false`;
  const name = ref.toLowerCase();
  return isValidUsername(name) ? eq(users.name, name) : sql`false`;
}

/** User administration: the rules of protocol.md §4.3 with the choices of decisions.md. */
export class Users {
  readonly #deps: UsersDeps;
  readonly #securityEvent: SecurityEventSink;

  constructor(deps: UsersDeps) {
    this.#deps = deps;
    this.#securityEvent = deps.securityEvent ?? IGNORE_SECURITY_EVENTS;
  }

  async find(ref: string): Promise<UserRow | null> {
    const [row] = await this.#deps.db.select().from(users).where(userRefCondition(ref));
    return row ?? null;
  }

  async get(ref: string): Promise<UserRow> {
    const user = await this.find(ref);
    if (!user) throw new NotFoundError('User not found');
    return user;
  }

  /** Users other than root matching the filter. */
  async count(filter: UserFilter): Promise<number> {
    const [row] = await this.#deps.db.select({ total: count() }).from(users).where(this.#listCondition(filter));
    return row?.total ?? 0;
  }

  async list(filter: UserFilter, order: readonly SortOrder<UserSortField>[], page: Page): Promise<UserRow[]> {
    const orderBy = order.map(({ field, direction }) => (direction === 'desc' ? desc : asc)(sortColumns[field]));
    return this.#deps.db
      .select()
      .from(users)
      .where(this.#listCondition(filter))
      .orderBy(...orderBy, asc(users.id))
      .offset(page.offset)
      .limit(page.limit);
  }

  /** Name completion for pickers: root included, ordered by name. */
  async suggest(search: string | null, limit: number): Promise<UserRow[]> {
    return this.#deps.db
      .select()
      .from(users)
      .where(search ? this.#searchCondition(search) : undefined)
      .orderBy(asc(users.name))
      .limit(limit);
  }

  async create(actor: AuthenticatedPrincipal, fields: NewUserFields): Promise<UserWithPassword> {
    const permissions = fields.permissions ?? {};
    this.#assertGrantable(actor, permissions);
    const password = fields.password ? assertPassword(fields.password) : this.#deps.passwords.generate();
    const user = await this.#insert({ ...fields, permissions }, password);
    return { user, password };
  }

  /** Self-service sign-up (when enabled): enabled, no permissions, a password of the person's choosing. */
  async register(fields: Pick<NewUserFields, 'username' | 'password' | 'email' | 'telegramName'>): Promise<UserRow> {
    if (!(await this.#deps.settings.read()).signupEnabled) throw new ForbiddenError('Sign-up is disabled');
    if (!fields.password) throw new ValidationError('Password is required', 'password');
    const password = assertPassword(fields.password);
    return this.#insert({ ...fields, enabled: true, permissions: {} }, password);
  }

  async delete(actor: AuthenticatedPrincipal, ref: string): Promise<UserRow> {
    const user = await this.get(ref);
    if (user.id === actor.user.id) throw new NotAllowedError('CANNOT_REMOVE_SELF', "You can't remove yourself");
    if (user.id === ROOT_USER_ID) throw new NotAllowedError('ROOT_PROTECTED', 'Unable to remove root user');
    const deleted = await this.#deps.db.delete(users).where(eq(users.id, user.id)).returning({ id: users.id });
    if (deleted.length === 0) throw new NotFoundError('User not found');
    await this.#deps.invalidate([authTags.user(user.id)]);
    return user;
  }

  /** `changed` is false when the user already was in that state (v1 answers 204). */
  async setEnabled(actor: AuthenticatedPrincipal, ref: string, enabled: boolean): Promise<{ user: UserRow; changed: boolean }> {
    const user = await this.get(ref);
    if (user.id === actor.user.id) throw new NotAllowedError('CANNOT_CHANGE_OWN_STATUS', "You can't change own enabled status");
    if (user.id === ROOT_USER_ID) throw new NotAllowedError('ROOT_PROTECTED', 'Unable to modify root user');
    const [updated] = await this.#deps.db.transaction(async (tx) => {
      const rows = await tx
        .update(users)
        .set({ enabled })
        .where(and(eq(users.id, user.id), ne(users.enabled, enabled)))
        .returning();
      // A disabled user's sessions end; API tokens stay but stop working until re-enabled.
      if (rows.length > 0 && !enabled) await tx.delete(sessions).where(eq(sessions.userId, user.id));
      return rows;
    });
    if (!updated) return { user, changed: false };
    await this.#deps.invalidate([authTags.user(user.id)]);
    if (enabled) await this.#securityEvent(user.id, { kind: 'accountEnabled' });
    return { user: updated, changed: true };
  }

  /** Sets (or generates) a password and ends the user's other sessions. Only root changes root's. */
  async setPassword(actor: AuthenticatedPrincipal, ref: string, password: string | null | undefined): Promise<UserWithPassword> {
    const user = await this.get(ref);
    if (user.id === ROOT_USER_ID && !actor.root) {
      throw new NotAllowedError('ROOT_PROTECTED', "You can't change root user password");
    }
    const plain = password ? assertPassword(password) : this.#deps.passwords.generate();
    await this.storePassword(user.id, plain, currentSession(actor, user.id));
    return { user, password: plain };
  }

  /** The permissions the calling admin holds, each marked with whether the user effectively has it. */
  async permissionStates(actor: AuthenticatedPrincipal, ref: string): Promise<PermissionState[]> {
    const user = await this.get(ref);
    return this.#deps.catalog.states(actor.permissions, this.#deps.catalog.forUser(user));
  }

  /** `replace` sets the whole map (within what the admin may grant); `merge` changes only the given names. */
  async setPermissions(
    actor: AuthenticatedPrincipal,
    ref: string,
    permissions: PermissionMap,
    mode: 'replace' | 'merge',
  ): Promise<UserRow> {
    const user = await this.get(ref);
    if (user.id === actor.user.id) throw new NotAllowedError('CANNOT_CHANGE_OWN_PERMISSIONS', 'You are unable to change own permissions');
    if (user.id === ROOT_USER_ID) {
      throw new NotAllowedError('ROOT_PROTECTED', 'You are unable to change root user permissions');
    }
    this.#assertGrantable(actor, permissions);
    // Names the admin cannot grant are outside its say, so a replace keeps them as they were.
    const kept = Object.fromEntries(
      Object.entries(user.permissions).filter(([name]) => mode === 'merge' || (!actor.root && !actor.permissions.has(name))),
    );
    const [updated] = await this.#deps.db
      .update(users)
      .set({ permissions: { ...kept, ...permissions } })
      .where(eq(users.id, user.id))
      .returning();
    if (!updated) throw new NotFoundError('User not found');
    await this.#deps.invalidate([authTags.user(user.id)]);
    return updated;
  }

  /** Renames a user; the password is set anew (given or generated) along with the name. */
  async setUsername(
    actor: AuthenticatedPrincipal,
    ref: string,
    username: string,
    password: string | null | undefined,
  ): Promise<UserWithPassword> {
    const user = await this.get(ref);
    if (user.id === ROOT_USER_ID) throw new NotAllowedError('ROOT_PROTECTED', 'Impossible to change root username');
    const name = normalizeUsername(username);
    const plain = password ? assertPassword(password) : this.#deps.passwords.generate();
    const hash = await this.#deps.passwords.hash(plain);
    const updated = await this.#withConflicts('User already exists', async () =>
      this.#deps.db.transaction(async (tx) => {
        await this.#assertIdentifiersFree(tx, { name }, user.id, 'User already exists');
        const [row] = await tx.update(users).set({ name }).where(eq(users.id, user.id)).returning();
        await this.#upsertHash(tx, user.id, hash);
        return row;
      }),
    );
    if (!updated) throw new NotFoundError('User not found');
    await this.#deleteSessions(user.id, currentSession(actor, user.id));
    await this.#deps.invalidate([authTags.user(user.id)]);
    return { user: updated, password: plain };
  }

  /** Ends all of a user's sessions except the caller's own; returns how many ended. */
  async deleteSessions(actor: AuthenticatedPrincipal, ref: string): Promise<number> {
    const user = await this.get(ref);
    const ended = await this.#deleteSessions(user.id, currentSession(actor, user.id));
    if (ended > 0 && user.id !== actor.user.id) await this.#securityEvent(user.id, { kind: 'sessionsEnded', count: ended });
    return ended;
  }

  /** Hashes and stores a password, then ends the user's sessions except `keepSessionId`. */
  async storePassword(userId: string, password: string, keepSessionId: string | null): Promise<void> {
    const hash = await this.#deps.passwords.hash(password);
    await this.#upsertHash(this.#deps.db, userId, hash);
    await this.#deleteSessions(userId, keepSessionId);
    await this.#securityEvent(userId, { kind: 'passwordChanged' });
  }

  async #deleteSessions(userId: string, keepSessionId: string | null): Promise<number> {
    const condition = keepSessionId
      ? and(eq(sessions.userId, userId), ne(sessions.id, keepSessionId))
      : eq(sessions.userId, userId);
    const deleted = await this.#deps.db.delete(sessions).where(condition).returning({ id: sessions.id });
    await this.#deps.invalidate(deleted.map(({ id }) => authTags.session(id)));
    return deleted.length;
  }

  async #upsertHash(executor: Executor, userId: string, hash: string): Promise<void> {
    await executor
      .insert(userPasswords)
      .values({ userId, hash })
      .onConflictDoUpdate({ target: userPasswords.userId, set: { hash, updatedAt: new Date() } });
  }

  async #insert(fields: NewUserFields & { permissions: PermissionMap }, password: string): Promise<UserRow> {
    const name = normalizeUsername(fields.username);
    const email = fields.email ? normalizeEmail(fields.email) : isEmailShaped(name) ? name : null;
    const telegramName = fields.telegramName ? normalizeTelegramName(fields.telegramName) : null;
    const hash = await this.#deps.passwords.hash(password);
    return this.#withConflicts('User already exists', () =>
      this.#deps.db.transaction(async (tx) => {
        await this.#assertIdentifiersFree(tx, { name, email, telegramName }, null, 'User already exists');
        const [user] = await tx
          .insert(users)
          .values({ name, email, telegramName, enabled: fields.enabled ?? true, permissions: fields.permissions })
          .returning();
        await tx.insert(userPasswords).values({ userId: user!.id, hash });
        return user!;
      }),
    );
  }

  /**
   * Names and e-mails share one namespace (a username may be an e-mail address, and "username or
   * e-mail" lookups must be unambiguous), so each is checked against both columns of other users.
   */
  async #assertIdentifiersFree(
    executor: Executor,
    fields: { name?: string; email?: string | null; telegramName?: string | null },
    exceptId: string | null,
    message: string,
  ): Promise<void> {
    const clashes: SQL[] = [];
    if (fields.name) clashes.push(eq(users.name, fields.name), eq(users.email, fields.name));
    if (fields.email) clashes.push(eq(users.email, fields.email), eq(users.name, fields.email));
    if (fields.telegramName) clashes.push(eq(users.telegramName, fields.telegramName));
    if (clashes.length === 0) return;
    const [clash] = await executor
      .select({ id: users.id })
      .from(users)
      .where(and(or(...clashes), exceptId ? ne(users.id, exceptId) : undefined))
      .limit(1);
    if (clash) throw new ConflictError(message);
  }

  /** Races past the pre-check still end as a conflict, never as a database error. */
  async #withConflicts<T>(message: string, work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      if (uniqueViolation(error) !== null) throw new ConflictError(message);
      throw error;
    }
  }

  #assertGrantable(actor: AuthenticatedPrincipal, permissions: PermissionMap): void {
    this.#deps.catalog.assertDeclared(permissions);
    if (actor.root) return;
    if (Object.keys(permissions).some((name) => !actor.permissions.has(name))) {
      throw new ValidationError('Permissions are invalid', 'permissions');
    }
  }

  #listCondition(filter: UserFilter): SQL | undefined {
    return and(
      ne(users.id, ROOT_USER_ID),
      filter.id ? (isRecordId(filter.id) ? eq(users.id, filter.id) : sql`false`) : undefined,
      filter.search ? this.#searchCondition(filter.search) : undefined,
    );
  }

  #searchCondition(search: string): SQL | undefined {
    // No stored name, e-mail or Telegram username holds what PostgreSQL text cannot.
    if (!isStorableText(search)) return sql`false`;
    const pattern = containsPattern(search);
    return or(ilike(users.name, pattern), ilike(users.email, pattern), ilike(users.telegramName, pattern));
  }

  /** Profile edits of e-mail and Telegram username go through the same uniqueness rules. */
  async updateContact(
    userId: string,
    change: { email: string | null } | { telegramName: string | null },
  ): Promise<UserRow> {
    const isEmail = 'email' in change;
    const message = isEmail ? 'Email is already in use' : 'Telegram username is already in use';
    const updated = await this.#withConflicts(message, () =>
      this.#deps.db.transaction(async (tx) => {
        await this.#assertIdentifiersFree(tx, change, userId, message);
        // Links mailed to the old address must not confirm or reset anything any more.
        if (isEmail) await tx.delete(actionTokens).where(eq(actionTokens.userId, userId));
        const [row] = await tx
          .update(users)
          .set(isEmail ? { email: change.email, emailConfirmed: false } : { telegramName: change.telegramName })
          .where(eq(users.id, userId))
          .returning();
        return row;
      }),
    );
    if (!updated) throw new NotFoundError('User not found');
    await this.#deps.invalidate([authTags.user(userId)]);
    if (isEmail) await this.#securityEvent(userId, { kind: 'emailChanged', email: change.email });
    return updated;
  }
}

/** The session to spare when a user's sessions end: the caller's own, if it is one of that user's. */
function currentSession(actor: AuthenticatedPrincipal, userId: string): string | null {
  return actor.kind === 'session' && actor.user.id === userId ? actor.sessionId : null;
}
