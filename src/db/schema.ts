import { sql } from 'drizzle-orm';
import { bigint, boolean, check, index, integer, jsonb, smallint, snakeCase, text, timestamp } from 'drizzle-orm/pg-core';

/** `{ permissionName: enabled }`, as stored on users and API tokens. */
export type PermissionMap = Record<string, boolean>;

const id = () => bigint({ mode: 'string' }).primaryKey().generatedByDefaultAsIdentity();
const userRef = () =>
  bigint({ mode: 'string' })
    .notNull()
    .references(() => users.id, { onDelete: 'cascade' });
const createdAt = () => timestamp({ withTimezone: true }).notNull().defaultNow();

/** Root is id 1 (inserted at bootstrap); everybody else counts from 100. */
export const users = snakeCase.table('users', {
  id: bigint({ mode: 'string' }).primaryKey().generatedByDefaultAsIdentity({ startWith: 100 }),
  name: text().notNull().unique(),
  email: text().unique(),
  emailConfirmed: boolean().notNull().default(false),
  telegramName: text().unique(),
  enabled: boolean().notNull().default(true),
  permissions: jsonb().$type<PermissionMap>().notNull().default({}),
  createdAt: createdAt(),
});

export const userPasswords = snakeCase.table('user_passwords', {
  userId: bigint({ mode: 'string' })
    .primaryKey()
    .references(() => users.id, { onDelete: 'cascade' }),
  hash: text().notNull(),
  updatedAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
});

export const sessions = snakeCase.table(
  'sessions',
  {
    id: id(),
    userId: userRef(),
    secretHash: text().notNull(),
    createdAt: createdAt(),
    lastUsedAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
    expiresAt: timestamp({ withTimezone: true }).notNull(),
    remoteAddress: text(),
    userAgent: text(),
  },
  (t) => [index().on(t.userId), index().on(t.expiresAt)],
);

export const apiTokens = snakeCase.table(
  'api_tokens',
  {
    id: id(),
    userId: userRef(),
    name: text().notNull(),
    enabled: boolean().notNull().default(true),
    permissions: jsonb().$type<PermissionMap>().notNull().default({}),
    secretHash: text().notNull(),
    createdAt: createdAt(),
    lastUsedAt: timestamp({ withTimezone: true }),
  },
  (t) => [index().on(t.userId)],
);

export const ACTION_TOKEN_KINDS = ['email_confirmation', 'password_reset'] as const;
export type ActionTokenKind = (typeof ACTION_TOKEN_KINDS)[number];

/** Single-use, expiring tokens sent by e-mail; only the hash of the secret is kept. */
export const actionTokens = snakeCase.table(
  'action_tokens',
  {
    id: id(),
    userId: userRef(),
    kind: text().$type<ActionTokenKind>().notNull(),
    email: text().notNull(),
    secretHash: text().notNull(),
    createdAt: createdAt(),
    expiresAt: timestamp({ withTimezone: true }).notNull(),
  },
  (t) => [
    index().on(t.userId, t.kind),
    index().on(t.expiresAt),
    check('action_tokens_kind', sql`${t.kind} in ('email_confirmation', 'password_reset')`),
  ],
);

export const SMTP_TLS_MODES = ['starttls', 'tls', 'none'] as const;
export type SmtpTlsMode = (typeof SMTP_TLS_MODES)[number];

/** The one row of application settings (id is always 1). */
export const settings = snakeCase.table(
  'settings',
  {
    id: smallint().primaryKey().default(1),
    appUrl: text(),
    smtpHostname: text(),
    smtpPort: integer(),
    smtpUsername: text(),
    smtpPassword: text(),
    smtpFrom: text(),
    smtpTls: text().$type<SmtpTlsMode>().notNull().default('starttls'),
    signupEnabled: boolean().notNull().default(true),
    signinIpLimit: integer().notNull().default(1000),
    signinIpFailureLimit: integer().notNull().default(100),
    signinIpWindowSeconds: integer().notNull().default(900),
    signinAccountLimit: integer().notNull().default(10),
    signinAccountLockoutSeconds: integer().notNull().default(60),
    signinAccountMaxLockoutSeconds: integer().notNull().default(900),
    signinAccountWindowSeconds: integer().notNull().default(43_200),
    emailIpLimit: integer().notNull().default(10),
    emailAccountLimit: integer().notNull().default(5),
    emailWindowSeconds: integer().notNull().default(3600),
    callLogRetentionDays: integer().notNull().default(30),
    notificationRetentionDays: integer().notNull().default(30),
    // Hardening: changes to the declared call limits, and introspection in production.
    callLimits: jsonb().$type<Record<string, Record<string, unknown>>>().notNull().default({}),
    graphqlIntrospection: boolean().notNull().default(false),
    updatedAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    check('settings_singleton', sql`${t.id} = 1`),
    check('settings_smtp_tls', sql`${t.smtpTls} in ('starttls', 'tls', 'none')`),
  ],
);

export type UserRow = typeof users.$inferSelect;
export type SessionRow = typeof sessions.$inferSelect;
export type ApiTokenRow = typeof apiTokens.$inferSelect;
export type ActionTokenRow = typeof actionTokens.$inferSelect;
export type SettingsRow = typeof settings.$inferSelect;
