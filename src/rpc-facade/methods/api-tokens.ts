import { apiReadSchema, parseApiRead, readResult, type ApiReadSpec } from '../api-read.ts';
import { ERROR_FIELDS, type V1Method } from '../method.ts';
import { failure, ok } from '../result.ts';
import { readVariables, toPermissionInputs, toPermissionMap, toPermissionStates } from './shared.ts';

const tokenId = { name: 'token_id', required: true, schema: { type: 'string' } } as const;

const READ: ApiReadSpec = {
  fields: {
    id: { type: 'string', conditions: ['='], sortable: true },
    search: { type: 'string', conditions: ['like'] },
    name: { sortable: true },
    created: { sortable: true },
    enabled: { sortable: true },
  },
  defaultOrder: [['created', 'desc']],
  byId: true,
};
const SORT_FIELDS = { id: 'ID', name: 'NAME', created: 'CREATED_AT', enabled: 'ENABLED' };

interface TokenNode {
  id: string;
  userId: string;
  name: string;
  enabled: boolean;
  createdAt: string;
  permissions: string[];
}

const TOKEN_FIELDS = 'id userId name enabled createdAt permissions';

function toV1Token(token: TokenNode) {
  return {
    id: token.id,
    user_id: token.userId,
    name: token.name,
    enabled: token.enabled,
    created: token.createdAt,
    permissions: toPermissionMap(token.permissions),
  };
}

export const apiTokensMethods: V1Method[] = [
  {
    id: '/v1/api-tokens/read',
    permission: 'user',
    title: 'Read tokens',
    params: [{ name: 'options', required: false, schema: apiReadSchema(READ) }],
    document: `query ApiTokensRead($first: Int, $offset: Int, $filter: ApiTokenFilter, $orderBy: [ApiTokenOrder!]) {
      apiTokens(first: $first, offset: $offset, filter: $filter, orderBy: $orderBy) {
        totalCount
        edges { node { ${TOKEN_FIELDS} } }
      }
    }`,
    plan: ([options]) => {
      const query = parseApiRead(options, READ);
      return { variables: readVariables(query, SORT_FIELDS), single: query.id !== null };
    },
    result: (data, _call, plan) => {
      const tokens = data.apiTokens as { totalCount: number; edges: { node: TokenNode }[] };
      const rows = tokens.edges.map(({ node }) => toV1Token(node));
      if (plan.single) return ok(rows[0] ?? null);
      const { data: page, meta } = readResult(rows, tokens.totalCount);
      return ok(page, meta);
    },
  },
  {
    id: '/v1/api-tokens/create',
    permission: 'user',
    title: 'Generate new token',
    params: [{ name: 'name', required: true, schema: { type: 'string' } }],
    document: `mutation ApiTokensCreate($name: String!) {
      createApiToken(name: $name) {
        ${ERROR_FIELDS} ... on CreateApiTokenPayload { token apiToken { id userId permissions user { name } } }
      }
    }`,
    plan: ([name]) => ({ variables: { name } }),
    result: (data) => {
      const { token, apiToken } = data.createApiToken as { token: string; apiToken: TokenNode & { user: { name: string } } };
      // The mixed key casing (`userId`) is what v1 clients read.
      return ok({
        id: apiToken.id,
        token,
        userId: apiToken.userId,
        username: apiToken.user.name,
        permissions: toPermissionMap(apiToken.permissions),
      });
    },
  },
  {
    id: '/v1/api-tokens/delete',
    permission: 'user',
    title: 'Remove token',
    params: [tokenId],
    document: `mutation ApiTokensDelete($id: ID!) { deleteApiToken(id: $id) { ${ERROR_FIELDS} } }`,
    plan: ([id]) => ({ variables: { id } }),
    result: () => ok(null, { rows: 1 }),
  },
  {
    id: '/v1/api-tokens/set-enabled',
    permission: 'user',
    title: 'Set token enabled',
    params: [tokenId, { name: 'enabled', required: true, schema: { type: 'boolean' } }],
    document: `mutation ApiTokensSetEnabled($id: ID!, $enabled: Boolean!) {
      setApiTokenEnabled(id: $id, enabled: $enabled) { ${ERROR_FIELDS} ... on ApiTokenPayload { changed } }
    }`,
    plan: ([id, enabled]) => ({ variables: { id, enabled } }),
    result: (data) =>
      (data.setApiTokenEnabled as { changed: boolean }).changed ? ok(null, { rows: 1 }) : { status: 204, meta: { rows: 0 } },
  },
  {
    id: '/v1/api-tokens/get-permissions',
    permission: 'user',
    title: 'Get token permissions',
    params: [tokenId],
    document: 'query ApiTokensGetPermissions($id: ID!) { apiToken(id: $id) { permissionStates { name description enabled } } }',
    plan: ([id]) => ({ variables: { id } }),
    result: (data) => {
      const token = data.apiToken as { permissionStates: { name: string; description: string; enabled: boolean }[] } | null;
      return token ? ok(toPermissionStates(token.permissionStates)) : failure(404, 'Token not found');
    },
  },
  ...(['set', 'update'] as const).map(
    (mode): V1Method => ({
      id: `/v1/api-tokens/${mode}-permissions`,
      permission: 'user',
      title: `${mode === 'set' ? 'Set' : 'Update'} token permissions`,
      params: [
        { ...tokenId, description: 'Token ID.' },
        {
          name: 'permissions',
          required: true,
          schema: { type: 'object', additionalProperties: { type: 'boolean' } },
          description: 'Permission name → `true` to enable it.',
        },
      ],
      document: `mutation ApiTokens${mode === 'set' ? 'Set' : 'Update'}Permissions($id: ID!, $permissions: [PermissionInput!]!) {
        ${mode}ApiTokenPermissions(id: $id, permissions: $permissions) { ${ERROR_FIELDS} }
      }`,
      plan: ([id, permissions]) => ({ variables: { id, permissions: toPermissionInputs(permissions as Record<string, unknown>) } }),
      result: () => ok(),
    }),
  ),
];
