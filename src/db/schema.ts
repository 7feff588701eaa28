import { sql } from 'drizzle-orm';
import { bigint, bigserial, boolean, check, doublePrecision, index, integer, jsonb, primaryKey, smallint, snakeCase, text, timestamp } from 'drizzle-orm/pg-core';

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

// API call log and statistics (issue 10).

/**
 * One row per recorded call (v1 method or GraphQL root field). Partitioned by day on `started_at`
 * (hand-written in the migration; partitions are made ahead and dropped whole by retention), so the
 * primary key includes it. A deleted user's calls stay, with a null user.
 */
export const callLog = snakeCase.table(
  'call_log',
  {
    id: bigserial({ mode: 'number' }).notNull(),
    methodId: text().notNull(),
    userId: bigint({ mode: 'string' }).references(() => users.id, { onDelete: 'set null' }),
    /** `session` or `apiToken`, with the id of that credential. */
    credentialKind: text().$type<'session' | 'apiToken'>(),
    credentialId: text(),
    clientAddress: text(),
    startedAt: timestamp({ withTimezone: true }).notNull(),
    durationMs: doublePrecision().notNull(),
    status: integer().notNull(),
    statusText: text().notNull(),
    isError: boolean().notNull(),
    isException: boolean().notNull(),
    isDeclined: boolean().notNull(),
    /** The rule that declined the call (the concurrency cap, a rate limit). */
    declinedBy: text(),
  },
  (t) => [primaryKey({ columns: [t.startedAt, t.id] }), index().on(t.methodId, t.startedAt), index().on(t.userId)],
);

export type CallLogRow = typeof callLog.$inferSelect;
// --- E-mail: the transactional outbox (issue 8) ---

export const OUTBOX_STATUSES = ['queued', 'sending', 'sent', 'failed', 'uncertain'] as const;
export type OutboxStatus = (typeof OUTBOX_STATUSES)[number];

/**
 * One row per e-mail, written in the transaction of the action that causes it. A worker claims a
 * row (`queued` → `sending`, with a lease) before it talks to SMTP; `handedOverAt` is set just before
 * the end of the message data goes out, so a row whose worker died is retried only when the server
 * cannot have taken it (otherwise it becomes `uncertain`).
 */
export const outbox = snakeCase.table(
  'outbox',
  {
    id: id(),
    recipient: text().notNull(),
    template: text().notNull(),
    subject: text().notNull(),
    textBody: text().notNull(),
    htmlBody: text().notNull(),
    status: text().$type<OutboxStatus>().notNull().default('queued'),
    attempts: integer().notNull().default(0),
    nextAttemptAt: timestamp({ withTimezone: true }).defaultNow(),
    leaseOwner: text(),
    leaseExpiresAt: timestamp({ withTimezone: true }),
    handedOverAt: timestamp({ withTimezone: true }),
    lastReply: text(),
    /** Not sent because a limit was reached: a record for admins, never sent. */
    rateLimited: boolean().notNull().default(false),
    createdAt: createdAt(),
    updatedAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
    sentAt: timestamp({ withTimezone: true }),
  },
  (t) => [
    index().on(t.status, t.nextAttemptAt),
    index().on(t.createdAt),
    check('outbox_status', sql`${t.status} in ('queued', 'sending', 'sent', 'failed', 'uncertain')`),
  ],
);

export type OutboxRow = typeof outbox.$inferSelect;
// ---- Notifications (issue 9) ----

/** One message, sent to one or more users; ids grow in commit order (see domain/notifications.ts). */
export const notifications = snakeCase.table(
  'notifications',
  {
    id: id(),
    subject: text().notNull(),
    body: text().notNull(),
    createdAt: createdAt(),
    expiresAt: timestamp({ withTimezone: true }).notNull(),
  },
  (t) => [index().on(t.expiresAt)],
);

/**
 * Each recipient's state of a notification. `expiresAt` is the notification's, copied so that the
 * inbox index alone answers the inbox page (newest first), the unread count (an index-only scan)
 * and mark-all-read.
 */
export const notificationRecipients = snakeCase.table(
  'notification_recipients',
  {
    notificationId: bigint({ mode: 'string' })
      .notNull()
      .references(() => notifications.id, { onDelete: 'cascade' }),
    userId: userRef(),
    read: boolean().notNull().default(false),
    deleted: boolean().notNull().default(false),
    expiresAt: timestamp({ withTimezone: true }).notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.notificationId, t.userId] }),
    // Leading user id: also what deleting a user cascades through.
    index('notification_recipients_inbox').on(t.userId, t.notificationId, t.deleted, t.read, t.expiresAt),
  ],
);

export type NotificationRow = typeof notifications.$inferSelect;
export type NotificationRecipientRow = typeof notificationRecipients.$inferSelect;
