import type { UserRow } from '../../db/schema.ts';
import { ConflictError, NotAllowedError, NotFoundError, ValidationError } from '../../domain/errors.ts';
import { permissionMapOf } from '../../domain/permissions.ts';
import { avatarUrl } from '../../domain/user-fields.ts';
import type { UserSortField } from '../../domain/users.ts';
import { builder } from '../builder.ts';
import { offsetConnection } from '../connections.ts';
import { actorOf, OrderDirection, PermissionInput, PermissionStateRef, sortOrders } from './common.ts';

export const UserRef = builder.objectRef<UserRow>('User').implement({
  description: 'An account. Root is id "1"; everybody else counts from "100".',
  fields: (t) => ({
    id: t.exposeID('id'),
    name: t.exposeString('name', { description: 'The username: lower-case, unique, never all digits.' }),
    email: t.exposeString('email', { nullable: true }),
    emailConfirmed: t.exposeBoolean('emailConfirmed'),
    telegramName: t.exposeString('telegramName', { nullable: true }),
    enabled: t.exposeBoolean('enabled'),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    avatar: t.string({ description: 'Gravatar URL (an identicon when there is no e-mail).', resolve: (user) => avatarUrl(user) }),
    permissions: t.stringList({
      description: 'Declared permissions this user holds (root holds all).',
      resolve: (user, _args, context) => [...context.domain.permissions.forUser(user)],
    }),
    permissionStates: t.field({
      type: [PermissionStateRef],
      description: 'The permissions the viewer holds, each marked with whether this user has it.',
      authScopes: { permission: 'admin' },
      resolve: (user, _args, context) =>
        context.domain.permissions.states(actorOf(context).permissions, context.domain.permissions.forUser(user)),
    }),
  }),
});

const UserOrderField = builder.enumType('UserOrderField', {
  values: { ID: { value: 'id' }, NAME: { value: 'name' }, CREATED_AT: { value: 'createdAt' }, ENABLED: { value: 'enabled' } } as const,
});

const UserOrder = builder.inputType('UserOrder', {
  fields: (t) => ({
    field: t.field({ type: UserOrderField, required: true }),
    direction: t.field({ type: OrderDirection, defaultValue: 'asc' }),
  }),
});

const UserFilter = builder.inputType('UserFilter', {
  fields: (t) => ({
    id: t.id({ description: 'Only the user with this id.' }),
    search: t.string({ description: 'Case-insensitive substring of the name, e-mail or Telegram username.' }),
  }),
});

builder.queryFields((t) => ({
  users: t.connection(
    {
      type: UserRef,
      description: 'Every user except root, by name unless ordered otherwise. Admins only.',
      authScopes: { permission: 'admin' },
      args: {
        offset: t.arg.int({ description: 'Skip this many users (after `after`, when given).' }),
        filter: t.arg({ type: UserFilter }),
        orderBy: t.arg({ type: [UserOrder] }),
      },
      resolve: (_root, args, context) => {
        const filter = { id: args.filter?.id?.toString(), search: args.filter?.search };
        const order = sortOrders<UserSortField>(args.orderBy, { field: 'name', direction: 'asc' });
        return offsetConnection(args, {
          count: () => context.domain.users.count(filter),
          page: (offset, limit) => context.domain.users.list(filter, order, { offset, limit }),
        });
      },
    },
    { name: 'UserConnection' },
    { name: 'UserEdge' },
  ),
  user: t.field({
    type: UserRef,
    nullable: true,
    description: 'A user by id or username, root included. Admins only.',
    authScopes: { permission: 'admin' },
    args: { id: t.arg.id({ required: true, description: 'A user id, or a username (usernames are never all digits).' }) },
    resolve: (_root, { id }, context) => context.domain.users.find(String(id)),
  }),
  suggestUsers: t.field({
    type: [UserRef],
    description: 'Users whose name, e-mail or Telegram username contains `search`, by name, root included. Admins only.',
    authScopes: { permission: 'admin' },
    args: {
      search: t.arg.string(),
      first: t.arg.int({ defaultValue: 100, description: 'At most 100.' }),
    },
    resolve: (_root, { search, first }, context) =>
      context.domain.users.suggest(search ?? null, Math.min(Math.max(first ?? 100, 0), 100)),
  }),
}));

const CreateUserInput = builder.inputType('CreateUserInput', {
  fields: (t) => ({
    username: t.string({ required: true, description: '3–64 characters of a-z, 0-9 and "_.@+-"; stored lower-case.' }),
    password: t.string({ description: '8–1024 characters; generated (and returned) when omitted or empty.' }),
    enabled: t.boolean({ defaultValue: true }),
    permissions: t.field({ type: [PermissionInput], description: 'Only permissions the caller holds may be granted.' }),
    email: t.string({ description: 'Defaults to the username when that is an e-mail address.' }),
    telegramName: t.string(),
  }),
});

const UserWithPasswordPayload = builder.objectRef<{ user: UserRow; password: string }>('UserWithPasswordPayload').implement({
  description: 'A user and the password now in force (shown only here).',
  fields: (t) => ({
    user: t.expose('user', { type: UserRef }),
    password: t.exposeString('password'),
  }),
});

