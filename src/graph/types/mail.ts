import type { OutboxRow, OutboxStatus, SmtpTlsMode, UserRow } from '../../db/schema.ts';
import { NotAllowedError, NotFoundError, ValidationError } from '../../domain/errors.ts';
import type { SmtpTestResult } from '../../domain/smtp-test.ts';
import { builder } from '../builder.ts';
import { offsetConnection } from '../connections.ts';
import { settingEnumType } from './settings.ts';

const OutboxStatusEnum = builder.enumType('OutboxStatus', {
  description: 'Where a message of the outbox stands.',
  values: {
    QUEUED: { value: 'queued', description: 'Waiting for a worker (first attempt, or the next one after a temporary failure).' },
    SENDING: { value: 'sending', description: 'Claimed by a worker, which is talking to the SMTP server.' },
    SENT: { value: 'sent', description: 'The SMTP server accepted it.' },
    FAILED: {
      value: 'failed',
      description: 'Refused for good by the server, out of attempts, or never composed because a limit was reached (`rateLimited`).',
    },
    UNCERTAIN: {
      value: 'uncertain',
      description: 'The message data went out and no reply came back: the server may or may not have it. Never retried by itself.',
    },
  } satisfies Record<Uppercase<OutboxStatus>, { value: OutboxStatus; description: string }>,
});

