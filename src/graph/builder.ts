import SchemaBuilder from '@pothos/core';
import ErrorsPlugin from '@pothos/plugin-errors';
import RelayPlugin from '@pothos/plugin-relay';
import ScopeAuthPlugin from '@pothos/plugin-scope-auth';
import { hasPermission } from '../domain/principal.ts';
import type { GraphContext } from './context.ts';
import { refusalFor } from './error-policy.ts';

export interface UploadedFile {
  readonly name: string;
  readonly type: string;
  readonly size: number;
  arrayBuffer(): Promise<ArrayBuffer>;
}

export const builder = new SchemaBuilder<{
  Context: GraphContext;
  AuthScopes: {
    /** Anyone, signed in or not. */
    public: boolean;
    /** Any signed-in principal: a session or an API token. */
    user: boolean;
    /** The root user. */
    root: boolean;
    /** A declared permission the principal effectively holds (root holds all). */
    permission: string;
  };
  Scalars: {
    DateTime: { Input: Date; Output: Date | string };
    JSON: { Input: unknown; Output: unknown };
    File: { Input: UploadedFile; Output: never };
  };
  Connection: { totalCount: number };
  DefaultFieldNullability: false;
}>({
  plugins: [RelayPlugin, ScopeAuthPlugin, ErrorsPlugin],
  defaultFieldNullability: false,
  relay: {
    nodeQueryOptions: false,
    nodesQueryOptions: false,
    clientMutationId: 'omit',
    cursorType: 'String',
  },
  scopeAuth: {
    authorizeOnSubscribe: true,
    authScopes: (context) => ({
      public: true,
      user: context.principal.kind !== 'guest',
      root: hasPermission(context.principal, 'root'),
      permission: (name) => hasPermission(context.principal, name),
    }),
    // A GraphQL error, not a domain one, so the errors plugin never turns a refusal into a typed result.
    unauthorizedError: (_parent, context) => refusalFor(context.principal),
  },
  errors: {
    defaultTypes: [],
    // Mutations return their payload type or one of their error types directly: `CreateUserResult`.
    directResult: true,
    defaultUnionOptions: { name: ({ fieldName }) => `${fieldName[0]!.toUpperCase()}${fieldName.slice(1)}Result` },
  },
});

builder.queryType({});
builder.mutationType({});
builder.subscriptionType({});

builder.globalConnectionField('totalCount', (t) =>
  t.int({ description: 'How many items match, across all pages.', resolve: (parent) => parent.totalCount }),
);
