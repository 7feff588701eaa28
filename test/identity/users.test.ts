import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { users as usersTable } from '../../src/db/schema.ts';
import { MODES, ROOT_PASSWORD, startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import {
  createApiToken,
  createSignedInUser,
  createUser,
  ErrorFields,
  gql,
  member,
  ok,
  only,
  rootSession,
  signIn,
  uniqueUsername,
  viewerOf,
  type OnlyField,
} from '../helpers/graphql.ts';
import { graphql, type AnyTypedDocument, type ResultOf, type VariablesOf } from '../../src/rpc-facade/graphql.ts';

const User = graphql(`
  fragment User on User @_unmask { id name email emailConfirmed telegramName enabled permissions }
`);
const CREATE_USER = graphql(
  `
    mutation CreateUser($input: CreateUserInput!) {
      createUser(input: $input) {
        __typename
        ... on UserWithPasswordPayload { password user { ...User } }
        ...ErrorFields
        ... on ValidationError { field }
      }
    }
  `,
  [User, ErrorFields],
);
const DELETE_USER = graphql(
  `mutation DeleteUser($id: ID!) { deleteUser(id: $id) { __typename ... on UserPayload { user { id name } } ...ErrorFields } }`,
  [ErrorFields],
);
const SET_ENABLED = graphql(
  `
    mutation SetEnabled($id: ID!, $enabled: Boolean!) {
      setUserEnabled(id: $id, enabled: $enabled) { __typename ... on SetUserEnabledPayload { changed user { ...User } } ...ErrorFields }
    }
  `,
  [User, ErrorFields],
);
const SET_PASSWORD = graphql(
  `
    mutation SetPassword($id: ID!, $password: String) {
      setUserPassword(id: $id, password: $password) { __typename ... on UserWithPasswordPayload { password user { id } } ...ErrorFields }
    }
  `,
  [ErrorFields],
);
const SET_PERMISSIONS = graphql(
  `
    mutation SetPermissions($id: ID!, $permissions: [PermissionInput!]!) {
      setUserPermissions(id: $id, permissions: $permissions) { __typename ... on UserPayload { user { ...User } } ...ErrorFields }
    }
  `,
  [User, ErrorFields],
);
const UPDATE_PERMISSIONS = graphql(
  `
    mutation UpdatePermissions($id: ID!, $permissions: [PermissionInput!]!) {
      updateUserPermissions(id: $id, permissions: $permissions) { __typename ... on UserPayload { user { ...User } } ...ErrorFields }
    }
  `,
  [User, ErrorFields],
);
const RENAME_USER = graphql(
  `
    mutation RenameUser($id: ID!, $username: String!, $password: String) {
      renameUser(id: $id, username: $username, password: $password) {
        __typename ... on UserWithPasswordPayload { password user { ...User } } ...ErrorFields
      }
    }
  `,
  [User, ErrorFields],
);
const DELETE_SESSIONS = graphql(
  `mutation DeleteSessions($id: ID!) { deleteUserSessions(id: $id) { __typename ... on DeleteSessionsPayload { deletedCount } ...ErrorFields } }`,
  [ErrorFields],
);
const USER_BY_ID = graphql(`query UserById($id: ID!) { user(id: $id) { ...User } }`, [User]);
const SIGN_IN = graphql(`mutation SignIn($u: String!, $p: String!) { signIn(input: { username: $u, password: $p }) { __typename } }`);
const USERS_COUNT = graphql(`query UsersCount { users { totalCount } }`);
const SUGGEST = graphql(`query Suggest($search: String, $first: Int) { suggestUsers(search: $search, first: $first) { id name } }`);

const grants = (...names: string[]) => names.map((name) => ({ name, enabled: true }));

describe.each(MODES)('user administration through GraphQL (%s)', (mode) => {
  let gw: TestGateway;
  let root: string;
  /** A non-root admin holding `admin` and `create_teams`, but not `billing`. */
  let admin: { id: string; name: string; token: string };

  beforeAll(async () => {
    gw = await startTestGateway(mode, { env: { PERMISSIONS: 'create_teams,billing' } });
    root = await rootSession(gw, ROOT_PASSWORD);
    admin = await createSignedInUser(gw, root, { permissions: ['admin', 'create_teams'] });
  });
  afterAll(() => gw?.close());

  const call = async <D extends AnyTypedDocument>(token: string, document: D, variables: VariablesOf<D>): Promise<OnlyField<D>> =>
    only(await gql(gw, document, variables, token));
  const createAs = (token: string, input: VariablesOf<typeof CREATE_USER>['input']) => call(token, CREATE_USER, { input });
  /** A user `createAs` must have created. */
  const createdAs = async (token: string, input: VariablesOf<typeof CREATE_USER>['input']) => member(await createAs(token, input), 'UserWithPasswordPayload');
  const userById = async (id: string) => ok(await gql(gw, USER_BY_ID, { id }, root)).user;
  const canSignIn = async (username: string, password: string) =>
    ok(await gql(gw, SIGN_IN, { u: username, p: password })).signIn.__typename === 'SignInPayload';

  describe('createUser', () => {
    it('generates a password when none is given, returns it, and it signs in', async () => {
      const username = uniqueUsername('gen');
      const created = await createdAs(root, { username });
      expect(created.password).toMatch(/^[A-Za-z0-9_-]{16}$/);
      expect(created.user).toMatchObject({ name: username, email: null, enabled: true, permissions: [], emailConfirmed: false });
      expect(created.user.id).toMatch(/^\d+$/);
      expect(Number(created.user.id)).toBeGreaterThanOrEqual(100);
      const session = await signIn(gw, username, created.password);
      expect(session.userId).toBe(created.user.id);
      expect(await userById(created.user.id)).toEqual(created.user);
    });

    it('uses a given password', async () => {
      const username = uniqueUsername('given');
      const created = await createdAs(admin.token, { username, password: 'exactly8' });
      expect(created.password).toBe('exactly8');
      expect(await canSignIn(username, 'exactly8')).toBe(true);
      expect(await canSignIn(username, 'exactly9')).toBe(false);
    });

    it('takes an e-mail-shaped username as the e-mail unless one is given', async () => {
      const shaped = `${uniqueUsername('mail')}@example.com`;
      expect((await createdAs(root, { username: shaped })).user.email).toBe(shaped);
      const other = `${uniqueUsername('mail')}@example.com`;
      const explicit = await createdAs(root, { username: uniqueUsername('plain'), email: other.toUpperCase() });
      expect(explicit.user.email).toBe(other);
      expect(explicit.user.emailConfirmed).toBe(false);
    });

    it('grants the given permissions and can create a disabled user', async () => {
      const created = await createdAs(root, { username: uniqueUsername('perm'), permissions: grants('billing', 'admin') });
      expect(created.user.permissions).toEqual(['admin', 'billing']);
      const session = await signIn(gw, created.user.name, created.password);
      expect(session.permissions).toEqual(['admin', 'billing']);

      const disabled = await createdAs(root, { username: uniqueUsername('off'), enabled: false });
      expect(disabled.user.enabled).toBe(false);
      expect(await canSignIn(disabled.user.name, disabled.password)).toBe(false);
    });

    it('answers 409 ConflictError for a taken name, e-mail or Telegram username', async () => {
      const emailName = `${uniqueUsername('taken')}@example.com`;
      const telegram = `tg_${randomBytes(6).toString('hex')}`;
      const first = await createAs(root, { username: emailName, telegramName: telegram });
      expect(first.__typename).toBe('UserWithPasswordPayload');
      const conflict = { __typename: 'ConflictError', code: 'CONFLICT', status: 409, message: 'User already exists' };

      expect(await createAs(root, { username: emailName })).toMatchObject(conflict);
      expect(await createAs(root, { username: emailName.toUpperCase() })).toMatchObject(conflict);
      // An e-mail equal to another user's name (or e-mail), and a name equal to another user's e-mail.
      const plain = uniqueUsername('plain');
      await createUser(gw, root, { username: plain, email: `${plain}@mail.example.com` });
      expect(await createAs(root, { username: uniqueUsername('x'), email: emailName })).toMatchObject(conflict);
      expect(await createAs(root, { username: uniqueUsername('x'), email: `${plain}@mail.example.com` })).toMatchObject(conflict);
      expect(await createAs(root, { username: `${plain}@mail.example.com` })).toMatchObject(conflict);
      expect(await createAs(root, { username: uniqueUsername('x'), telegramName: telegram.toUpperCase() })).toMatchObject(conflict);
    });

    it.each([
      ['too short', 'ab'],
      ['too long', `a${'b'.repeat(64)}`],
      ['all digits', '1234567'],
      ['a space', 'has space'],
      ['a "!"', 'bang!name'],
      ['a non-ASCII letter', 'naïve_user'],
      ['a slash', 'a/b/c'],
      ['empty', ''],
    ])('refuses a username that is %s with ValidationError', async (_what, username) => {
      const before = await usersCount();
      const result = await createAs(root, { username });
      expect(result).toMatchObject({ __typename: 'ValidationError', code: 'INVALID_INPUT', status: 400, field: 'username' });
      expect(member(result, 'ValidationError').message).toMatch(/^Username is invalid/);
      expect(await usersCount()).toBe(before);
    });

    it('accepts 3 and 64 characters, and stores an upper-case username in lower case', async () => {
      const suffix = randomBytes(4).toString('hex');
      const mixed = await createdAs(root, { username: `MiXeD.${suffix}+Tag-X_1@Example.COM` });
      expect(mixed.user.name).toBe(`mixed.${suffix}+tag-x_1@example.com`);
      expect(await canSignIn(`MIXED.${suffix}+TAG-X_1@example.com`, mixed.password)).toBe(true);
      const long = `l${suffix}${'x'.repeat(64 - 1 - suffix.length)}`;
      expect((await createdAs(root, { username: long })).user.name).toBe(long);
      expect((await createdAs(root, { username: 'x_y' })).user.name).toBe('x_y');
    });

    it.each([
      ['too short', 'seven77'],
      ['too long', 'p'.repeat(1025)],
    ])('refuses a password that is %s', async (_what, password) => {
      const username = uniqueUsername('pw');
      const result = await createAs(root, { username, password });
      expect(result).toMatchObject({
        __typename: 'ValidationError',
        status: 400,
        field: 'password',
        message: 'Password must be 8 to 1024 characters long',
      });
      expect(await userById(username)).toBeNull();
      const longest = await createAs(root, { username, password: 'p'.repeat(1024) });
      expect(longest.__typename).toBe('UserWithPasswordPayload');
    });

    it('refuses a bad e-mail and a bad Telegram username', async () => {
      const username = uniqueUsername('bad');
      for (const email of ['not-an-email', 'a@b', 'two@@example.com', 'sp ace@example.com']) {
        expect(await createAs(root, { username, email })).toMatchObject({
          __typename: 'ValidationError',
          message: 'Email is invalid',
          field: 'email',
        });
      }
      expect(await createAs(root, { username, telegramName: 'abc' })).toMatchObject({
        __typename: 'ValidationError',
        message: 'Telegram username is invalid',
      });
      expect(await userById(username)).toBeNull();
    });

    it('refuses undeclared permissions, and permissions a non-root admin lacks', async () => {
      const username = uniqueUsername('perm');
      expect(await createAs(root, { username, permissions: grants('x') })).toMatchObject({
        __typename: 'ValidationError',
        status: 400,
        message: 'Permissions: "x" are invalid',
      });
      expect(await createAs(root, { username, permissions: grants('admin', 'x', 'y') })).toMatchObject({
        message: 'Permissions: "x", "y" are invalid',
      });
      expect(await createAs(admin.token, { username, permissions: grants('billing') })).toMatchObject({
        __typename: 'ValidationError',
        message: 'Permissions are invalid',
      });
      // Even switching off a permission the admin lacks is beyond it.
      expect(await createAs(admin.token, { username, permissions: [{ name: 'billing', enabled: false }] })).toMatchObject({
        message: 'Permissions are invalid',
      });
      expect(await userById(username)).toBeNull();
      const held = await createdAs(admin.token, { username, permissions: grants('create_teams') });
      expect(held.user.permissions).toEqual(['create_teams']);
    });
  });

  async function usersCount(): Promise<number> {
    return ok(await gql(gw, USERS_COUNT, {}, root)).users.totalCount;
  }

  describe('users connection', () => {
    const LIST = graphql(
      `
        query List($first: Int, $after: String, $offset: Int, $filter: UserFilter, $orderBy: [UserOrder!]) {
          users(first: $first, after: $after, offset: $offset, filter: $filter, orderBy: $orderBy) {
            totalCount
            edges { cursor node { ...User createdAt } }
            pageInfo { hasNextPage hasPreviousPage endCursor }
          }
        }
      `,
      [User],
    );
    type Page = ResultOf<typeof LIST>['users'];
    const list = async (variables: VariablesOf<typeof LIST>) => ok(await gql(gw, LIST, variables, root)).users;
    const names = (page: Page) => page.edges.map((edge) => edge.node.name);

    it('pages with first, after and offset, and reports the total', async () => {
      const tag = `pg${randomBytes(4).toString('hex')}`;
      const created: string[] = [];
      for (let i = 0; i < 5; i++) created.push((await createUser(gw, root, { username: `${tag}_${i}` })).name);
      const filter = { search: tag };

      const first = await list({ filter, first: 2 });
      expect(first.totalCount).toBe(5);
      expect(names(first)).toEqual(created.slice(0, 2));
      expect(first.pageInfo).toMatchObject({ hasNextPage: true, hasPreviousPage: false });

      const second = await list({ filter, first: 2, after: first.pageInfo.endCursor });
      expect(names(second)).toEqual(created.slice(2, 4));
      expect(second.pageInfo).toMatchObject({ hasNextPage: true, hasPreviousPage: true });

      const last = await list({ filter, first: 2, after: second.pageInfo.endCursor });
      expect(names(last)).toEqual(created.slice(4));
      expect(last.pageInfo.hasNextPage).toBe(false);

      expect(names(await list({ filter, first: 2, offset: 3 }))).toEqual(created.slice(3, 5));
      expect(names(await list({ filter, first: 1, after: first.pageInfo.endCursor, offset: 1 }))).toEqual([created[3]]);
      const beyond = await list({ filter, offset: 10 });
      expect(beyond).toMatchObject({ totalCount: 5, edges: [] });
      const empty = await list({ filter: { search: `${tag}_none` } });
      expect(empty).toMatchObject({ totalCount: 0, edges: [] });
    });

    it('clamps first above 100 to 100', async () => {
      const tag = `bulk${randomBytes(4).toString('hex')}`;
      await gw.gateway.database.db
        .insert(usersTable)
        .values(Array.from({ length: 105 }, (_, i) => ({ name: `${tag}_${String(i).padStart(3, '0')}` })));
      const page = await list({ filter: { search: tag }, first: 500 });
      expect(page.totalCount).toBe(105);
      expect(page.edges).toHaveLength(100);
      expect(page.pageInfo.hasNextPage).toBe(true);
      const rest = await list({ filter: { search: tag }, first: 500, after: page.pageInfo.endCursor });
      expect(names(rest)).toEqual([`${tag}_100`, `${tag}_101`, `${tag}_102`, `${tag}_103`, `${tag}_104`]);
    });

    it('searches name, e-mail and Telegram username case-insensitively, with % and _ taken literally', async () => {
      const tag = randomBytes(4).toString('hex');
      const underscore = await createUser(gw, root, { username: `s${tag}_x` });
      await createUser(gw, root, { username: `s${tag}ax` });
      const percent = await createUser(gw, root, { username: uniqueUsername('p'), email: `q${tag}%z@example.com` });
      await createUser(gw, root, { username: uniqueUsername('p'), email: `q${tag}zzz@example.com` });
      const telegram = await createUser(gw, root, { username: uniqueUsername('t'), telegramName: `tele_${tag}` });

      expect(names(await list({ filter: { search: `S${tag.toUpperCase()}_X` } }))).toEqual([underscore.name]);
      expect(names(await list({ filter: { search: `${tag}_` } }))).toEqual([underscore.name]);
      expect(names(await list({ filter: { search: `q${tag}%` } }))).toEqual([percent.name]);
      expect(names(await list({ filter: { search: `Q${tag}%Z@EXAMPLE` } }))).toEqual([percent.name]);
      expect(names(await list({ filter: { search: `LE_${tag}` } }))).toEqual([telegram.name]);
      expect((await list({ filter: { search: tag } })).totalCount).toBe(5);
      expect((await list({ filter: { search: `${tag}\\` } })).totalCount).toBe(0);
    });

    it('filters by id, and never lists root', async () => {
      const user = await createUser(gw, root);
      const byId = await list({ filter: { id: user.id } });
      expect(byId.totalCount).toBe(1);
      expect(names(byId)).toEqual([user.name]);
      expect(await list({ filter: { id: '1' } })).toMatchObject({ totalCount: 0, edges: [] });
      expect(await list({ filter: { id: user.name } })).toMatchObject({ totalCount: 0, edges: [] });
      expect(await list({ filter: { id: '999999999' } })).toMatchObject({ totalCount: 0, edges: [] });
      expect(names(await list({ filter: { search: 'root' } }))).not.toContain('root');
      const all = await list({ first: 100 });
      expect(all.edges.map((edge) => edge.node.id)).not.toContain('1');
      expect(all.totalCount).toBe(await usersCount());
    });

    it('orders by each field in both directions, by name ascending by default', async () => {
      const tag = `ord${randomBytes(4).toString('hex')}`;
      // Created in this order, so ids and creation times rise from c to a.
      const c = await createUser(gw, root, { username: `${tag}_c` });
      const a = await createUser(gw, root, { username: `${tag}_a`, enabled: false });
      const b = await createUser(gw, root, { username: `${tag}_b` });
      const filter = { search: tag };
      type Order = NonNullable<VariablesOf<typeof LIST>['orderBy']>[number];
      const ordered = async (field?: Order['field'], direction?: Order['direction']) =>
        names(await list({ filter, orderBy: field ? [{ field, ...(direction ? { direction } : {}) }] : null }));

      expect(await ordered()).toEqual([a.name, b.name, c.name]);
      expect(await ordered('NAME')).toEqual([a.name, b.name, c.name]);
      expect(await ordered('NAME', 'DESC')).toEqual([c.name, b.name, a.name]);
      expect(await ordered('ID', 'ASC')).toEqual([c.name, a.name, b.name]);
      expect(await ordered('ID', 'DESC')).toEqual([b.name, a.name, c.name]);
      expect(await ordered('CREATED_AT', 'ASC')).toEqual([c.name, a.name, b.name]);
      expect(await ordered('CREATED_AT', 'DESC')).toEqual([b.name, a.name, c.name]);
      // Ties are broken by id.
      expect(await ordered('ENABLED', 'ASC')).toEqual([a.name, c.name, b.name]);
      expect(await ordered('ENABLED', 'DESC')).toEqual([c.name, b.name, a.name]);
      const mixed = await list({ filter, orderBy: [{ field: 'ENABLED', direction: 'DESC' }, { field: 'NAME', direction: 'DESC' }] });
      expect(names(mixed)).toEqual([c.name, b.name, a.name]);
    });
  });

  describe('user and suggestUsers', () => {
    it('finds a user by id or by name (any case), root included, and null when missing', async () => {
      const user = await createUser(gw, root);
      expect((await userById(user.id))?.name).toBe(user.name);
      expect((await userById(user.name))?.id).toBe(user.id);
      expect((await userById(user.name.toUpperCase()))?.id).toBe(user.id);
      expect(await userById('1')).toMatchObject({ id: '1', name: 'root', permissions: ['admin', 'create_teams', 'billing'] });
      expect((await userById('root'))?.id).toBe('1');
      expect(await userById('987654321')).toBeNull();
      expect(await userById(uniqueUsername('missing'))).toBeNull();
    });

    it('suggests users by name, e-mail or Telegram username, ordered by name, root included', async () => {
      const tag = `sg${randomBytes(4).toString('hex')}`;
      const zed = await createUser(gw, root, { username: `zed_${tag}` });
      const amy = await createUser(gw, root, { username: `amy_${tag}` });
      const mail = await createUser(gw, root, { username: uniqueUsername('m'), email: `mid_${tag}@example.com` });
      const suggest = async (search: string | null, first?: number) =>
        ok(await gql(gw, SUGGEST, { search, ...(first === undefined ? {} : { first }) }, root)).suggestUsers.map((user) => user.name);
      expect(await suggest(tag.toUpperCase())).toEqual([amy.name, mail.name, zed.name].sort());
      expect(await suggest(tag, 2)).toEqual([amy.name, mail.name, zed.name].sort().slice(0, 2));
      expect(await suggest('ROO')).toContain('root');
      const everyone = await suggest(null);
      expect(everyone).toEqual([...everyone].sort());
      expect(everyone.length).toBeLessThanOrEqual(100);
    });
  });

  describe('deleteUser', () => {
    it("deletes the user with its sessions and API tokens, by id or by name", async () => {
      const victim = await createSignedInUser(gw, root);
      const apiToken = await createApiToken(gw, victim.token);
      expect(await viewerOf(gw, victim.token)).not.toBeNull();
      expect(await viewerOf(gw, apiToken.token)).not.toBeNull();

      const deleted = await call(admin.token, DELETE_USER, { id: victim.id });
      expect(deleted).toMatchObject({ __typename: 'UserPayload', user: { id: victim.id, name: victim.name } });
      expect(await viewerOf(gw, victim.token)).toBeNull();
      expect(await viewerOf(gw, apiToken.token)).toBeNull();
      expect(await userById(victim.id)).toBeNull();
      expect(await call(admin.token, DELETE_USER, { id: victim.id })).toMatchObject({
        __typename: 'NotFoundError',
        code: 'NOT_FOUND',
        status: 404,
        message: 'User not found',
      });

      const byName = await createUser(gw, root);
      expect(await call(root, DELETE_USER, { id: byName.name.toUpperCase() })).toMatchObject({ user: { id: byName.id } });
      expect(await call(root, DELETE_USER, { id: uniqueUsername('nobody') })).toMatchObject({ message: 'User not found' });
    });

    it('refuses to delete yourself or root', async () => {
      const notAllowed = { __typename: 'NotAllowedError', status: 400 };
      expect(await call(admin.token, DELETE_USER, { id: admin.id })).toMatchObject({ ...notAllowed, message: "You can't remove yourself" });
      expect(await call(admin.token, DELETE_USER, { id: admin.name })).toMatchObject({ message: "You can't remove yourself" });
      expect(await call(admin.token, DELETE_USER, { id: '1' })).toMatchObject({ ...notAllowed, message: 'Unable to remove root user' });
      expect(await call(admin.token, DELETE_USER, { id: 'root' })).toMatchObject({ message: 'Unable to remove root user' });
      expect(await call(root, DELETE_USER, { id: '1' })).toMatchObject({ ...notAllowed, message: "You can't remove yourself" });
      expect(await userById('1')).not.toBeNull();
      expect(await viewerOf(gw, admin.token)).toMatchObject({ id: admin.id });
    });
  });

  describe('setUserEnabled', () => {
    it("disables (ending sessions, suspending API tokens) and re-enables a user", async () => {
      const user = await createSignedInUser(gw, root);
      const apiToken = await createApiToken(gw, user.token);

      const disabled = await call(admin.token, SET_ENABLED, { id: user.id, enabled: false });
      expect(disabled).toMatchObject({ __typename: 'SetUserEnabledPayload', changed: true, user: { id: user.id, enabled: false } });
      expect(await call(admin.token, SET_ENABLED, { id: user.name, enabled: false })).toMatchObject({ changed: false, user: { enabled: false } });
      expect(await viewerOf(gw, user.token)).toBeNull();
      expect(await viewerOf(gw, apiToken.token)).toBeNull();
      expect(await canSignIn(user.name, user.password)).toBe(false);

      const enabled = await call(admin.token, SET_ENABLED, { id: user.id, enabled: true });
      expect(enabled).toMatchObject({ changed: true, user: { enabled: true } });
      expect(await call(admin.token, SET_ENABLED, { id: user.id, enabled: true })).toMatchObject({ changed: false });
      expect(await viewerOf(gw, apiToken.token)).toMatchObject({ id: user.id });
      // The sessions ended for good.
      expect(await viewerOf(gw, user.token)).toBeNull();
      expect(await canSignIn(user.name, user.password)).toBe(true);
    });

    it('refuses yourself, root and unknown users', async () => {
      expect(await call(admin.token, SET_ENABLED, { id: admin.id, enabled: false })).toMatchObject({
        __typename: 'NotAllowedError',
        status: 400,
        message: "You can't change own enabled status",
      });
      expect(await call(admin.token, SET_ENABLED, { id: '1', enabled: false })).toMatchObject({
        __typename: 'NotAllowedError',
        message: 'Unable to modify root user',
      });
      expect(await call(root, SET_ENABLED, { id: 'root', enabled: false })).toMatchObject({
        message: "You can't change own enabled status",
      });
      expect(await call(admin.token, SET_ENABLED, { id: '876543210', enabled: false })).toMatchObject({
        __typename: 'NotFoundError',
        message: 'User not found',
      });
      expect(await viewerOf(gw, admin.token)).not.toBeNull();
      expect(await viewerOf(gw, root)).not.toBeNull();
    });
  });

  describe('setUserPassword', () => {
    it("sets a given or generated password and ends the target's sessions", async () => {
      const user = await createSignedInUser(gw, root);
      const second = await signIn(gw, user.name, user.password);

      const generated = member(await call(admin.token, SET_PASSWORD, { id: user.id }), 'UserWithPasswordPayload');
      expect(generated).toMatchObject({ user: { id: user.id } });
      expect(generated.password).toMatch(/^[A-Za-z0-9_-]{16}$/);
      expect(generated.password).not.toBe(user.password);
      expect(await viewerOf(gw, user.token)).toBeNull();
      expect(await viewerOf(gw, second.token)).toBeNull();
      expect(await canSignIn(user.name, user.password)).toBe(false);
      expect(await canSignIn(user.name, generated.password)).toBe(true);

      const given = member(await call(admin.token, SET_PASSWORD, { id: user.name, password: 'a given password' }), 'UserWithPasswordPayload');
      expect(given.password).toBe('a given password');
      expect(await canSignIn(user.name, 'a given password')).toBe(true);

      expect(await call(admin.token, SET_PASSWORD, { id: user.id, password: 'short' })).toMatchObject({
        __typename: 'ValidationError',
        message: 'Password must be 8 to 1024 characters long',
      });
      expect(await canSignIn(user.name, 'a given password')).toBe(true);
      expect(await call(admin.token, SET_PASSWORD, { id: '876543210' })).toMatchObject({ __typename: 'NotFoundError', message: 'User not found' });
    });

    it("keeps the caller's own session when the target is the caller", async () => {
      const self = await createSignedInUser(gw, root, { permissions: ['admin'] });
      const other = await signIn(gw, self.name, self.password);
      const changed = await call(self.token, SET_PASSWORD, { id: self.id, password: 'my new password' });
      expect(changed.__typename).toBe('UserWithPasswordPayload');
      expect(await viewerOf(gw, self.token)).toMatchObject({ id: self.id });
      expect(await viewerOf(gw, other.token)).toBeNull();
    });

    it("lets only root change root's password", async () => {
      expect(await call(admin.token, SET_PASSWORD, { id: '1', password: 'hijacked password' })).toMatchObject({
        __typename: 'NotAllowedError',
        status: 400,
        message: "You can't change root user password",
      });
      expect(await canSignIn('root', 'hijacked password')).toBe(false);

      const otherRoot = await signIn(gw, 'root', ROOT_PASSWORD);
      try {
        const changed = await call(root, SET_PASSWORD, { id: 'root', password: 'temporary root password' });
        expect(changed).toMatchObject({ __typename: 'UserWithPasswordPayload', password: 'temporary root password' });
        expect(await canSignIn('root', 'temporary root password')).toBe(true);
        expect(await canSignIn('root', ROOT_PASSWORD)).toBe(false);
        expect(await viewerOf(gw, root)).toMatchObject({ id: '1' });
        expect(await viewerOf(gw, otherRoot.token)).toBeNull();
      } finally {
        await call(root, SET_PASSWORD, { id: '1', password: ROOT_PASSWORD });
      }
      expect(await canSignIn('root', ROOT_PASSWORD)).toBe(true);
    });
  });

  describe('setUserPermissions and updateUserPermissions', () => {
    it('replaces the whole map, or merges the given names', async () => {
      const user = await createSignedInUser(gw, root, { permissions: ['create_teams', 'billing'] });
      const replaced = await call(root, SET_PERMISSIONS, { id: user.id, permissions: grants('admin') });
      expect(replaced).toMatchObject({ __typename: 'UserPayload', user: { permissions: ['admin'] } });
      expect(await viewerOf(gw, user.token)).toMatchObject({ permissions: ['admin'] });

      const merged = member(await call(root, UPDATE_PERMISSIONS, { id: user.name, permissions: grants('billing') }), 'UserPayload');
      expect(merged.user.permissions).toEqual(['admin', 'billing']);
      const switchedOff = member(await call(root, UPDATE_PERMISSIONS, { id: user.id, permissions: [{ name: 'admin', enabled: false }] }), 'UserPayload');
      expect(switchedOff.user.permissions).toEqual(['billing']);
      expect(await viewerOf(gw, user.token)).toMatchObject({ permissions: ['billing'] });

      const cleared = member(await call(root, SET_PERMISSIONS, { id: user.id, permissions: [] }), 'UserPayload');
      expect(cleared.user.permissions).toEqual([]);
    });

    it.each([
      ['setUserPermissions', SET_PERMISSIONS],
      ['updateUserPermissions', UPDATE_PERMISSIONS],
    ])('%s refuses yourself, root, undeclared names and unknown users', async (_name, mutation) => {
      const target = await createUser(gw, root);
      expect(await call(admin.token, mutation, { id: admin.id, permissions: grants('create_teams') })).toMatchObject({
        __typename: 'NotAllowedError',
        message: 'You are unable to change own permissions',
      });
      expect(await call(admin.token, mutation, { id: '1', permissions: [] })).toMatchObject({
        __typename: 'NotAllowedError',
        message: 'You are unable to change root user permissions',
      });
      expect(await call(root, mutation, { id: 'root', permissions: [] })).toMatchObject({
        message: 'You are unable to change own permissions',
      });
      expect(await call(root, mutation, { id: target.id, permissions: grants('nope') })).toMatchObject({
        __typename: 'ValidationError',
        message: 'Permissions: "nope" are invalid',
      });
      expect(await call(root, mutation, { id: '876543210', permissions: [] })).toMatchObject({
        __typename: 'NotFoundError',
        message: 'User not found',
      });
      expect((await userById(target.id))?.permissions).toEqual([]);
    });

    it('keeps a non-root admin within the permissions it holds', async () => {
      const target = await createUser(gw, root, { permissions: ['billing', 'create_teams'] });
      for (const mutation of [SET_PERMISSIONS, UPDATE_PERMISSIONS]) {
        expect(await call(admin.token, mutation, { id: target.id, permissions: grants('billing') })).toMatchObject({
          __typename: 'ValidationError',
          message: 'Permissions are invalid',
        });
        expect(await call(admin.token, mutation, { id: target.id, permissions: [{ name: 'billing', enabled: false }] })).toMatchObject({
          message: 'Permissions are invalid',
        });
      }
      expect((await userById(target.id))?.permissions).toEqual(['create_teams', 'billing']);

      // A replace by this admin drops create_teams (its to give) and keeps billing (beyond it).
      const replaced = member(await call(admin.token, SET_PERMISSIONS, { id: target.id, permissions: grants('admin') }), 'UserPayload');
      expect(replaced.user.permissions).toEqual(['admin', 'billing']);
      const merged = member(await call(admin.token, UPDATE_PERMISSIONS, { id: target.id, permissions: grants('create_teams') }), 'UserPayload');
      expect(merged.user.permissions).toEqual(['admin', 'create_teams', 'billing']);
    });

    it('reports permission states relative to the viewer', async () => {
      const target = await createUser(gw, root, { permissions: ['billing'] });
      const STATES = graphql(`query States($id: ID!) { user(id: $id) { permissionStates { name description enabled } } }`);
      const statesOf = async (id: string, token: string) => ok(await gql(gw, STATES, { id }, token)).user?.permissionStates ?? [];
      const asRoot = await statesOf(target.id, root);
      expect(asRoot.map(({ name, enabled }) => ({ name, enabled }))).toEqual([
        { name: 'admin', enabled: false },
        { name: 'create_teams', enabled: false },
        { name: 'billing', enabled: true },
      ]);
      expect(asRoot.every((state) => state.description.length > 0)).toBe(true);
      const asAdmin = await statesOf(target.id, admin.token);
      expect(asAdmin.map(({ name, enabled }) => ({ name, enabled }))).toEqual([
        { name: 'admin', enabled: false },
        { name: 'create_teams', enabled: false },
      ]);
      const ofAdmin = await statesOf(admin.id, root);
      expect(ofAdmin.filter((state) => state.enabled).map((state) => state.name)).toEqual(['admin', 'create_teams']);
    });
  });

  describe('renameUser', () => {
    it('renames with a generated or given password; the old name and sessions stop working', async () => {
      const user = await createSignedInUser(gw, root);
      const newName = uniqueUsername('renamed').toUpperCase();
      const renamed = member(await call(admin.token, RENAME_USER, { id: user.id, username: newName }), 'UserWithPasswordPayload');
      expect(renamed).toMatchObject({ user: { id: user.id, name: newName.toLowerCase() } });
      expect(renamed.password).toMatch(/^[A-Za-z0-9_-]{16}$/);
      expect(await canSignIn(newName.toLowerCase(), renamed.password)).toBe(true);
      expect(await canSignIn(user.name, user.password)).toBe(false);
      expect(await canSignIn(user.name, renamed.password)).toBe(false);
      expect(await viewerOf(gw, user.token)).toBeNull();
      expect(await userById(user.name)).toBeNull();

      const again = uniqueUsername('again');
      const withPassword = await call(admin.token, RENAME_USER, { id: newName, username: again, password: 'chosen password' });
      expect(withPassword).toMatchObject({ password: 'chosen password', user: { name: again } });
      expect(await canSignIn(again, 'chosen password')).toBe(true);
    });

    it('refuses root, a taken name, an invalid name or password, and unknown users', async () => {
      const user = await createUser(gw, root);
      const other = await createUser(gw, root, { username: `${uniqueUsername('o')}@example.com` });
      expect(await call(root, RENAME_USER, { id: '1', username: uniqueUsername('newroot') })).toMatchObject({
        __typename: 'NotAllowedError',
        message: 'Impossible to change root username',
      });
      expect(await call(admin.token, RENAME_USER, { id: user.id, username: other.name })).toMatchObject({
        __typename: 'ConflictError',
        status: 409,
        message: 'User already exists',
      });
      expect(await call(admin.token, RENAME_USER, { id: user.id, username: 'root' })).toMatchObject({ __typename: 'ConflictError' });
      const digits = await call(admin.token, RENAME_USER, { id: user.id, username: '12345' });
      expect(digits).toMatchObject({ __typename: 'ValidationError', status: 400 });
      expect(member(digits, 'ValidationError').message).toMatch(/^Username is invalid/);
      expect(await call(admin.token, RENAME_USER, { id: user.id, username: uniqueUsername('x'), password: 'short' })).toMatchObject({
        __typename: 'ValidationError',
        message: 'Password must be 8 to 1024 characters long',
      });
      expect(await call(admin.token, RENAME_USER, { id: '876543210', username: uniqueUsername('x') })).toMatchObject({
        __typename: 'NotFoundError',
      });
      expect(await userById(user.id)).toMatchObject({ name: user.name });
      expect(await canSignIn(user.name, user.password)).toBe(true);
      expect(await canSignIn('root', ROOT_PASSWORD)).toBe(true);
    });
  });

  describe('deleteUserSessions', () => {
    it("ends every session of a user and says how many", async () => {
      const user = await createSignedInUser(gw, root);
      const more = [await signIn(gw, user.name, user.password), await signIn(gw, user.name, user.password)];
      const apiToken = await createApiToken(gw, user.token);
      expect(await call(admin.token, DELETE_SESSIONS, { id: user.id })).toMatchObject({ __typename: 'DeleteSessionsPayload', deletedCount: 3 });
      for (const token of [user.token, ...more.map((session) => session.token)]) expect(await viewerOf(gw, token)).toBeNull();
      expect(await viewerOf(gw, apiToken.token)).toMatchObject({ id: user.id });
      expect(await call(admin.token, DELETE_SESSIONS, { id: user.name })).toMatchObject({ deletedCount: 0 });
      expect(await call(admin.token, DELETE_SESSIONS, { id: '876543210' })).toMatchObject({ __typename: 'NotFoundError', message: 'User not found' });
    });

    it("spares the caller's own session when it targets itself", async () => {
      const self = await createSignedInUser(gw, root, { permissions: ['admin'] });
      const other = await signIn(gw, self.name, self.password);
      expect(await call(self.token, DELETE_SESSIONS, { id: self.id })).toMatchObject({ deletedCount: 1 });
      expect(await viewerOf(gw, self.token)).toMatchObject({ id: self.id });
      expect(await viewerOf(gw, other.token)).toBeNull();

      // Through an API token nothing is spared: it is not a session.
      const apiToken = await createApiToken(gw, self.token, 'admin token', ['admin']);
      expect(await call(apiToken.token, DELETE_SESSIONS, { id: self.id })).toMatchObject({ deletedCount: 1 });
      expect(await viewerOf(gw, self.token)).toBeNull();
    });
  });
});
