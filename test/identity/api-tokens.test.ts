import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MODES, ROOT_PASSWORD, startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import {
  createApiToken,
  createSignedInUser,
  ErrorFields,
  gql,
  member,
  ok,
  only,
  rootSession,
  type OnlyField,
  uniqueUsername,
  viewerOf,
} from '../helpers/graphql.ts';
import { graphql, type AnyTypedDocument, type VariablesOf } from '../../src/rpc-facade/graphql.ts';

const Token = graphql(`
  fragment Token on ApiToken @_unmask { id userId name enabled createdAt lastUsedAt permissions }
`);
const CREATE = graphql(
  `
    mutation Create($name: String!) {
      createApiToken(name: $name) { __typename ... on CreateApiTokenPayload { token apiToken { ...Token } } ...ErrorFields }
    }
  `,
  [Token, ErrorFields],
);
const DELETE = graphql(
  `mutation Delete($id: ID!) { deleteApiToken(id: $id) { __typename ... on ApiTokenPayload { apiToken { ...Token } } ...ErrorFields } }`,
  [Token, ErrorFields],
);
const SET_ENABLED = graphql(
  `
    mutation SetEnabled($id: ID!, $enabled: Boolean!) {
      setApiTokenEnabled(id: $id, enabled: $enabled) { __typename ... on ApiTokenPayload { changed apiToken { ...Token } } ...ErrorFields }
    }
  `,
  [Token, ErrorFields],
);
const SET_PERMISSIONS = graphql(
  `
    mutation SetPermissions($id: ID!, $permissions: [PermissionInput!]!) {
      setApiTokenPermissions(id: $id, permissions: $permissions) { __typename ... on ApiTokenPayload { apiToken { ...Token } } ...ErrorFields }
    }
  `,
  [Token, ErrorFields],
);
const UPDATE_PERMISSIONS = graphql(
  `
    mutation UpdatePermissions($id: ID!, $permissions: [PermissionInput!]!) {
      updateApiTokenPermissions(id: $id, permissions: $permissions) { __typename ... on ApiTokenPayload { apiToken { ...Token } } ...ErrorFields }
    }
  `,
  [Token, ErrorFields],
);
const TOKEN_BY_ID = graphql(`query TokenById($id: ID!) { apiToken(id: $id) { ...Token permissionStates { name enabled } } }`, [Token]);
const LIST = graphql(
  `
    query List($first: Int, $after: String, $offset: Int, $filter: ApiTokenFilter, $orderBy: [ApiTokenOrder!]) {
      apiTokens(first: $first, after: $after, offset: $offset, filter: $filter, orderBy: $orderBy) {
        totalCount edges { node { ...Token } } pageInfo { hasNextPage endCursor }
      }
    }
  `,
  [Token],
);
const USERS_COUNT = graphql(`query UsersCount { users { totalCount } }`);
const VIEWER = graphql(`query Viewer { viewer { user { id } credentialKind credentialId permissions } }`);

const grants = (...names: string[]) => names.map((name) => ({ name, enabled: true }));
const NOT_FOUND = { __typename: 'NotFoundError', code: 'NOT_FOUND', status: 404, message: 'Token not found' };

