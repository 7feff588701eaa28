import { heldPermissionMap } from '../../domain/permissions.ts';
import { graphql, readFragment, type FragmentOf } from '../graphql.ts';
import { ErrorFields, v1Method, type V1Method } from '../method.ts';
import { ok } from '../result.ts';
import { connectionReadMethod, permissionMethods, recordReadSpec, setEnabledMethod, type ManagedRecords } from './shared.ts';

const tokenId = { name: 'token_id', required: true, schema: { type: 'string' } } as const;

const TOKENS: ManagedRecords = {
  module: '/v1/api-tokens',
  permission: 'user',
  noun: 'token',
  target: { ...tokenId, description: 'Token ID.' },
  notFound: 'Token not found',
};

const TokenFields = graphql(`
  fragment TokenFields on ApiToken { id userId name enabled createdAt permissions }
`);

function toV1Token(fragment: FragmentOf<typeof TokenFields>) {
  const token = readFragment(TokenFields, fragment);
  return {
    id: token.id,
    user_id: token.userId,
    name: token.name,
    enabled: token.enabled,
    created: token.createdAt,
    permissions: heldPermissionMap(token.permissions),
  };
}

export const apiTokensMethods: V1Method[] = [
  connectionReadMethod({
    id: '/v1/api-tokens/read',
    permission: 'user',
    title: 'Read tokens',
    spec: recordReadSpec([['created', 'desc']]),
    document: graphql(
      `
        query ApiTokensRead($first: Int, $offset: Int, $filter: ApiTokenFilter, $orderBy: [ApiTokenOrder!]) {
          apiTokens(first: $first, offset: $offset, filter: $filter, orderBy: $orderBy) {
            totalCount
            edges { node { ...TokenFields } }
          }
        }
      `,
      [TokenFields],
    ),
    connection: (data) => data.apiTokens,
    toRow: toV1Token,
  }),
  v1Method({
    id: '/v1/api-tokens/create',
    permission: 'user',
    title: 'Generate new token',
    params: [{ name: 'name', required: true, schema: { type: 'string' } }],
    document: graphql(
      `
        mutation ApiTokensCreate($name: String!) {
          createApiToken(name: $name) {
            ...ErrorFields
            ... on CreateApiTokenPayload { token apiToken { id userId permissions user { name } } }
          }
        }
      `,
      [ErrorFields],
    ),
    plan: ([name]) => ({ variables: { name: name as string } }),
    result: ({ createApiToken: { token, apiToken } }) =>
      // The mixed key casing (`userId`) is what v1 clients read.
      ok({
        id: apiToken.id,
        token,
        userId: apiToken.userId,
        username: apiToken.user.name,
        permissions: heldPermissionMap(apiToken.permissions),
      }),
  }),
  v1Method({
    id: '/v1/api-tokens/delete',
    permission: 'user',
    title: 'Remove token',
    params: [tokenId],
    document: graphql(`mutation ApiTokensDelete($id: ID!) { deleteApiToken(id: $id) { ...ErrorFields } }`, [ErrorFields]),
    plan: ([id]) => ({ variables: { id: id as string } }),
    result: () => ok(null, { rows: 1 }),
  }),
  setEnabledMethod(
    TOKENS,
    graphql(
      `
        mutation SetApiTokenEnabled($id: ID!, $enabled: Boolean!) {
          setApiTokenEnabled(id: $id, enabled: $enabled) { ...ErrorFields ... on ApiTokenPayload { changed } }
        }
      `,
      [ErrorFields],
    ),
    (data) => data.setApiTokenEnabled.changed,
  ),
  ...permissionMethods(TOKENS, {
    get: graphql(`query GetApiTokenPermissions($id: ID!) { apiToken(id: $id) { permissionStates { name description enabled } } }`),
    states: (data) => data.apiToken?.permissionStates ?? null,
    set: graphql(
      `
        mutation SetApiTokenPermissions($id: ID!, $permissions: [PermissionInput!]!) {
          setApiTokenPermissions(id: $id, permissions: $permissions) { ...ErrorFields }
        }
      `,
      [ErrorFields],
    ),
    update: graphql(
      `
        mutation UpdateApiTokenPermissions($id: ID!, $permissions: [PermissionInput!]!) {
          updateApiTokenPermissions(id: $id, permissions: $permissions) { ...ErrorFields }
        }
      `,
      [ErrorFields],
    ),
  }),
];