const OutboxMessageRef = builder.objectRef<OutboxRow>('OutboxMessage').implement({
  description: 'One e-mail of the outbox, with its delivery status.',
  fields: (t) => ({
    id: t.exposeID('id', { description: 'The row id (also the BullMQ job id, as `mail-<id>`).' }),
    recipient: t.exposeString('recipient', { description: 'The address it is sent to.' }),
    template: t.exposeString('template', { description: 'Which template it was rendered from: `email-confirmation` or `password-reset`.' }),
    subject: t.exposeString('subject', { description: 'The rendered subject.' }),
    status: t.expose('status', { type: OutboxStatusEnum, description: 'Where it stands.' }),
    attempts: t.exposeInt('attempts', { description: 'Attempts made so far (reset by a retry).' }),
    nextAttemptAt: t.expose('nextAttemptAt', {
      type: 'DateTime',
      nullable: true,
      description: 'When a queued message is tried next; null once it is finished.',
    }),
    lastReply: t.exposeString('lastReply', {
      nullable: true,
      description: "The SMTP server's last reply, or the error of the last attempt (or why it was not sent).",
    }),
    rateLimited: t.exposeBoolean('rateLimited', {
      description: 'Not composed and not sent: the request went over an e-mail limit (`lastReply` says which). Such rows cannot be retried.',
    }),
    createdAt: t.expose('createdAt', { type: 'DateTime', description: 'When the action that caused it committed.' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime', description: 'The last change of its status.' }),
    sentAt: t.expose('sentAt', { type: 'DateTime', nullable: true, description: 'When the server accepted it.' }),
  }),
});

const OutboxFilter = builder.inputType('OutboxFilter', {
  description: 'Which outbox messages to list; every given condition must hold.',
  fields: (t) => ({
    status: t.field({ type: [OutboxStatusEnum], description: 'Only messages in one of these statuses.' }),
    recipient: t.string({ description: 'Case-insensitive substring of the recipient address.' }),
  }),
});

const adminOnly = { permission: 'admin' } as const;

builder.queryField('outbox', (t) =>
  t.connection(
    {
      type: OutboxMessageRef,
      description: 'The e-mail outbox, newest first. Admins only.',
      authScopes: adminOnly,
      args: { filter: t.arg({ type: OutboxFilter }) },
      resolve: (_root, args, context) => {
        const filter = { status: args.filter?.status ?? null, recipient: args.filter?.recipient ?? null };
        return offsetConnection(args, {
          count: () => context.domain.outbox.count(filter),
          page: (offset, limit) => context.domain.outbox.list(filter, { offset, limit }),
        });
      },
    },
    { name: 'OutboxMessageConnection', description: 'A page of outbox messages.' },
    { name: 'OutboxMessageEdge', description: 'An outbox message and its cursor.' },
  ),
);

const OutboxMessagePayload = builder.objectRef<{ message: OutboxRow }>('OutboxMessagePayload').implement({
  description: 'An outbox message after the change.',
  fields: (t) => ({ message: t.expose('message', { type: OutboxMessageRef, description: 'The message, now queued again.' }) }),
});

const EmailRequestPayload = builder.objectRef<{ accepted: true }>('EmailRequestPayload').implement({
  description:
    'The request was taken. The answer is the same whether or not the account exists, is enabled, has an address or went over a limit, so it tells nothing about the account.',
  fields: (t) => ({ accepted: t.boolean({ description: 'Always true.', resolve: () => true }) }),
});

const ConfirmEmailPayload = builder.objectRef<{ user: UserRow }>('ConfirmEmailPayload').implement({
  description: 'The address is confirmed.',
  fields: (t) => ({
    email: t.string({ description: 'The confirmed address.', resolve: ({ user }) => user.email ?? '' }),
  }),
});

const ResetPasswordPayload = builder.objectRef<{ endedSessions: number }>('ResetPasswordPayload').implement({
  description: "The new password is in force, the address confirmed and the account's other sessions ended.",
  fields: (t) => ({ endedSessions: t.exposeInt('endedSessions', { description: 'How many sessions ended.' }) }),
});

const SmtpTlsEnum = settingEnumType('smtpTls');

const SmtpTestInput = builder.inputType('SmtpTestInput', {
  description: 'SMTP settings to try; each one omitted is taken from the stored settings. Nothing is stored.',
  fields: (t) => ({
    hostname: t.string({ description: 'SMTP server host name.' }),
    port: t.int({ description: 'SMTP server port (1–65535).' }),
    username: t.string({ description: 'User name to authenticate with.' }),
    password: t.string({ description: 'Password to authenticate with.' }),
    tls: t.field({ type: SmtpTlsEnum, description: 'How the connection is secured.' }),
  }),
});

const SmtpTestResultRef = builder.objectRef<SmtpTestResult>('SmtpTestResult').implement({
  description: "The SMTP server's reply: 235 (authenticated) or 250 (connected, no credentials) when it works.",
  fields: (t) => ({
    ok: t.exposeBoolean('ok', { description: 'The server accepted the connection (and the credentials, when given).' }),
    code: t.exposeInt('code', {
      description: "The server's reply code (235, 250, 535, …); 400 when it offers no authentication, 500 when it could not be reached.",
    }),
    message: t.exposeString('message', { description: "The reply's text, or why the server could not be reached." }),
    lines: t.exposeStringList('lines', { description: 'The reply as the server sent it, line by line.' }),
  }),
});

const USER_REFERENCE = 'A username or an e-mail address.';

builder.mutationFields((t) => ({
  sendConfirmationEmail: t.field({
    type: EmailRequestPayload,
    description:
      'E-mails a link that confirms the account\'s address (`<app_url>#/confirm-email/<token>`, one hour, single use). Answers alike for every account; nothing is sent for unknown or disabled accounts, accounts without an address or with a confirmed one, or past the e-mail limits.',
    authScopes: { public: true },
    args: { user: t.arg.string({ required: true, description: USER_REFERENCE }) },
    resolve: async (_root, { user }, context) => {
      await context.domain.accountEmails.requestConfirmation(user, context.client);
      return { accepted: true as const };
    },
  }),
  confirmEmail: t.field({
    type: ConfirmEmailPayload,
    description: 'Confirms an address with the token of a confirmation e-mail; every confirmation token of that address dies.',
    authScopes: { public: true },
    errors: { types: [ValidationError, NotFoundError, NotAllowedError] },
    args: { token: t.arg.string({ required: true }) },
    resolve: async (_root, { token }, context) => ({ user: await context.domain.accountEmails.confirmEmail(token) }),
  }),
  sendPasswordResetEmail: t.field({
    type: EmailRequestPayload,
    description:
      'E-mails a link to choose a new password (`<app_url>#/reset-password/<token>`, one hour, single use). Answers alike for every account; nothing is sent for unknown or disabled accounts, accounts without an address, or past the e-mail limits.',
    authScopes: { public: true },
    args: { user: t.arg.string({ required: true, description: USER_REFERENCE }) },
    resolve: async (_root, { user }, context) => {
      await context.domain.accountEmails.requestPasswordReset(user, context.client);
      return { accepted: true as const };
    },
  }),
  resetPassword: t.field({
    type: ResetPasswordPayload,
    description:
      "Sets a new password with the token of a reset e-mail: confirms the address, deletes the account's reset and confirmation tokens and ends its other sessions.",
    authScopes: { public: true },
    errors: { types: [ValidationError, NotFoundError, NotAllowedError] },
    args: { token: t.arg.string({ required: true }), password: t.arg.string({ required: true, description: '8–1024 characters.' }) },
    resolve: async (_root, { token, password }, context) => ({
      endedSessions: await context.domain.accountEmails.resetPassword(token, password, context.principal),
    }),
  }),
  testSmtp: t.field({
    type: SmtpTestResultRef,
    description: 'Connects to an SMTP server (STARTTLS when offered, or TLS), authenticates when credentials are given and returns the reply. Stores nothing; 10 s at most. Admins only.',
    authScopes: adminOnly,
    args: { input: t.arg({ type: SmtpTestInput }) },
    resolve: (_root, { input }, context) => context.domain.testSmtp({ ...input, tls: (input?.tls as SmtpTlsMode | null | undefined) ?? null }),
  }),
  retryOutboxMessage: t.field({
    type: OutboxMessagePayload,
    description: 'Queues a FAILED or UNCERTAIN message again, with a fresh round of attempts. Admins only.',
    authScopes: adminOnly,
    errors: { types: [NotFoundError, NotAllowedError] },
    args: { id: t.arg.id({ required: true }) },
    resolve: async (_root, { id }, context) => ({ message: await context.domain.outbox.retry(String(id)) }),
  }),
}));
