import { SMTP_TLS_MODES } from '../../db/schema.ts';
import { ValidationError } from '../../domain/errors.ts';
import type { SettingsView } from '../../domain/settings.ts';
import { builder } from '../builder.ts';

const SmtpTls = builder.enumType('SmtpTls', {
  values: Object.fromEntries(SMTP_TLS_MODES.map((mode) => [mode.toUpperCase(), { value: mode }])) as {
    STARTTLS: { value: 'starttls' };
    TLS: { value: 'tls' };
    NONE: { value: 'none' };
  },
});

const SettingsRef = builder.objectRef<SettingsView>('Settings').implement({
  description: 'Application settings. Secrets are never returned, only whether they are set.',
  fields: (t) => ({
    appUrl: t.exposeString('appUrl', { nullable: true, description: 'Base URL of the web application, used in e-mailed links.' }),
    smtpHostname: t.exposeString('smtpHostname', { nullable: true }),
    smtpPort: t.exposeInt('smtpPort', { nullable: true }),
    smtpUsername: t.exposeString('smtpUsername', { nullable: true }),
    smtpPasswordSet: t.exposeBoolean('smtpPasswordSet'),
    smtpFrom: t.exposeString('smtpFrom', { nullable: true }),
    smtpTls: t.expose('smtpTls', { type: SmtpTls }),
    signupEnabled: t.exposeBoolean('signupEnabled'),
    signinIpLimit: t.exposeInt('signinIpLimit', { description: 'Sign-in attempts per client address per window.' }),
    signinAccountLimit: t.exposeInt('signinAccountLimit', { description: 'Failed sign-ins per account per window.' }),
    signinWindowSeconds: t.exposeInt('signinWindowSeconds'),
    emailIpLimit: t.exposeInt('emailIpLimit', { description: 'E-mails requested per client address per window.' }),
    emailAccountLimit: t.exposeInt('emailAccountLimit', { description: 'E-mails sent per account per window.' }),
    emailWindowSeconds: t.exposeInt('emailWindowSeconds'),
    callLogRetentionDays: t.exposeInt('callLogRetentionDays'),
    notificationRetentionDays: t.exposeInt('notificationRetentionDays'),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
  }),
});

const SettingsInput = builder.inputType('SettingsInput', {
  description: 'A partial update: omitted fields stay as they are; null clears a nullable setting.',
  fields: (t) => ({
    appUrl: t.string(),
    smtpHostname: t.string(),
    smtpPort: t.int(),
    smtpUsername: t.string(),
    smtpPassword: t.string({ description: 'Write-only.' }),
    smtpFrom: t.string({ description: '`user@example.com` or `Name <user@example.com>`.' }),
    smtpTls: t.field({ type: SmtpTls }),
    signupEnabled: t.boolean(),
    signinIpLimit: t.int(),
    signinAccountLimit: t.int(),
    signinWindowSeconds: t.int(),
    emailIpLimit: t.int(),
    emailAccountLimit: t.int(),
    emailWindowSeconds: t.int(),
    callLogRetentionDays: t.int(),
    notificationRetentionDays: t.int(),
  }),
});

const SettingsPayload = builder.objectRef<{ settings: SettingsView }>('SettingsPayload').implement({
  fields: (t) => ({ settings: t.expose('settings', { type: SettingsRef }) }),
});

const adminOnly = { permission: 'admin' } as const;

builder.queryField('settings', (t) =>
  t.field({
    type: SettingsRef,
    description: 'Admins only.',
    authScopes: adminOnly,
    resolve: (_root, _args, context) => context.domain.settings.view(),
  }),
);

builder.mutationField('updateSettings', (t) =>
  t.field({
    type: SettingsPayload,
    description: 'Changes the given settings; each is validated, nothing is written when one is invalid. Admins only.',
    authScopes: adminOnly,
    errors: { types: [ValidationError] },
    args: { input: t.arg({ type: SettingsInput, required: true }) },
    resolve: async (_root, { input }, context) => ({ settings: await context.domain.settings.update(input) }),
  }),
);
