import type { SessionRow, UserRow } from '../../db/schema.ts';
import {
  ConflictError,
  ForbiddenError,
  NotAuthenticatedError,
  NotFoundError,
  RateLimitedError,
  ValidationError,
} from '../../domain/errors.ts';
import type { AuthenticatedPrincipal } from '../../domain/principal.ts';
import { builder } from '../builder.ts';
import { actorOf } from './common.ts';
import { DeleteSessionsPayload, UserRef } from './users.ts';

const CredentialKind = builder.enumType('CredentialKind', {
  values: { SESSION: { value: 'session' }, API_TOKEN: { value: 'apiToken' } } as const,
});

const SessionRef = builder.objectRef<SessionRow & { current: boolean }>('Session').implement({
  description: 'A signed-in session. Sessions end after 30 days without use.',
  fields: (t) => ({
    id: t.exposeID('id'),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    lastUsedAt: t.expose('lastUsedAt', { type: 'DateTime' }),
    expiresAt: t.expose('expiresAt', { type: 'DateTime' }),
    remoteAddress: t.exposeString('remoteAddress', { nullable: true }),
    userAgent: t.exposeString('userAgent', { nullable: true }),
    current: t.exposeBoolean('current', { description: 'This is the session of the request.' }),
  }),
});

export const ViewerRef = builder.objectRef<AuthenticatedPrincipal>('Viewer').implement({
  description: 'Who is calling: the user and the credential (a session or an API token) used.',
  fields: (t) => ({
    user: t.field({ type: UserRef, resolve: (principal) => principal.user }),
    credentialKind: t.field({ type: CredentialKind, resolve: (principal) => principal.kind }),
    credentialId: t.id({
      description: 'The id of the session or API token.',
      resolve: (principal) => (principal.kind === 'session' ? principal.sessionId : principal.tokenId),
    }),
    permissions: t.stringList({
      description: "Effective permissions of this credential: an API token's are limited to those its own map enables.",
      resolve: (principal) => [...principal.permissions],
    }),
    sessions: t.field({
      type: [SessionRef],
      description: "The user's live sessions, most recently used first.",
      resolve: async (principal, _args, context) => {
        const rows = await context.domain.sessions.listForUser(principal.user.id);
        return rows.map((row) => ({ ...row, current: principal.kind === 'session' && row.id === principal.sessionId }));
      },
    }),
  }),
});

builder.queryField('viewer', (t) =>
  t.field({
    type: ViewerRef,
    nullable: true,
    description: 'The signed-in principal, or null for a guest (no, unknown, expired or disabled token).',
    authScopes: { public: true },
    resolve: (_root, _args, context) => (context.principal.kind === 'guest' ? null : context.principal),
  }),
);

const SignUpInput = builder.inputType('SignUpInput', {
  fields: (t) => ({
    username: t.string({ required: true }),
    password: t.string({ required: true, description: '8–1024 characters.' }),
    email: t.string(),
    telegramName: t.string(),
  }),
});

const SignInInput = builder.inputType('SignInInput', {
  fields: (t) => ({
    username: t.string({ required: true }),
    password: t.string({ required: true }),
    requiredPermissions: t.stringList({
      description: 'Refuse (403) unless the user holds at least one of these (`admin`, `root`, `user`, …).',
    }),
  }),
});

const SignInPayload = builder.objectRef<{ token: string; viewer: AuthenticatedPrincipal }>('SignInPayload').implement({
  fields: (t) => ({
    token: t.exposeString('token', { description: 'The session token; send it as `Authorization: Bearer <token>`.' }),
    viewer: t.expose('viewer', { type: ViewerRef }),
  }),
});

const ViewerPayload = builder.objectRef<{ viewer: AuthenticatedPrincipal }>('ViewerPayload').implement({
  fields: (t) => ({ viewer: t.expose('viewer', { type: ViewerRef }) }),
});