describe.each(MODES)('API tokens through GraphQL (%s)', (mode) => {
  let gw: TestGateway;
  let root: string;

  beforeAll(async () => {
    gw = await startTestGateway(mode, { env: { PERMISSIONS: 'create_teams,billing' } });
    root = await rootSession(gw, ROOT_PASSWORD);
  });
  afterAll(() => gw?.close());

  const call = async <D extends AnyTypedDocument>(token: string, document: D, variables: VariablesOf<D>): Promise<OnlyField<D>> =>
    only(await gql(gw, document, variables, token));
  const byId = async (token: string, id: string) => ok(await gql(gw, TOKEN_BY_ID, { id }, token)).apiToken;
  const list = async (token: string, variables: VariablesOf<typeof LIST> = {}) => ok(await gql(gw, LIST, variables, token)).apiTokens;
  const canListUsers = async (token: string) => {
    const result = await gql(gw, USERS_COUNT, {}, token);
    if (result.data?.users) return true;
    expect(result.errors?.[0]?.extensions).toMatchObject({ code: 'FORBIDDEN', status: 403 });
    return false;
  };

  describe('createApiToken', () => {
    it('returns the secret once; the token works as a Bearer token, without permissions', async () => {
      const owner = await createSignedInUser(gw, root, { permissions: ['admin'] });
      const name = `  ${uniqueUsername('ci token')}  `;
      const created = member(await call(owner.token, CREATE, { name }), 'CreateApiTokenPayload');
      expect(created.token).toMatch(/^[A-Za-z0-9_-]{34}$/);
      expect(created.apiToken).toMatchObject({ userId: owner.id, name: name.trim(), enabled: true, permissions: [], lastUsedAt: null });
      expect(Date.parse(created.apiToken.createdAt)).not.toBeNaN();
      // The secret is not part of the token's record.
      // Meta-fields are not in the introspection file the document types come from.
      const fields = ok(await gql<{ __type: { fields: { name: string }[] } }>(gw, '{ __type(name: "ApiToken") { fields { name } } }')).__type.fields;
      expect(fields.map((field) => field.name)).toEqual(expect.arrayContaining(['id', 'name', 'enabled', 'permissions']));
      expect(fields.filter((field) => /token|secret|hash/i.test(field.name))).toEqual([]);
      expect(await byId(owner.token, created.apiToken.id)).toMatchObject({ ...created.apiToken, lastUsedAt: null });

      const { viewer } = ok(await gql(gw, VIEWER, {}, created.token));
      expect(viewer).toEqual({ user: { id: owner.id }, credentialKind: 'API_TOKEN', credentialId: created.apiToken.id, permissions: [] });

      expect(await canListUsers(owner.token)).toBe(true);
      expect(await canListUsers(created.token)).toBe(false);
      const granted = await call(owner.token, UPDATE_PERMISSIONS, { id: created.apiToken.id, permissions: grants('admin') });
      expect(granted).toMatchObject({ __typename: 'ApiTokenPayload', apiToken: { permissions: ['admin'] } });
      expect(await canListUsers(created.token)).toBe(true);
    });

    it('refuses an empty or over-long name', async () => {
      const owner = await createSignedInUser(gw, root);
      for (const name of ['', '   ', 'n'.repeat(256)]) {
        expect(await call(owner.token, CREATE, { name })).toMatchObject({
          __typename: 'ValidationError',
          status: 400,
          message: 'Token name must be 1 to 255 characters long',
        });
      }
      expect((await list(owner.token)).totalCount).toBe(0);
      expect(member(await call(owner.token, CREATE, { name: 'n'.repeat(255) }), 'CreateApiTokenPayload').apiToken.name).toHaveLength(255);
    });
  });

  describe('apiTokens and apiToken', () => {
    it("list only the owner's tokens, newest first unless ordered otherwise", async () => {
      const owner = await createSignedInUser(gw, root);
      const stranger = await createSignedInUser(gw, root, { permissions: ['admin'] });
      const mine = [];
      for (const name of ['beta build', 'alpha deploy', 'gamma build']) mine.push(await createApiToken(gw, owner.token, name));
      const theirs = await createApiToken(gw, stranger.token, 'beta build');

      const all = await list(owner.token);
      expect(all.totalCount).toBe(3);
      expect(all.edges.map((edge) => edge.node.name)).toEqual(['gamma build', 'alpha deploy', 'beta build']);
      expect(all.edges.every((edge) => edge.node.userId === owner.id)).toBe(true);
      // Through one of the owner's tokens the list is the same.
      expect((await list(mine[0]!.token)).totalCount).toBe(3);

      const byName = await list(owner.token, { orderBy: [{ field: 'NAME', direction: 'ASC' }] });
      expect(byName.edges.map((edge) => edge.node.name)).toEqual(['alpha deploy', 'beta build', 'gamma build']);
      const byIdDesc = await list(owner.token, { orderBy: [{ field: 'ID', direction: 'DESC' }], first: 2 });
      expect(byIdDesc.edges.map((edge) => edge.node.id)).toEqual([mine[2]!.id, mine[1]!.id]);
      expect(byIdDesc.pageInfo.hasNextPage).toBe(true);
      const next = await list(owner.token, { orderBy: [{ field: 'ID', direction: 'DESC' }], first: 2, after: byIdDesc.pageInfo.endCursor });
      expect(next.edges.map((edge) => edge.node.id)).toEqual([mine[0]!.id]);

      const search = await list(owner.token, { filter: { search: 'BUILD' } });
      expect(search.totalCount).toBe(2);
      expect((await list(owner.token, { filter: { search: '%' } })).totalCount).toBe(0);
      expect((await list(owner.token, { filter: { id: mine[1]!.id } })).edges.map((edge) => edge.node.name)).toEqual(['alpha deploy']);
      expect((await list(owner.token, { filter: { id: theirs.id } })).totalCount).toBe(0);

      const strangers = await list(stranger.token);
      expect(strangers.edges.map((edge) => edge.node.id)).toEqual([theirs.id]);
      expect(await byId(stranger.token, mine[0]!.id)).toBeNull();
      expect(await byId(owner.token, theirs.id)).toBeNull();
      expect(await byId(owner.token, '987654321')).toBeNull();
      expect(await byId(owner.token, 'not-an-id')).toBeNull();
      // Root sees nobody's tokens but its own either.
      expect(await byId(root, mine[0]!.id)).toBeNull();
    });
  });

  describe('setApiTokenEnabled', () => {
    it('disables and re-enables a token; a disabled token is a guest', async () => {
      const owner = await createSignedInUser(gw, root);
      const apiToken = await createApiToken(gw, owner.token);
      const disabled = await call(owner.token, SET_ENABLED, { id: apiToken.id, enabled: false });
      expect(disabled).toMatchObject({ __typename: 'ApiTokenPayload', changed: true, apiToken: { id: apiToken.id, enabled: false } });
      expect(await viewerOf(gw, apiToken.token)).toBeNull();
      expect(await call(owner.token, SET_ENABLED, { id: apiToken.id, enabled: false })).toMatchObject({ changed: false, apiToken: { enabled: false } });
      expect((await list(owner.token)).edges[0]?.node.enabled).toBe(false);

      expect(await call(owner.token, SET_ENABLED, { id: apiToken.id, enabled: true })).toMatchObject({ changed: true, apiToken: { enabled: true } });
      expect(await viewerOf(gw, apiToken.token)).toMatchObject({ id: owner.id });
      expect(await call(owner.token, SET_ENABLED, { id: apiToken.id, enabled: true })).toMatchObject({ changed: false });
    });

    it("answers NotFoundError for another user's token or a missing one", async () => {
      const owner = await createSignedInUser(gw, root);
      const apiToken = await createApiToken(gw, owner.token);
      for (const id of [apiToken.id, '987654321', 'abc']) {
        expect(await call(root, SET_ENABLED, { id, enabled: false })).toEqual(NOT_FOUND);
      }
      expect(await viewerOf(gw, apiToken.token)).toMatchObject({ id: owner.id });
    });
  });

  describe('setApiTokenPermissions and updateApiTokenPermissions', () => {
    it('replace the map, or merge the given names', async () => {
      const owner = await createSignedInUser(gw, root, { permissions: ['admin', 'billing'] });
      const { id, token } = await createApiToken(gw, owner.token);
      expect(await call(owner.token, SET_PERMISSIONS, { id, permissions: grants('admin') })).toMatchObject({
        __typename: 'ApiTokenPayload',
        apiToken: { permissions: ['admin'] },
      });
      expect(member(await call(owner.token, UPDATE_PERMISSIONS, { id, permissions: grants('billing') }), 'ApiTokenPayload').apiToken.permissions).toEqual([
        'admin',
        'billing',
      ]);
      expect(await viewerOf(gw, token)).toMatchObject({ permissions: ['admin', 'billing'] });
      expect(member(await call(owner.token, SET_PERMISSIONS, { id, permissions: grants('billing') }), 'ApiTokenPayload').apiToken.permissions).toEqual(['billing']);
      expect(
        member(
          await call(owner.token, UPDATE_PERMISSIONS, { id, permissions: [{ name: 'billing', enabled: false }, { name: 'admin', enabled: true }] }),
          'ApiTokenPayload',
        ).apiToken.permissions,
      ).toEqual(['admin']);
      expect(member(await call(owner.token, SET_PERMISSIONS, { id, permissions: [] }), 'ApiTokenPayload').apiToken.permissions).toEqual([]);
      expect(await viewerOf(gw, token)).toMatchObject({ permissions: [] });
    });

    it.each([
      ['setApiTokenPermissions', SET_PERMISSIONS],
      ['updateApiTokenPermissions', UPDATE_PERMISSIONS],
    ])('%s refuses names the caller does not hold, and foreign tokens', async (_name, mutation) => {
      const owner = await createSignedInUser(gw, root, { permissions: ['billing'] });
      const { id, token } = await createApiToken(gw, owner.token, 'limited', ['billing']);
      for (const [name, enabled] of [
        ['admin', true],
        ['create_teams', true],
        ['create_teams', false],
        ['x', true],
      ] as const) {
        expect(await call(owner.token, mutation, { id, permissions: [{ name, enabled }] })).toEqual({
          __typename: 'ValidationError',
          code: 'INVALID_INPUT',
          status: 400,
          message: `Token permission "${name}" is not valid`,
        });
      }
      // A token cannot give itself what it lacks, even if its owner holds it.
      const bare = await createApiToken(gw, owner.token);
      expect(await call(bare.token, mutation, { id: bare.id, permissions: grants('billing') })).toMatchObject({
        message: 'Token permission "billing" is not valid',
      });
      expect(await call(root, mutation, { id, permissions: [] })).toEqual(NOT_FOUND);
      expect(await call(owner.token, mutation, { id: '987654321', permissions: [] })).toEqual(NOT_FOUND);
      expect(await viewerOf(gw, token)).toMatchObject({ permissions: ['billing'] });
      expect(await viewerOf(gw, bare.token)).toMatchObject({ permissions: [] });
    });

    it("are limited to the owner's permissions: the effective set is the intersection", async () => {
      const owner = await createSignedInUser(gw, root, { permissions: ['admin', 'billing'] });
      const apiToken = await createApiToken(gw, owner.token, 'both', ['admin', 'billing']);
      expect(await viewerOf(gw, apiToken.token)).toMatchObject({ permissions: ['admin', 'billing'] });
      expect(await canListUsers(apiToken.token)).toBe(true);

      const revoke = await gql(
        gw,
        'mutation($id: ID!) { updateUserPermissions(id: $id, permissions: [{ name: "admin", enabled: false }]) { __typename } }',
        { id: owner.id },
        root,
      );
      expect(ok(revoke)).toEqual({ updateUserPermissions: { __typename: 'UserPayload' } });
      expect(await viewerOf(gw, apiToken.token)).toMatchObject({ permissions: ['billing'] });
      expect(await canListUsers(apiToken.token)).toBe(false);
      expect((await byId(owner.token, apiToken.id))?.permissions).toEqual(['billing']);

      await gql(gw, 'mutation($id: ID!) { updateUserPermissions(id: $id, permissions: [{ name: "admin", enabled: true }]) { __typename } }', { id: owner.id }, root);
      // The token's own map still holds admin, so it is back.
      expect(await viewerOf(gw, apiToken.token)).toMatchObject({ permissions: ['admin', 'billing'] });
    });

    it('report permission states over what the owner holds', async () => {
      const owner = await createSignedInUser(gw, root, { permissions: ['admin', 'billing'] });
      const apiToken = await createApiToken(gw, owner.token, 'states', ['billing']);
      expect((await byId(owner.token, apiToken.id))?.permissionStates).toEqual([
        { name: 'admin', enabled: false },
        { name: 'billing', enabled: true },
      ]);
      const rootToken = await createApiToken(gw, root, 'root states', ['create_teams']);
      expect((await byId(root, rootToken.id))?.permissionStates).toEqual([
        { name: 'admin', enabled: false },
        { name: 'create_teams', enabled: true },
        { name: 'billing', enabled: false },
      ]);
    });
  });

  describe('deleteApiToken', () => {
    it('deletes a token of the caller; the token is then a guest', async () => {
      const owner = await createSignedInUser(gw, root);
      const stranger = await createSignedInUser(gw, root);
      const apiToken = await createApiToken(gw, owner.token, 'doomed');
      const strangers = await createApiToken(gw, stranger.token);

      expect(await call(owner.token, DELETE, { id: strangers.id })).toEqual(NOT_FOUND);
      expect(await viewerOf(gw, strangers.token)).toMatchObject({ id: stranger.id });

      expect(await call(owner.token, DELETE, { id: apiToken.id })).toMatchObject({
        __typename: 'ApiTokenPayload',
        apiToken: { id: apiToken.id, name: 'doomed' },
      });
      expect(await viewerOf(gw, apiToken.token)).toBeNull();
      expect(await byId(owner.token, apiToken.id)).toBeNull();
      expect(await call(owner.token, DELETE, { id: apiToken.id })).toEqual(NOT_FOUND);
      expect(await call(owner.token, DELETE, { id: '-1' })).toEqual(NOT_FOUND);

      // A token may delete itself.
      const self = await createApiToken(gw, owner.token);
      expect((await call(self.token, DELETE, { id: self.id })).__typename).toBe('ApiTokenPayload');
      expect(await viewerOf(gw, self.token)).toBeNull();
    });
  });
});
