import { ERROR_FIELDS, type V1Method } from '../method.ts';
import { ok } from '../result.ts';
import {
  connectionReadMethod,
  permissionMethods,
  RECORD_SORT_FIELDS,
  recordReadSpec,
  setEnabledMethod,
  toPermissionMap,
  type ManagedRecords,
} from './shared.ts';

const tokenId = { name: 'token_id', required: true, schema: { type: 'string' } } as const;

const TOKENS: ManagedRecords = {
  module: '/v1/api-tokens',
  permission: 'user',
  noun: 'token',
  target: { ...tokenId, description: 'Token ID.' },
  lookup: 'apiToken',
  notFound: 'Token not found',
  setEnabled: { mutation: 'setApiTokenEnabled', payload: 'ApiTokenPayload' },
  setPermissions: (mode) => `${mode}ApiTokenPermissions`,
};


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
    spec: recordReadSpec([['created', 'desc']]),
    sortFields: RECORD_SORT_FIELDS,
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
  setEnabledMethod(TOKENS),
  ...permissionMethods(TOKENS),
];
