import type { ApiReadSpec } from '../api-read.ts';
import { ERROR_FIELDS, type V1Method } from '../method.ts';
import { failure, ok } from '../result.ts';
import { changedResult, connectionReadMethod, permissionsMethods, toPermissionMap, toPermissionStates } from './shared.ts';

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
  connectionReadMethod<TokenNode>({
    id: '/v1/api-tokens/read',
    permission: 'user',
    title: 'Read tokens',
    spec: READ,
    sortFields: SORT_FIELDS,
    connection: 'apiTokens',
    filterType: 'ApiTokenFilter',
    orderType: 'ApiTokenOrder',
    nodeFields: TOKEN_FIELDS,
    toRow: toV1Token,
  }),
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
    result: (data) => changedResult((data.setApiTokenEnabled as { changed: boolean }).changed),
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
  ...permissionsMethods({
    module: '/v1/api-tokens',
    permission: 'user',
    noun: 'token',
    target: { ...tokenId, description: 'Token ID.' },
    mutation: (mode) => `${mode}ApiTokenPermissions`,
  }),
];
