import { createHash } from 'node:crypto';
import { ValidationError } from './errors.ts';

const USERNAME = /^[a-z0-9_.@+-]{3,64}$/;
// No control characters: PostgreSQL text cannot hold NUL, and none belongs in an address.
const EMAIL = /^[^\s@\p{Cc}]+@[^\s@\p{Cc}]+\.[^\s@\p{Cc}]+$/u;
const TELEGRAM_NAME = /^[a-z0-9_]{5,32}$/;
export const PASSWORD_MIN_LENGTH = 8;
export const PASSWORD_MAX_LENGTH = 1024;

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * Text PostgreSQL can store exactly as given: no NUL (text cannot hold it) and no unpaired
 * surrogate (it would silently become U+FFFD).
 */
export function isStorableText(value: string): boolean {
  return !value.includes('\u0000') && !LONE_SURROGATE.test(value);
}

/** Usernames are stored lower-case and are never all digits, so "id or name" arguments are unambiguous. */
export function normalizeUsername(value: string): string {
  const name = value.toLowerCase();
  if (!isValidUsername(name)) {
    throw new ValidationError(
      'Username is invalid: use 3 to 64 characters of a-z, 0-9 and "_.@+-", not only digits',
      'username',
    );
  }
  return name;
}

/** Whether a (lower-case) name is one `normalizeUsername` could have stored. */
export function isValidUsername(name: string): boolean {
  return USERNAME.test(name) && !/^\d+$/.test(name);
}

export function isEmailShaped(value: string): boolean {
  return value.length <= 254 && EMAIL.test(value) && isStorableText(value);
}

export function normalizeEmail(value: string, field = 'email'): string {
  const email = value.trim().toLowerCase();
  if (!isEmailShaped(email)) throw new ValidationError('Email is invalid', field);
  return email;
}

/** Passwords chosen by a person: 8 to 1024 characters, kept exactly as typed. */
export function assertPassword(value: string, field = 'password'): string {
  if (!isStorableText(value)) throw new ValidationError('Password must not contain NUL or unpaired surrogate characters', field);
  if (value.length < PASSWORD_MIN_LENGTH || value.length > PASSWORD_MAX_LENGTH) {
    throw new ValidationError(`Password must be ${PASSWORD_MIN_LENGTH} to ${PASSWORD_MAX_LENGTH} characters long`, field);
  }
  return value;
}

/** Telegram usernames: 5 to 32 characters of a-z, 0-9 and "_", stored lower-case, a leading "@" ignored. */
export function normalizeTelegramName(value: string, field = 'telegramName'): string {
  const name = value.trim().replace(/^@/, '').toLowerCase();
  if (!TELEGRAM_NAME.test(name)) throw new ValidationError('Telegram username is invalid', field);
  return name;
}

/** Gravatar of the e-mail, or an identicon derived from the username when there is none. */
export function avatarUrl(user: { readonly name: string; readonly email: string | null }): string {
  const hash = createHash('md5')
    .update(user.email ?? user.name)
    .digest('hex');
  return `https://s.gravatar.com/avatar/${hash}?d=identicon`;
}
