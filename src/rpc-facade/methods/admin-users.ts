import { heldPermissionMap, permissionEntries } from '../../domain/permissions.ts';
import { graphql } from '../graphql.ts';
import { ErrorFields, v1Method, type V1Method } from '../method.ts';
import { ok } from '../result.ts';
import {
  connectionReadMethod,
  permissionMethods,
  recordReadSpec,
  setEnabledMethod,
  toV1User,
  UserFields,
  type ManagedRecords,
} from './shared.ts';

const userId = { name: 'user_id', required: true, schema: { type: 'string' }, description: 'User id or name.' } as const;

const USERS: ManagedRecords = {
  module: '/v1/admin/users',
  permission: 'admin',
  noun: 'user',
  target: userId,
  notFound: 'User not found',
};

const NEW_USER_FIELDS = {
  username: { type: 'string' },
  password: { type: 'string' },
  enabled: { type: 'boolean' },
  permissions: { type: 'object', additionalProperties: { type: 'boolean' } },
  email: { type: 'string' },
  telegram_name: { type: 'string' },
};

export const adminUsersMethods: V1Method[] = [
  connectionReadMethod({
    id: '/v1/admin/users/read',
    permission: 'admin',
    title: 'Read users',
    spec: recordReadSpec([['name', 'desc']]),
    document: graphql(
      `
        query UsersRead($first: Int, $offset: Int, $filter: UserFilter, $orderBy: [UserOrder!]) {
          users(first: $first, offset: $offset, filter: $filter, orderBy: $orderBy) {
            totalCount
            edges { node { ...UserFields } }
          }
        }
      `,
      [UserFields],
    ),
    connection: (data) => data.users,
    toRow: toV1User,
  }),
  v1Method({
    id: '/v1/admin/users/create',
    permission: 'admin',
    title: 'Create user',
    params: [
      {
        name: 'fields',
        required: true,
        schema: { type: 'object', properties: NEW_USER_FIELDS, required: ['username'], additionalProperties: false },
      },
    ],
    document: graphql(
      `
        mutation AdminUsersCreate($input: CreateUserInput!) {
          createUser(input: $input) {
            ...ErrorFields
            ... on UserWithPasswordPayload { password user { id name enabled permissions } }
          }
        }
      `,
      [ErrorFields],
    ),
    plan: ([fields]) => {
      const given = fields as { username: string; password?: string; enabled?: boolean; permissions?: Record<string, boolean>; email?: string; telegram_name?: string };
      return {
        variables: {
          input: {
            username: given.username,
            password: given.password || null,
            enabled: given.enabled ?? true,
            permissions: given.permissions ? permissionEntries(given.permissions) : null,
            email: given.email || null,
            telegramName: given.telegram_name || null,
          },
        },
      };
    },
    result: ({ createUser: { password, user } }) =>
      ok({ id: user.id, name: user.name, password, enabled: user.enabled, permissions: heldPermissionMap(user.permissions) }),
  }),
  v1Method({
    id: '/v1/admin/users/delete',
    permission: 'admin',
    title: 'Remove user',
    params: [userId],
    document: graphql(`mutation AdminUsersDelete($id: ID!) { deleteUser(id: $id) { ...ErrorFields } }`, [ErrorFields]),
    plan: ([id]) => ({ variables: { id: id as string } }),
    result: () => ok(null, { rows: 1 }),
  }),
  v1Method({
    id: '/v1/admin/users/set-password',
    permission: 'admin',
    title: 'Set user password',
    params: [userId, { name: 'password', required: false, schema: { type: 'string' } }],
    document: graphql(
      `
        mutation AdminUsersSetPassword($id: ID!, $password: String) {
          setUserPassword(id: $id, password: $password) { ...ErrorFields ... on UserWithPasswordPayload { password } }
        }
      `,
      [ErrorFields],
    ),
    plan: ([id, password]) => ({ variables: { id: id as string, password: (password as string | undefined) || null } }),
    result: (data) => ok({ password: data.setUserPassword.password }),
  }),
  setEnabledMethod(
    USERS,
    graphql(
      `
        mutation SetUserEnabled($id: ID!, $enabled: Boolean!) {
          setUserEnabled(id: $id, enabled: $enabled) { ...ErrorFields ... on SetUserEnabledPayload { changed } }
        }
      `,
      [ErrorFields],
    ),
    (data) => data.setUserEnabled.changed,
  ),
  ...permissionMethods(USERS, {
    get: graphql(`query GetUserPermissions($id: ID!) { user(id: $id) { permissionStates { name description enabled } } }`),
    states: (data) => data.user?.permissionStates ?? null,
    set: graphql(
      `
        mutation SetUserPermissions($id: ID!, $permissions: [PermissionInput!]!) {
          setUserPermissions(id: $id, permissions: $permissions) { ...ErrorFields }
        }
      `,
      [ErrorFields],
    ),
    update: graphql(
      `
        mutation UpdateUserPermissions($id: ID!, $permissions: [PermissionInput!]!) {
          updateUserPermissions(id: $id, permissions: $permissions) { ...ErrorFields }
        }
      `,
      [ErrorFields],
    ),
  }),
  v1Method({
    id: '/v1/admin/users/suggest',
    permission: 'admin',
    title: 'Suggest user name',
    params: [
      {
        name: 'options',
        required: false,
        schema: {
          type: 'object',
          properties: {
            where: {
              type: 'object',
              properties: {
                name: { type: 'array', items: [{ enum: ['like'] }, { type: 'string' }], minItems: 2, maxItems: 2 },
              },
              additionalProperties: false,
            },
          },
          additionalProperties: false,
        },
      },
    ],
    document: graphql(`query AdminUsersSuggest($search: String) { suggestUsers(search: $search, first: 100) { id name } }`),
    plan: ([options]) => {
      const where = (options as { where?: { name?: [string, string] } } | null)?.where;
      return { variables: { search: where?.name?.[1] ?? null } };
    },
    result: ({ suggestUsers }) => ok(suggestUsers.length > 0 ? suggestUsers : null),
  }),
  v1Method({
    id: '/v1/admin/users/set-username',
    permission: 'admin',
    title: 'Change user name',
    params: [
      userId,
      { name: 'new_username', required: true, schema: { type: 'string' } },
      { name: 'new_password', required: false, schema: { type: 'string' } },
    ],
    document: graphql(
      `
        mutation AdminUsersSetUsername($id: ID!, $username: String!, $password: String) {
          renameUser(id: $id, username: $username, password: $password) {
            ...ErrorFields
            ... on UserWithPasswordPayload { password user { name } }
          }
        }
      `,
      [ErrorFields],
    ),
    plan: ([id, username, password]) => ({
      variables: { id: id as string, username: username as string, password: (password as string | undefined) || null },
    }),
    result: ({ renameUser: { password, user } }) => ok({ username: user.name, password }),
  }),
  v1Method({
    id: '/v1/admin/users/delete-sessions',
    permission: 'admin',
    title: 'Delete user sessions',
    params: [userId],
    document: graphql(
      `
        mutation AdminUsersDeleteSessions($id: ID!) {
          deleteUserSessions(id: $id) { ...ErrorFields ... on DeleteSessionsPayload { deletedCount } }
        }
      `,
      [ErrorFields],
    ),
    plan: ([id]) => ({ variables: { id: id as string } }),
    result: (data) => ok(null, { rows: data.deleteUserSessions.deletedCount }),
  }),
];
