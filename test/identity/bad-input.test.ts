import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { graphql, type ResultOf } from '../../src/rpc-facade/graphql.ts';
import { MODES, ROOT_PASSWORD, startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import {
  assertNoServerError,
  createApiToken,
  createSignedInUser,
  gql,
  ok,
  rootSession,
  type CreatedUser,
  type GqlResult,
} from '../helpers/graphql.ts';

const MIB = 1024 * 1024;
const BEYOND_BIGINT = '9999999999999999999';
const NUL = 'a\u0000b';

/** Who sends a document: root, the plain test user, or nobody. */
type As = 'root' | 'user' | 'guest';

const USERS = graphql(`query Users { users(first: 100) { totalCount edges { node { id name email telegramName enabled permissions } } } }`);
const TOKENS = graphql(`query Tokens { apiTokens(first: 100) { totalCount edges { node { id name enabled permissions } } } }`);
const VIEWER = graphql(`query Viewer { viewer { user { id } } }`);

interface Snapshot {
  users: ResultOf<typeof USERS>;
  rootTokens: ResultOf<typeof TOKENS>;
  userTokens: ResultOf<typeof TOKENS>;
  settings: unknown;
}

describe.each(MODES)('bad input through GraphQL (%s)', (mode) => {
  let gw: TestGateway;
  let root: string;
  let user: CreatedUser & { token: string };
  let before: Snapshot;

  beforeAll(async () => {
    gw = await startTestGateway(mode);
    root = await rootSession(gw, ROOT_PASSWORD);
    user = await createSignedInUser(gw, root, { username: 'bad_input_user', email: 'bad.input@example.com' });
    await createApiToken(gw, root, 'root token', ['admin']);
    await createApiToken(gw, user.token, 'user token');
  });
  afterAll(() => gw?.close());

  const tokenOf = (as: As) => (as === 'root' ? root : as === 'user' ? user.token : null);
  const send = (as: As, query: string, variables: Record<string, unknown> = {}) => gql(gw, query, variables, tokenOf(as));

  /** Everything a refused input could have changed, read back in full. */
  async function snapshot(): Promise<Snapshot> {
    const users = ok(await gql(gw, USERS, {}, root));
    const settings = ok(
      await gql(gw, '{ settings { appUrl smtpHostname smtpPort smtpUsername smtpPasswordSet smtpFrom smtpTls signupEnabled signinAccountLimit updatedAt } }', {}, root),
    );
    return {
      users,
      rootTokens: ok(await gql(gw, TOKENS, {}, root)),
      userTokens: ok(await gql(gw, TOKENS, {}, user.token)),
      settings,
    };
  }

  beforeEach(async () => {
    before = await snapshot();
  });
  afterEach(async () => {
    // Nothing any of these requests sent was written, and the test user still works as before.
    expect(await snapshot()).toEqual(before);
    expect(ok(await gql(gw, VIEWER, {}, user.token)).viewer?.user.id).toBe(user.id);
  });

  /** A refusal before execution: HTTP 400, no data, every error with a code and status 400. */
  function expectRequestError(result: GqlResult<unknown>, label: string) {
    expect(result.status, label).toBe(400);
    expect(result.data, label).toBeUndefined();
    expect(result.errors?.length, label).toBeGreaterThan(0);
    for (const error of result.errors ?? []) {
      expect(typeof error.extensions.code, label).toBe('string');
      expect(error.extensions.status, label).toBe(400);
      expect(error.message, label).not.toBe('Unexpected error.');
    }
  }

  /** A typed error result of the only root field. */
  function expectTyped(result: GqlResult<Record<string, unknown>>, typename: string, message?: string | RegExp) {
    assertNoServerError(result);
    expect(result.errors, typename).toBeUndefined();
    const value = Object.values(result.data ?? {})[0] as { __typename: string; message?: string; status?: number };
    expect(value.__typename).toBe(typename);
    if (message !== undefined) expect(value.message).toMatch(message);
  }

  /** An execution error of a field without typed errors (lists, connections): code and status 400. */
  function expectFieldError(result: GqlResult<unknown>, code: string) {
    expect(result.status).toBe(200);
    expect(result.errors?.map((error) => [error.extensions.code, error.extensions.status])).toEqual([[code, 400]]);
  }

  const TYPED = '{ __typename ... on Error { message code status } }';

  describe('wrong variable types and unknown input fields', () => {
    it.each<[string, As, string, Record<string, unknown>]>([
      ['a string for a Boolean', 'root', 'mutation($id: ID!, $on: Boolean!) { setUserEnabled(id: $id, enabled: $on) { __typename } }', { id: 'bad_input_user', on: 'false' }],
      ['a number for a Boolean', 'user', 'mutation($id: ID!, $on: Boolean!) { setApiTokenEnabled(id: $id, enabled: $on) { __typename } }', { id: '1', on: 0 }],
      ['an object for an ID', 'root', 'mutation($id: ID!) { deleteUser(id: $id) { __typename } }', { id: { id: 'bad_input_user' } }],
      ['a list for an ID', 'root', 'mutation($id: ID!) { deleteUser(id: $id) { __typename } }', { id: ['bad_input_user'] }],
      ['a boolean for an ID', 'root', 'mutation($id: ID!) { deleteUserSessions(id: $id) { __typename } }', { id: true }],
      ['a float for an ID', 'root', 'query($id: ID!) { user(id: $id) { id } }', { id: 1.5 }],
      ['a number for a String', 'user', 'mutation($name: String!) { createApiToken(name: $name) { __typename } }', { name: 42 }],
      ['an object for a String', 'root', 'mutation($input: CreateUserInput!) { createUser(input: $input) { __typename } }', { input: { username: { $ne: '' } } }],
      ['a string for an Int', 'root', 'query($n: Int) { users(first: $n) { totalCount } }', { n: 'ten' }],
      ['a float for an Int', 'root', 'query($n: Int) { users(first: $n) { totalCount } }', { n: 1.5 }],
      ['an Int beyond 32 bits', 'root', 'query($n: Int) { users(offset: $n) { totalCount } }', { n: 2 ** 31 }],
      ['a string for an Int setting', 'root', 'mutation($input: SettingsInput!) { updateSettings(input: $input) { __typename } }', { input: { smtpPort: '25' } }],
      ['null for a required input', 'root', 'mutation($input: CreateUserInput!) { createUser(input: $input) { __typename } }', { input: null }],
      ['a missing required variable', 'root', 'mutation($id: ID!, $on: Boolean!) { setUserEnabled(id: $id, enabled: $on) { __typename } }', { id: 'bad_input_user' }],
      ['an unknown enum value', 'root', 'query($order: [UserOrder!]) { users(orderBy: $order) { totalCount } }', { order: [{ field: 'PASSWORD' }] }],
      ['a lower-case enum value', 'root', 'mutation($input: SettingsInput!) { updateSettings(input: $input) { __typename } }', { input: { smtpTls: 'tls' } }],
      ['an unknown field of CreateUserInput', 'root', 'mutation($input: CreateUserInput!) { createUser(input: $input) { __typename } }', { input: { username: 'sneaky_user', id: '1' } }],
      ['an unknown field of SignUpInput', 'guest', 'mutation($input: SignUpInput!) { signUp(input: $input) { __typename } }', { input: { username: 'sneaky_admin', password: 'long enough', permissions: [{ name: 'admin', enabled: true }] } }],
      ['an unknown field of SignUpInput (enabled)', 'guest', 'mutation($input: SignUpInput!) { signUp(input: $input) { __typename } }', { input: { username: 'sneaky_user2', password: 'long enough', enabled: false } }],
      ['an unknown field of SettingsInput', 'root', 'mutation($input: SettingsInput!) { updateSettings(input: $input) { __typename } }', { input: { appUrl: 'https://x.example', id: 2 } }],
      ['an unknown field of SignInInput', 'guest', 'mutation($input: SignInInput!) { signIn(input: $input) { __typename } }', { input: { username: 'root', password: ROOT_PASSWORD, remember: true } }],
      ['a PermissionInput without enabled', 'root', 'mutation($p: [PermissionInput!]!) { setUserPermissions(id: "bad_input_user", permissions: $p) { __typename } }', { p: [{ name: 'admin' }] }],
      ['a null in a list of non-null items', 'root', 'mutation($p: [PermissionInput!]!) { updateUserPermissions(id: "bad_input_user", permissions: $p) { __typename } }', { p: [null] }],
      ['an unknown field of ApiTokenFilter', 'user', 'query($f: ApiTokenFilter) { apiTokens(filter: $f) { totalCount } }', { f: { userId: '1' } }],
    ])('refuses %s with a 400 GraphQL error', async (label, as, query, variables) => {
      expectRequestError(await send(as, query, variables), label);
    });

    it('refuses an inline argument of the wrong type at validation', async () => {
      expectRequestError(await send('root', 'mutation { setUserEnabled(id: "bad_input_user", enabled: "no") { __typename } }'), 'inline');
      expectRequestError(await send('root', 'mutation { deleteUser(id: { a: 1 }) { __typename } }'), 'inline object');
      expectRequestError(await send('root', 'mutation { createUser(input: { username: "inline_user", admin: true }) { __typename } }'), 'inline field');
    });
  });

  describe('oversized strings', () => {
    const MEGA = 'a'.repeat(MIB);

    it('a 1 MiB username is a ValidationError, an unknown user, or nobody', async () => {
      expectTyped(await send('root', `mutation($u: String!) { createUser(input: { username: $u }) ${TYPED} }`, { u: MEGA }), 'ValidationError', /^Username is invalid/);
      expectTyped(
        await send('guest', `mutation($u: String!) { signUp(input: { username: $u, password: "long enough" }) ${TYPED} }`, { u: MEGA }),
        'ValidationError',
        /^Username is invalid/,
      );
      expectTyped(
        await send('guest', `mutation($u: String!) { signIn(input: { username: $u, password: "long enough" }) ${TYPED} }`, { u: MEGA }),
        'NotAuthenticatedError',
        'Not authenticated',
      );
      expectTyped(
        await send('root', `mutation($u: String!) { renameUser(id: "bad_input_user", username: $u) ${TYPED} }`, { u: MEGA }),
        'ValidationError',
        /^Username is invalid/,
      );
      expect(ok(await send('root', 'query($id: ID!) { user(id: $id) { id } }', { id: MEGA }))).toEqual({ user: null });
      expectTyped(await send('root', `mutation($id: ID!) { deleteUser(id: $id) ${TYPED} }`, { id: '7'.repeat(MIB) }), 'NotFoundError', 'User not found');
    });

    it('a 100 KB password is a ValidationError, or a failed sign-in', async () => {
      const password = 'p'.repeat(100 * 1024);
      const tooLong = 'Password must be 8 to 1024 characters long';
      expectTyped(
        await send('root', `mutation($p: String!) { createUser(input: { username: "long_password_user", password: $p }) ${TYPED} }`, { p: password }),
        'ValidationError',
        tooLong,
      );
      expectTyped(await send('root', `mutation($p: String) { setUserPassword(id: "bad_input_user", password: $p) ${TYPED} }`, { p: password }), 'ValidationError', tooLong);
      expectTyped(await send('user', `mutation($p: String) { changePassword(password: $p) ${TYPED} }`, { p: password }), 'ValidationError', tooLong);
      expectTyped(
        await send('guest', `mutation($p: String!) { signUp(input: { username: "long_password_user", password: $p }) ${TYPED} }`, { p: password }),
        'ValidationError',
        tooLong,
      );
      expectTyped(
        await send('guest', `mutation($p: String!) { signIn(input: { username: "bad_input_user", password: $p }) ${TYPED} }`, { p: password }),
        'NotAuthenticatedError',
      );
      // The failure above does not stand in the way of the right password.
      expectTyped(
        await send('guest', `mutation($p: String!) { signIn(input: { username: "bad_input_user", password: $p }) { __typename } }`, { p: user.password }),
        'SignInPayload',
      );
    });

    it('a 10 KB search string finds nothing, without an error', async () => {
      const search = 'é%_'.repeat(3414);
      expect(ok(await send('root', 'query($s: String) { users(filter: { search: $s }) { totalCount edges { node { id } } } }', { s: search }))).toEqual({
        users: { totalCount: 0, edges: [] },
      });
      expect(ok(await send('root', 'query($s: String) { suggestUsers(search: $s) { id } }', { s: search }))).toEqual({ suggestUsers: [] });
      expect(ok(await send('user', 'query($s: String) { apiTokens(filter: { search: $s }) { totalCount } }', { s: search }))).toEqual({
        apiTokens: { totalCount: 0 },
      });
    });

    it('a 10 KB token name, e-mail, Telegram username or setting is a ValidationError', async () => {
      const ten = 'n'.repeat(10 * 1024);
      expectTyped(await send('user', `mutation($n: String!) { createApiToken(name: $n) ${TYPED} }`, { n: ten }), 'ValidationError', 'Token name must be 1 to 255 characters long');
      expectTyped(await send('user', `mutation($e: String) { setEmail(email: $e) ${TYPED} }`, { e: `${ten}@example.com` }), 'ValidationError', 'Email is invalid');
      expectTyped(await send('user', `mutation($e: String) { setEmail(email: $e) ${TYPED} }`, { e: `${'m'.repeat(MIB)}@example.com` }), 'ValidationError', 'Email is invalid');
      expectTyped(await send('user', `mutation($t: String) { setTelegramUsername(telegramUsername: $t) ${TYPED} }`, { t: ten }), 'ValidationError');
      expectTyped(
        await send('root', `mutation($u: String) { updateSettings(input: { appUrl: $u }) ${TYPED} }`, { u: `https://example.com/${'x'.repeat(MIB)}` }),
        'ValidationError',
      );
      expectTyped(await send('root', `mutation($u: String) { updateSettings(input: { smtpPassword: $u }) ${TYPED} }`, { u: ten }), 'ValidationError');
    });
  });

  describe('invalid values', () => {
    it('refuses invalid usernames, e-mails and passwords with typed errors', async () => {
      for (const username of ['ab', 'UPPER CASE', '12345678', 'semi;colon', 'quote"d', "o'brien", NUL, '😀😀😀', 'tab\tname', 'root\u202e']) {
        expectTyped(await send('root', `mutation($u: String!) { createUser(input: { username: $u }) ${TYPED} }`, { u: username }), 'ValidationError', /^Username is invalid/);
      }
      for (const email of ['plain', '@example.com', 'a@', 'a@b', 'a b@example.com', 'a\u0000@example.com', 'a@exa\u0000mple.com']) {
        expectTyped(
          await send('root', `mutation($e: String) { createUser(input: { username: "valid_name_x", email: $e }) ${TYPED} }`, { e: email }),
          'ValidationError',
          'Email is invalid',
        );
        expectTyped(await send('user', `mutation($e: String) { setEmail(email: $e) ${TYPED} }`, { e: email }), 'ValidationError', 'Email is invalid');
      }
      for (const password of ['', 'short', '1234567']) {
        expectTyped(
          await send('guest', `mutation($p: String!) { signUp(input: { username: "valid_name_y", password: $p }) ${TYPED} }`, { p: password }),
          'ValidationError',
        );
      }
      expectTyped(await send('user', `mutation($t: String) { setTelegramUsername(telegramUsername: $t) ${TYPED} }`, { t: NUL }), 'ValidationError');
      expectTyped(await send('user', `mutation($n: String!) { createApiToken(name: $n) ${TYPED} }`, { n: NUL }), 'ValidationError');
      expectTyped(await send('user', `mutation($n: String!) { createApiToken(name: $n) ${TYPED} }`, { n: '   ' }), 'ValidationError');
      // An unpaired surrogate would be stored as U+FFFD: refused rather than silently changed.
      expectTyped(await send('user', `mutation($n: String!) { createApiToken(name: $n) ${TYPED} }`, { n: 'x\ud800y' }), 'ValidationError');
      expectTyped(await send('user', `mutation($p: String) { changePassword(password: $p) ${TYPED} }`, { p: 'long enough \udc00' }), 'ValidationError');
      for (const [name, value] of [
        ['smtpUsername', 'user\ud800'],
        ['smtpUsername', NUL],
        ['smtpPassword', NUL],
        ['smtpFrom', `${NUL}@example.com`],
        ['smtpHostname', NUL],
        ['appUrl', `https://example.com/${NUL}`],
      ]) {
        expectTyped(await send('root', `mutation($input: SettingsInput!) { updateSettings(input: $input) ${TYPED} }`, { input: { [name!]: value } }), 'ValidationError');
      }
    });

    it('treats references that can name nothing as missing', async () => {
      expectTyped(
        await send('guest', `mutation($u: String!) { signIn(input: { username: $u, password: "long enough" }) ${TYPED} }`, { u: NUL }),
        'NotAuthenticatedError',
      );
      for (const id of [NUL, BEYOND_BIGINT, '0', '-1', '1e3', ' 1']) {
        expect(ok(await send('root', 'query($id: ID!) { user(id: $id) { id } }', { id })), id).toEqual({ user: null });
        expect(ok(await send('user', 'query($id: ID!) { apiToken(id: $id) { id } }', { id })), id).toEqual({ apiToken: null });
        expectTyped(await send('root', `mutation($id: ID!) { deleteUser(id: $id) ${TYPED} }`, { id }), 'NotFoundError');
        expectTyped(await send('root', `mutation($id: ID!) { setUserEnabled(id: $id, enabled: false) ${TYPED} }`, { id }), 'NotFoundError');
        expectTyped(await send('root', `mutation($id: ID!) { renameUser(id: $id, username: "renamed_nobody") ${TYPED} }`, { id }), 'NotFoundError');
        expectTyped(await send('user', `mutation($id: ID!) { deleteApiToken(id: $id) ${TYPED} }`, { id }), 'NotFoundError', 'Token not found');
        expectTyped(await send('user', `mutation($id: ID!) { setApiTokenEnabled(id: $id, enabled: false) ${TYPED} }`, { id }), 'NotFoundError');
        expect(ok(await send('root', 'query($id: ID) { users(filter: { id: $id }) { totalCount } }', { id })), id).toEqual({ users: { totalCount: 0 } });
        expect(ok(await send('user', 'query($id: ID) { apiTokens(filter: { id: $id }) { totalCount } }', { id })), id).toEqual({ apiTokens: { totalCount: 0 } });
      }
      for (const search of [NUL, '\u0000']) {
        expect(ok(await send('root', 'query($s: String) { users(filter: { search: $s }) { totalCount } }', { s: search }))).toEqual({ users: { totalCount: 0 } });
        expect(ok(await send('root', 'query($s: String) { suggestUsers(search: $s) { id } }', { s: search }))).toEqual({ suggestUsers: [] });
        expect(ok(await send('user', 'query($s: String) { apiTokens(filter: { search: $s }) { totalCount } }', { s: search }))).toEqual({
          apiTokens: { totalCount: 0 },
        });
      }
    });

    it('refuses unknown permission names', async () => {
      const p = [{ name: 'superuser', enabled: true }];
      const message = 'Permissions: "superuser" are invalid';
      expectTyped(await send('root', `mutation($p: [PermissionInput!]) { createUser(input: { username: "perm_user_x", permissions: $p }) ${TYPED} }`, { p }), 'ValidationError', message);
      expectTyped(await send('root', `mutation($p: [PermissionInput!]!) { setUserPermissions(id: "bad_input_user", permissions: $p) ${TYPED} }`, { p }), 'ValidationError', message);
      expectTyped(await send('root', `mutation($p: [PermissionInput!]!) { updateUserPermissions(id: "bad_input_user", permissions: $p) ${TYPED} }`, { p }), 'ValidationError', message);
      const [rootToken] = before.rootTokens.apiTokens.edges;
      for (const mutation of ['setApiTokenPermissions', 'updateApiTokenPermissions']) {
        expectTyped(
          await send('root', `mutation($id: ID!, $p: [PermissionInput!]!) { ${mutation}(id: $id, permissions: $p) ${TYPED} }`, { id: rootToken!.node.id, p }),
          'ValidationError',
          'Token permission "superuser" is not valid',
        );
      }
      for (const required of [['superuser'], ['', '\u0000']]) {
        expectTyped(await send('user', `mutation($r: [String!]) { resumeSession(requiredPermissions: $r) ${TYPED} }`, { r: required }), 'ForbiddenError');
      }
    });

    it('refuses bad paging arguments with INVALID_INPUT', async () => {
      expectFieldError(await send('root', '{ users(after: "garbage") { totalCount } }'), 'INVALID_INPUT');
      expectFieldError(await send('root', '{ users(before: "YXJyYXljb25uZWN0aW9uOi0x") { totalCount } }'), 'INVALID_INPUT');
      expectFieldError(await send('root', '{ users(offset: -1) { totalCount } }'), 'INVALID_INPUT');
      expectFieldError(await send('root', '{ users(first: -1) { totalCount } }'), 'INVALID_INPUT');
      expectFieldError(await send('root', '{ users(last: -5) { totalCount } }'), 'INVALID_INPUT');
      expectFieldError(await send('user', '{ apiTokens(after: "!!!") { totalCount } }'), 'INVALID_INPUT');
      expect(ok(await send('root', '{ suggestUsers(first: -5) { id } }'))).toEqual({ suggestUsers: [] });
    });
  });
});
