import type { ApiTokenSortField } from '../../domain/api-tokens.ts';
import type { ApiTokenRow } from '../../db/schema.ts';
import { NotFoundError, ValidationError } from '../../domain/errors.ts';
import { permissionMapOf } from '../../domain/permissions.ts';
import { builder } from '../builder.ts';
import { UserRef } from './users.ts';
import { offsetConnection } from '../connections.ts';
import { actorOf, OrderDirection, PermissionInput, PermissionStateRef, sortOrders } from './common.ts';

export const ApiTokenRef = builder.objectRef<ApiTokenRow>('ApiToken').implement({
  description: "One of the viewer's API tokens. The secret is shown once, when the token is created.",
  fields: (t) => ({
    id: t.exposeID('id'),
    userId: t.exposeID('userId'),
    user: t.field({
      type: UserRef,
      description: 'The owner (always the viewer: tokens are visible to their owner only).',
      resolve: (_token, _args, context) => actorOf(context).user,
    }),
    name: t.exposeString('name'),
    enabled: t.exposeBoolean('enabled'),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    lastUsedAt: t.expose('lastUsedAt', { type: 'DateTime', nullable: true }),
    permissions: t.stringList({
      description: "Effective permissions: the token's own, limited to what its owner holds.",
      resolve: (token, _args, context) => [...context.domain.apiTokens.effectivePermissions(actorOf(context), token)],
    }),
    permissionStates: t.field({
      type: [PermissionStateRef],
      description: "Every permission the owner holds, marked with whether the token has it too.",
      resolve: (token, _args, context) => {
        const owner = actorOf(context);
        const { permissions } = context.domain;
        return permissions.states(permissions.forUser(owner.user), context.domain.apiTokens.effectivePermissions(owner, token));
      },
    }),
  }),
});

const ApiTokenOrderField = builder.enumType('ApiTokenOrderField', {
  values: { ID: { value: 'id' }, NAME: { value: 'name' }, CREATED_AT: { value: 'createdAt' }, ENABLED: { value: 'enabled' } } as const,
});

const ApiTokenOrder = builder.inputType('ApiTokenOrder', {
  fields: (t) => ({
    field: t.field({ type: ApiTokenOrderField, required: true }),
    direction: t.field({ type: OrderDirection, defaultValue: 'asc' }),
  }),
});

const ApiTokenFilter = builder.inputType('ApiTokenFilter', {
  fields: (t) => ({
    id: t.id(),
    search: t.string({ description: 'Case-insensitive substring of the token name.' }),
  }),
});

const signedIn = { user: true } as const;

builder.queryFields((t) => ({
  apiTokens: t.connection(
    {
      type: ApiTokenRef,
      description: "The viewer's API tokens, newest first unless ordered otherwise.",
      authScopes: signedIn,
      args: {
        offset: t.arg.int({ description: 'Skip this many tokens (after `after`, when given).' }),
        filter: t.arg({ type: ApiTokenFilter }),
        orderBy: t.arg({ type: [ApiTokenOrder] }),
      },
      resolve: (_root, args, context) => {
        const owner = actorOf(context);
        const filter = { id: args.filter?.id?.toString(), search: args.filter?.search };
        const order = sortOrders<ApiTokenSortField>(args.orderBy, { field: 'createdAt', direction: 'desc' });
        return offsetConnection(args, {
          count: () => context.domain.apiTokens.count(owner, filter),
          page: (offset, limit) => context.domain.apiTokens.list(owner, filter, order, { offset, limit }),
        });
      },
    },
    { name: 'ApiTokenConnection' },
    { name: 'ApiTokenEdge' },
  ),
  apiToken: t.field({
    type: ApiTokenRef,
    nullable: true,
    description: "One of the viewer's API tokens; null when there is no such token of theirs.",
    authScopes: signedIn,
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, { id }, context) => context.domain.apiTokens.get(actorOf(context), String(id)).catch(nullWhenNotFound),
  }),
}));

function nullWhenNotFound(error: unknown): null {
  if (error instanceof NotFoundError) return null;
  throw error;
}

const CreateApiTokenPayload = builder.objectRef<{ token: string; row: ApiTokenRow }>('CreateApiTokenPayload').implement({
  fields: (t) => ({
    token: t.exposeString('token', { description: 'The secret; shown only here. Send it as `Authorization: Bearer <token>`.' }),
    apiToken: t.field({ type: ApiTokenRef, resolve: (payload) => payload.row }),
  }),
});

const ApiTokenPayload = builder.objectRef<{ row: ApiTokenRow; changed?: boolean }>('ApiTokenPayload').implement({
  fields: (t) => ({
    apiToken: t.field({ type: ApiTokenRef, resolve: (payload) => payload.row }),
    changed: t.boolean({
      description: 'False when nothing changed (the token already was in that state).',
      resolve: (payload) => payload.changed ?? true,
    }),
  }),
});

builder.mutationFields((t) => ({
  createApiToken: t.field({
    type: CreateApiTokenPayload,
    description: 'Creates an API token: enabled, without permissions until some are set.',
    authScopes: signedIn,
    errors: { types: [ValidationError] },
    args: { name: t.arg.string({ required: true }) },
    resolve: (_root, { name }, context) => context.domain.apiTokens.create(actorOf(context), name),
  }),
  deleteApiToken: t.field({
    type: ApiTokenPayload,
    authScopes: signedIn,
    errors: { types: [NotFoundError] },
    args: { id: t.arg.id({ required: true }) },
    resolve: async (_root, { id }, context) => ({ row: await context.domain.apiTokens.delete(actorOf(context), String(id)) }),
  }),
  setApiTokenEnabled: t.field({
    type: ApiTokenPayload,
    authScopes: signedIn,
    errors: { types: [NotFoundError] },
    args: { id: t.arg.id({ required: true }), enabled: t.arg.boolean({ required: true }) },
    resolve: (_root, { id, enabled }, context) => context.domain.apiTokens.setEnabled(actorOf(context), String(id), enabled),
  }),
  setApiTokenPermissions: t.field({
    type: ApiTokenPayload,
    description: "Replaces a token's permissions; each name must be one the caller holds.",
    authScopes: signedIn,
    errors: { types: [ValidationError, NotFoundError] },
    args: { id: t.arg.id({ required: true }), permissions: t.arg({ type: [PermissionInput], required: true }) },
    resolve: async (_root, { id, permissions }, context) => ({
      row: await context.domain.apiTokens.setPermissions(actorOf(context), String(id), permissionMapOf(permissions), 'replace'),
    }),
  }),
  updateApiTokenPermissions: t.field({
    type: ApiTokenPayload,
    description: "Changes only the given permissions of a token; each name must be one the caller holds.",
    authScopes: signedIn,
    errors: { types: [ValidationError, NotFoundError] },
    args: { id: t.arg.id({ required: true }), permissions: t.arg({ type: [PermissionInput], required: true }) },
    resolve: async (_root, { id, permissions }, context) => ({
      row: await context.domain.apiTokens.setPermissions(actorOf(context), String(id), permissionMapOf(permissions), 'merge'),
    }),
  }),
}));
