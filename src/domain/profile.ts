import type { UserRow } from '../db/schema.ts';
import type { Passwords } from './passwords.ts';
import type { AuthenticatedPrincipal } from './principal.ts';
import { assertPassword, normalizeEmail, normalizeTelegramName } from './user-fields.ts';
import type { Users } from './users.ts';

/** What signed-in principals change about their own account. */
export class Profile {
  readonly #users: Users;
  readonly #passwords: Passwords;

  constructor(users: Users, passwords: Passwords) {
    this.#users = users;
    this.#passwords = passwords;
  }

  /** An empty or missing password means "generate one"; the result is the password now in force. */
  async setPassword(actor: AuthenticatedPrincipal, password: string | null | undefined): Promise<string> {
    const plain = password ? assertPassword(password) : this.#passwords.generate();
    await this.#users.storePassword(actor.user.id, plain, actor.kind === 'session' ? actor.sessionId : null);
    return plain;
  }

  /** An empty or missing address removes the e-mail; a new one starts unconfirmed. */
  setEmail(actor: AuthenticatedPrincipal, email: string | null | undefined): Promise<UserRow> {
    return this.#users.updateContact(actor.user.id, { email: email ? normalizeEmail(email) : null });
  }

  setTelegramName(actor: AuthenticatedPrincipal, name: string | null | undefined): Promise<UserRow> {
    return this.#users.updateContact(actor.user.id, { telegramName: name ? normalizeTelegramName(name) : null });
  }

  /** Ends every session of the caller's user except the caller's own. */
  deleteOtherSessions(actor: AuthenticatedPrincipal): Promise<number> {
    return this.#users.deleteSessions(actor, actor.user.id);
  }
}