const SignOutPayload = builder.objectRef<{ sessionId: string }>('SignOutPayload').implement({
  fields: (t) => ({ sessionId: t.exposeID('sessionId') }),
});

const PasswordPayload = builder.objectRef<{ password: string }>('PasswordPayload').implement({
  fields: (t) => ({ password: t.exposeString('password', { description: 'The password now in force.' }) }),
});

const ProfilePayload = builder.objectRef<{ user: UserRow }>('ProfilePayload').implement({
  fields: (t) => ({ user: t.expose('user', { type: UserRef }) }),
});

const signedIn = { user: true } as const;

builder.mutationFields((t) => ({
  signUp: t.field({
    type: ProfilePayload,
    description: 'Creates an enabled account without permissions, when sign-up is enabled.',
    authScopes: { public: true },
    errors: { types: [ValidationError, ConflictError, ForbiddenError] },
    args: { input: t.arg({ type: SignUpInput, required: true }) },
    resolve: async (_root, { input }, context) => ({ user: await context.domain.users.register(input) }),
  }),
  signIn: t.field({
    type: SignInPayload,
    description: 'Starts a session. Unknown user, wrong password and disabled user all answer NotAuthenticatedError.',
    authScopes: { public: true },
    errors: { types: [NotAuthenticatedError, ForbiddenError, RateLimitedError] },
    args: { input: t.arg({ type: SignInInput, required: true }) },
    resolve: async (_root, { input }, context) => {
      const { token, principal } = await context.domain.sessions.signIn(input, input.requiredPermissions ?? null, context.client);
      return { token, viewer: principal };
    },
  }),
  resumeSession: t.field({
    type: ViewerPayload,
    description: 'Checks the token already held (how a UI resumes a stored session); no new token is issued.',
    authScopes: { public: true },
    errors: { types: [NotAuthenticatedError, ForbiddenError] },
    args: { requiredPermissions: t.arg.stringList() },
    resolve: (_root, { requiredPermissions }, context) => ({
      viewer: context.domain.sessions.resume(context.principal, requiredPermissions ?? null),
    }),
  }),
  signOut: t.field({
    type: SignOutPayload,
    description: 'Ends the current session; API tokens and guests get NotFoundError.',
    authScopes: { public: true },
    errors: { types: [NotFoundError] },
    resolve: async (_root, _args, context) => ({ sessionId: await context.domain.sessions.signOut(context.principal) }),
  }),
  changePassword: t.field({
    type: PasswordPayload,
    description: 'Sets your password (generated when omitted or empty) and ends your other sessions.',
    authScopes: signedIn,
    errors: { types: [ValidationError] },
    args: { password: t.arg.string() },
    resolve: async (_root, { password }, context) => ({
      password: await context.domain.profile.setPassword(actorOf(context), password),
    }),
  }),
  setEmail: t.field({
    type: ProfilePayload,
    description: 'Sets your e-mail (unconfirmed until confirmed again); omitted or empty removes it.',
    authScopes: signedIn,
    errors: { types: [ValidationError, ConflictError] },
    args: { email: t.arg.string() },
    resolve: async (_root, { email }, context) => ({ user: await context.domain.profile.setEmail(actorOf(context), email) }),
  }),
  setTelegramUsername: t.field({
    type: ProfilePayload,
    description: 'Sets your Telegram username; omitted or empty removes it.',
    authScopes: signedIn,
    errors: { types: [ValidationError, ConflictError] },
    args: { telegramUsername: t.arg.string() },
    resolve: async (_root, { telegramUsername }, context) => ({
      user: await context.domain.profile.setTelegramName(actorOf(context), telegramUsername),
    }),
  }),
  deleteOtherSessions: t.field({
    type: DeleteSessionsPayload,
    description: 'Ends all your sessions except the current one.',
    authScopes: signedIn,
    resolve: async (_root, _args, context) => ({
      deletedCount: await context.domain.profile.deleteOtherSessions(actorOf(context)),
    }),
  }),
}));
