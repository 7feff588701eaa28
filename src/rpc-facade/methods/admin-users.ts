import { ERROR_FIELDS, type V1Method } from '../method.ts';
import { ok } from '../result.ts';
import {
  connectionReadMethod,
  RECORD_SORT_FIELDS,
  recordReadSpec,
  permissionMethods,
  setEnabledMethod,
  toPermissionInputs,
  toPermissionMap,
  toV1User,
  USER_FIELDS,
  type ManagedRecords,
  type UserNode,
} from './shared.ts';

const userId = { name: 'user_id', required: true, schema: { type: 'string' }, description: 'User id or name.' } as const;

const USERS: ManagedRecords = {
  module: '/v1/admin/users',
  permission: 'admin',
  noun: 'user',
  target: userId,
  lookup: 'user',
  notFound: 'User not found',
  setEnabled: { mutation: 'setUserEnabled', payload: 'SetUserEnabledPayload' },
  setPermissions: (mode) => `${mode}UserPermissions`,
};


const NEW_USER_FIELDS = {
  username: { type: 'string' },
  password: { type: 'string' },
  enabled: { type: 'boolean' },
  permissions: { type: 'object', additionalProperties: { type: 'boolean' } },
  email: { type: 'string' },
  telegram_name: { type: 'string' },
};

type Payload = Record<string, unknown>;

export const adminUsersMethods: V1Method[] = [
  connectionReadMethod<UserNode>({
    id: '/v1/admin/users/read',
    permission: 'admin',
    title: 'Read users',
    spec: recordReadSpec([['name', 'desc']]),
    sortFields: RECORD_SORT_FIELDS,
    connection: 'users',
    filterType: 'UserFilter',
    orderType: 'UserOrder',
    nodeFields: USER_FIELDS,
    toRow: toV1User,
  }),
  {
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
    document: `mutation AdminUsersCreate($input: CreateUserInput!) {
      createUser(input: $input) { ${ERROR_FIELDS} ... on UserWithPasswordPayload { password user { id name enabled permissions } } }
    }`,
    plan: ([fields]) => {
      const given = fields as Record<string, unknown>;
      return {
        variables: {
          input: {
            username: given.username,
            password: given.password || null,
            enabled: given.enabled ?? true,
            permissions: given.permissions ? toPermissionInputs(given.permissions as Record<string, unknown>) : null,
            email: given.email || null,
            telegramName: given.telegram_name || null,
          },
        },
      };
    },
    result: (data) => {
      const { password, user } = data.createUser as { password: string; user: UserNode };
      return ok({ id: user.id, name: user.name, password, enabled: user.enabled, permissions: toPermissionMap(user.permissions) });
    },
  },
  {
    id: '/v1/admin/users/delete',
    permission: 'admin',
    title: 'Remove user',
    params: [userId],
    document: `mutation AdminUsersDelete($id: ID!) { deleteUser(id: $id) { ${ERROR_FIELDS} } }`,
    plan: ([id]) => ({ variables: { id } }),
    result: () => ok(null, { rows: 1 }),
  },
  {
    id: '/v1/admin/users/set-password',
    permission: 'admin',
    title: 'Set user password',
    params: [userId, { name: 'password', required: false, schema: { type: 'string' } }],
    document: `mutation AdminUsersSetPassword($id: ID!, $password: String) {
      setUserPassword(id: $id, password: $password) { ${ERROR_FIELDS} ... on UserWithPasswordPayload { password } }
    }`,
    plan: ([id, password]) => ({ variables: { id, password: password || null } }),
    result: (data) => ok({ password: (data.setUserPassword as { password: string }).password }),
  },
  setEnabledMethod(USERS),
  ...permissionMethods(USERS),
  {
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
    document: 'query AdminUsersSuggest($search: String) { suggestUsers(search: $search, first: 100) { id name } }',
    plan: ([options]) => {
      const where = (options as { where?: { name?: [string, string] } } | null)?.where;
      return { variables: { search: where?.name?.[1] ?? null } };
    },
    result: (data) => {
      const users = data.suggestUsers as { id: string; name: string }[];
      return ok(users.length > 0 ? users : null);
    },
  },
  {
    id: '/v1/admin/users/set-username',
    permission: 'admin',
    title: 'Change user name',
    params: [
      userId,
      { name: 'new_username', required: true, schema: { type: 'string' } },
      { name: 'new_password', required: false, schema: { type: 'string' } },
    ],
    document: `mutation AdminUsersSetUsername($id: ID!, $username: String!, $password: String) {
      renameUser(id: $id, username: $username, password: $password) {
        ${ERROR_FIELDS} ... on UserWithPasswordPayload { password user { name } }
      }
    }`,
    plan: ([id, username, password]) => ({ variables: { id, username, password: password || null } }),
    result: (data) => {
      const { password, user } = data.renameUser as { password: string; user: { name: string } };
      return ok({ username: user.name, password });
    },
  },
  {
    id: '/v1/admin/users/delete-sessions',
    permission: 'admin',
    title: 'Delete user sessions',
    params: [userId],
    document: `mutation AdminUsersDeleteSessions($id: ID!) {
      deleteUserSessions(id: $id) { ${ERROR_FIELDS} ... on DeleteSessionsPayload { deletedCount } }
    }`,
    plan: ([id]) => ({ variables: { id } }),
    result: (data) => ok(null, { rows: (data.deleteUserSessions as Payload).deletedCount }),
  },
];