const UserPayload = builder.objectRef<{ user: UserRow }>('UserPayload').implement({
  fields: (t) => ({ user: t.expose('user', { type: UserRef }) }),
});

const SetUserEnabledPayload = builder.objectRef<{ user: UserRow; changed: boolean }>('SetUserEnabledPayload').implement({
  fields: (t) => ({
    user: t.expose('user', { type: UserRef }),
    changed: t.exposeBoolean('changed', { description: 'False when the user already was in that state.' }),
  }),
});

export const DeleteSessionsPayload = builder.objectRef<{ deletedCount: number }>('DeleteSessionsPayload').implement({
  fields: (t) => ({ deletedCount: t.exposeInt('deletedCount') }),
});

const adminOnly = { permission: 'admin' } as const;
const USER_REF = 'A user id, or a username.';

builder.mutationFields((t) => ({
  createUser: t.field({
    type: UserWithPasswordPayload,
    description: 'Creates a user. Admins only.',
    authScopes: adminOnly,
    errors: { types: [ValidationError, ConflictError] },
    args: { input: t.arg({ type: CreateUserInput, required: true }) },
    resolve: (_root, { input }, context) =>
      context.domain.users.create(actorOf(context), {
        ...input,
        permissions: input.permissions ? permissionMapOf(input.permissions) : null,
      }),
  }),
  deleteUser: t.field({
    type: UserPayload,
    description: 'Deletes a user with its sessions and API tokens. Not yourself, not root.',
    authScopes: adminOnly,
    errors: { types: [NotAllowedError, NotFoundError] },
    args: { id: t.arg.id({ required: true, description: USER_REF }) },
    resolve: async (_root, { id }, context) => ({ user: await context.domain.users.delete(actorOf(context), String(id)) }),
  }),
  setUserEnabled: t.field({
    type: SetUserEnabledPayload,
    description: "Enables or disables a user; disabling ends the user's sessions. Not yourself, not root.",
    authScopes: adminOnly,
    errors: { types: [NotAllowedError, NotFoundError] },
    args: { id: t.arg.id({ required: true, description: USER_REF }), enabled: t.arg.boolean({ required: true }) },
    resolve: (_root, { id, enabled }, context) => context.domain.users.setEnabled(actorOf(context), String(id), enabled),
  }),
  setUserPassword: t.field({
    type: UserWithPasswordPayload,
    description: "Sets a user's password (generated when omitted) and ends their other sessions. Only root changes root's.",
    authScopes: adminOnly,
    errors: { types: [ValidationError, NotAllowedError, NotFoundError] },
    args: { id: t.arg.id({ required: true, description: USER_REF }), password: t.arg.string() },
    resolve: (_root, { id, password }, context) => context.domain.users.setPassword(actorOf(context), String(id), password),
  }),
  setUserPermissions: t.field({
    type: UserPayload,
    description: "Replaces a user's permissions (those the caller may grant). Not yourself, not root.",
    authScopes: adminOnly,
    errors: { types: [ValidationError, NotAllowedError, NotFoundError] },
    args: { id: t.arg.id({ required: true, description: USER_REF }), permissions: t.arg({ type: [PermissionInput], required: true }) },
    resolve: async (_root, { id, permissions }, context) => ({
      user: await context.domain.users.setPermissions(actorOf(context), String(id), permissionMapOf(permissions), 'replace'),
    }),
  }),
  updateUserPermissions: t.field({
    type: UserPayload,
    description: "Changes only the given permissions of a user. Not yourself, not root.",
    authScopes: adminOnly,
    errors: { types: [ValidationError, NotAllowedError, NotFoundError] },
    args: { id: t.arg.id({ required: true, description: USER_REF }), permissions: t.arg({ type: [PermissionInput], required: true }) },
    resolve: async (_root, { id, permissions }, context) => ({
      user: await context.domain.users.setPermissions(actorOf(context), String(id), permissionMapOf(permissions), 'merge'),
    }),
  }),
  renameUser: t.field({
    type: UserWithPasswordPayload,
    description: 'Changes a username together with the password (generated when omitted). Not root.',
    authScopes: adminOnly,
    errors: { types: [ValidationError, NotAllowedError, NotFoundError, ConflictError] },
    args: { id: t.arg.id({ required: true, description: USER_REF }), username: t.arg.string({ required: true }), password: t.arg.string() },
    resolve: (_root, { id, username, password }, context) =>
      context.domain.users.setUsername(actorOf(context), String(id), username, password),
  }),
  deleteUserSessions: t.field({
    type: DeleteSessionsPayload,
    description: "Ends a user's sessions (except the caller's own).",
    authScopes: adminOnly,
    errors: { types: [NotFoundError] },
    args: { id: t.arg.id({ required: true, description: USER_REF }) },
    resolve: async (_root, { id }, context) => ({
      deletedCount: await context.domain.users.deleteSessions(actorOf(context), String(id)),
    }),
  }),
}));
