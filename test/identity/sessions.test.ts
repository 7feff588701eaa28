import { randomBytes } from 'node:crypto';
import { print } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
import { graphql, type AnyTypedDocument, type VariablesOf } from '../../src/rpc-facade/graphql.ts';
import { rawCall, rawRequest } from '../helpers/v1.ts';

const Viewer = graphql(`
  fragment Viewer on Viewer @_unmask {
    user { id name email emailConfirmed telegramName enabled }
    credentialKind
    credentialId
    permissions
  }
`);
const SIGN_IN = graphql(
  `
    mutation SignIn($input: SignInInput!) {
      signIn(input: $input) {
        __typename
        ... on SignInPayload { token viewer { ...Viewer } }
        ... on RateLimitedError { retryAfterSeconds }
        ...ErrorFields
      }
    }
  `,
  [Viewer, ErrorFields],
);
const RESUME = graphql(
  `
    mutation Resume($required: [String!]) {
      resumeSession(requiredPermissions: $required) { __typename ... on ViewerPayload { viewer { ...Viewer } } ...ErrorFields }
    }
  `,
  [Viewer, ErrorFields],
);
const SIGN_OUT = graphql(`mutation SignOut { signOut { __typename ... on SignOutPayload { sessionId } ...ErrorFields } }`, [ErrorFields]);
const SIGN_UP = graphql(
  `
    mutation SignUp($input: SignUpInput!) {
      signUp(input: $input) { __typename ... on ProfilePayload { user { id name email enabled permissions } } ...ErrorFields }
    }
  `,
  [ErrorFields],
);
const CHANGE_PASSWORD = graphql(
  `
    mutation ChangePassword($password: String) {
      changePassword(password: $password) { __typename ... on PasswordPayload { password } ...ErrorFields }
    }
  `,
  [ErrorFields],
);
const SET_EMAIL = graphql(
  `
    mutation SetEmail($email: String) {
      setEmail(email: $email) { __typename ... on ProfilePayload { user { id email emailConfirmed } } ...ErrorFields }
    }
  `,
  [ErrorFields],
);
const SET_TELEGRAM = graphql(
  `
    mutation SetTelegram($name: String) {
      setTelegramUsername(telegramUsername: $name) { __typename ... on ProfilePayload { user { id telegramName } } ...ErrorFields }
    }
  `,
  [ErrorFields],
);
const DELETE_OTHERS = graphql(`mutation DeleteOthers { deleteOtherSessions { deletedCount } }`);
const SESSIONS = graphql(`query Sessions { viewer { credentialId sessions { id current createdAt lastUsedAt expiresAt remoteAddress userAgent } } }`);
const VIEWER = graphql(`query Viewer { viewer { ...Viewer } }`, [Viewer]);
const UPDATE_SETTINGS = graphql(`mutation UpdateSettings($input: SettingsInput!) { updateSettings(input: $input) { __typename } }`);

const NOT_AUTHENTICATED = { __typename: 'NotAuthenticatedError', message: 'Not authenticated', code: 'UNAUTHENTICATED', status: 401 };
const FORBIDDEN = {
  __typename: 'ForbiddenError',
  message: 'You are not authorized to access this area.',
  code: 'FORBIDDEN',
  status: 403,
};

describe.each(MODES)('sessions and the profile through GraphQL (%s)', (mode) => {
  let gw: TestGateway;
  let root: string;

  beforeAll(async () => {
    gw = await startTestGateway(mode, { env: { PERMISSIONS: 'billing' } });
    root = await rootSession(gw, ROOT_PASSWORD);
  });
  afterAll(() => gw?.close());

  const call = async <D extends AnyTypedDocument>(document: D, variables: VariablesOf<D>, token?: string | null): Promise<OnlyField<D>> =>
    only(await gql(gw, document, variables, token));
  const attempt = (username: string, password: string, requiredPermissions?: string[] | null) =>
    call(SIGN_IN, { input: { username, password, ...(requiredPermissions === undefined ? {} : { requiredPermissions }) } });
  const updateSettings = async (input: VariablesOf<typeof UPDATE_SETTINGS>['input']) =>
    expect(await call(UPDATE_SETTINGS, { input }, root)).toEqual({
      __typename: 'SettingsPayload',
    });
  const sessionsOf = async (token: string) => {
    const { viewer } = ok(await gql(gw, SESSIONS, {}, token));
    if (!viewer) throw new Error('expected the viewer of a live credential');
    return viewer;
  };

  describe('signIn', () => {
    it('starts a session with a 34-character token and reports the viewer', async () => {
      const user = await createUser(gw, root, { permissions: ['billing'] });
      const answer = member(await attempt(user.name.toUpperCase(), user.password), 'SignInPayload');
      expect(answer.token).toMatch(/^[A-Za-z0-9_-]{34}$/);
      expect(answer.viewer).toMatchObject({
        user: { id: user.id, name: user.name, enabled: true },
        credentialKind: 'SESSION',
        permissions: ['billing'],
      });
      expect(typeof answer.viewer.user.id).toBe('string');
      expect(answer.viewer.credentialId).toMatch(/^\d+$/);
      const viewer = ok(await gql(gw, VIEWER, {}, answer.token)).viewer;
      expect(viewer).toEqual(answer.viewer);

      const rootAnswer = member(await attempt('root', ROOT_PASSWORD), 'SignInPayload');
      expect(rootAnswer.viewer).toMatchObject({ user: { id: '1', name: 'root' }, permissions: ['admin', 'billing'] });
      expect(rootAnswer.token).not.toBe(answer.token);
    });

    it('answers the same NotAuthenticatedError for a wrong password, an unknown user and a disabled user', async () => {
      const user = await createUser(gw, root);
      const disabled = await createUser(gw, root, { enabled: false });
      const answers = [
        await attempt(user.name, `${user.password}x`),
        await attempt(user.name, ''),
        await attempt(uniqueUsername('ghost'), user.password),
        await attempt(disabled.name, disabled.password),
      ];
      for (const answer of answers) expect(answer).toEqual(NOT_AUTHENTICATED);
      // None of them started a session.
      expect((await sessionsOf((await signIn(gw, user.name, user.password)).token)).sessions).toHaveLength(1);
    });

    it('checks requiredPermissions only after the password, [] meaning no requirement', async () => {
      const plain = await createUser(gw, root);
      const admin = await createUser(gw, root, { permissions: ['admin'] });
      expect(await attempt(plain.name, plain.password, ['admin'])).toEqual(FORBIDDEN);
      expect(await attempt(plain.name, plain.password, ['root', 'billing'])).toEqual(FORBIDDEN);
      expect(await attempt(plain.name, 'wrong password', ['admin'])).toEqual(NOT_AUTHENTICATED);
      expect((await attempt(plain.name, plain.password, [])).__typename).toBe('SignInPayload');
      expect((await attempt(plain.name, plain.password, null)).__typename).toBe('SignInPayload');
      expect((await attempt(plain.name, plain.password, ['user'])).__typename).toBe('SignInPayload');
      expect((await attempt(plain.name, plain.password, ['admin', 'user'])).__typename).toBe('SignInPayload');
      expect((await attempt(admin.name, admin.password, ['admin'])).__typename).toBe('SignInPayload');
      expect(await attempt(admin.name, admin.password, ['root'])).toEqual(FORBIDDEN);
      for (const required of [['admin'], ['root'], ['billing']]) {
        expect((await attempt('root', ROOT_PASSWORD, required)).__typename).toBe('SignInPayload');
      }
      // The refused attempts left no session behind: the four successful ones and this one are all there is.
      const { token } = await signIn(gw, plain.name, plain.password);
      expect((await sessionsOf(token)).sessions).toHaveLength(5);
    });

    it('limits failed attempts per account, without locking out other accounts', async () => {
      const victim = await createUser(gw, root);
      const bystander = await createUser(gw, root);
      await updateSettings({ signinAccountLimit: 3 });
      try {
        for (let i = 0; i < 3; i++) expect(await attempt(victim.name, 'wrong password')).toEqual(NOT_AUTHENTICATED);
        for (const password of ['wrong password', victim.password]) {
          const limited = member(await attempt(victim.name, password), 'RateLimitedError');
          expect(limited).toMatchObject({ code: 'RATE_LIMITED', status: 429 });
          expect(limited.retryAfterSeconds).toBeGreaterThan(0);
          expect(limited.retryAfterSeconds).toBeLessThanOrEqual(900);
        }
        // Any spelling of the name counts as the same account.
        expect((await attempt(victim.name.toUpperCase(), victim.password)).__typename).toBe('RateLimitedError');
        expect((await attempt(bystander.name, bystander.password)).__typename).toBe('SignInPayload');
      } finally {
        await updateSettings({ signinAccountLimit: 10 });
      }
    });

    it('limits attempts per client address', async () => {
      const user = await createUser(gw, root);
      await updateSettings({ signinIpLimit: 1 });
      try {
        const limited = member(await attempt(user.name, user.password), 'RateLimitedError');
        expect(limited).toMatchObject({ status: 429 });
        expect(limited.retryAfterSeconds).toBeGreaterThan(0);
      } finally {
        await updateSettings({ signinIpLimit: 1_000_000 });
      }
      expect((await attempt(user.name, user.password)).__typename).toBe('SignInPayload');
    });
  });

  describe('resumeSession', () => {
    it('answers the viewer of a session or an API token without a new token', async () => {
      const user = await createSignedInUser(gw, root, { permissions: ['admin'] });
      const apiToken = await createApiToken(gw, user.token);
      const bySession = await call(RESUME, {}, user.token);
      expect(bySession).toMatchObject({ __typename: 'ViewerPayload', viewer: { user: { id: user.id }, credentialKind: 'SESSION', permissions: ['admin'] } });
      expect(bySession).not.toHaveProperty('token');
      const byToken = await call(RESUME, {}, apiToken.token);
      expect(byToken).toMatchObject({ viewer: { user: { id: user.id }, credentialKind: 'API_TOKEN', credentialId: apiToken.id, permissions: [] } });
      expect((await call(RESUME, { required: ['admin'] }, user.token)).__typename).toBe('ViewerPayload');
      expect((await call(RESUME, { required: [] }, apiToken.token)).__typename).toBe('ViewerPayload');
      // The token holds no admin of its own.
      expect(await call(RESUME, { required: ['admin'] }, apiToken.token)).toEqual(FORBIDDEN);
      // Still exactly one session.
      expect((await sessionsOf(user.token)).sessions).toHaveLength(1);
    });

    it('answers NotAuthenticatedError to a guest', async () => {
      expect(await call(RESUME, {})).toEqual(NOT_AUTHENTICATED);
      expect(await call(RESUME, {}, 'Xx'.repeat(17))).toEqual(NOT_AUTHENTICATED);
    });
  });

  describe('signOut', () => {
    it('ends the current session only; the token then belongs to a guest', async () => {
      const user = await createSignedInUser(gw, root);
      const other = await signIn(gw, user.name, user.password);
      const { credentialId } = await sessionsOf(user.token);
      expect(await call(SIGN_OUT, {}, user.token)).toEqual({ __typename: 'SignOutPayload', sessionId: credentialId });
      expect(await viewerOf(gw, user.token)).toBeNull();
      expect(await viewerOf(gw, other.token)).toMatchObject({ id: user.id });
      const notFound = { __typename: 'NotFoundError', code: 'NOT_FOUND', status: 404, message: 'Not Found' };
      expect(await call(SIGN_OUT, {}, user.token)).toEqual(notFound);
      expect(await call(SIGN_OUT, {})).toEqual(notFound);
      const apiToken = await createApiToken(gw, other.token);
      expect(await call(SIGN_OUT, {}, apiToken.token)).toEqual(notFound);
      expect(await viewerOf(gw, apiToken.token)).toMatchObject({ id: user.id });
    });
  });

  describe('signUp', () => {
    it('creates an enabled account without permissions that can sign in', async () => {
      const username = `${uniqueUsername('new')}@Example.com`;
      const answer = member(await call(SIGN_UP, { input: { username, password: 'my password' } }), 'ProfilePayload');
      expect(answer).toMatchObject({
        user: { name: username.toLowerCase(), email: username.toLowerCase(), enabled: true, permissions: [] },
      });
      const session = await signIn(gw, username, 'my password');
      expect(session).toMatchObject({ userId: answer.user.id, permissions: [] });
      // Signed-in principals may sign up too.
      const second = await call(SIGN_UP, { input: { username: uniqueUsername('new2'), password: 'my password', telegramName: `@tg_${randomBytes(4).toString('hex')}` } }, session.token);
      expect(member(second, 'ProfilePayload').user.permissions).toEqual([]);
    });

    it('requires a valid password and a free, valid username', async () => {
      const username = uniqueUsername('su');
      // Without the required password: sent as text, since the typed document would not take it.
      const missing = await gql(gw, print(SIGN_UP), { input: { username } });
      expect(missing.status).toBe(400);
      expect(missing.errors?.[0]?.extensions).toMatchObject({ status: 400 });
      expect(await call(SIGN_UP, { input: { username, password: '' } })).toMatchObject({
        __typename: 'ValidationError',
        message: 'Password is required',
      });
      expect(await call(SIGN_UP, { input: { username, password: 'short' } })).toMatchObject({
        __typename: 'ValidationError',
        message: 'Password must be 8 to 1024 characters long',
      });
      expect(await call(SIGN_UP, { input: { username: 'x', password: 'long enough' } })).toMatchObject({ __typename: 'ValidationError' });
      expect(await call(SIGN_UP, { input: { username, password: 'long enough', email: 'nope' } })).toMatchObject({
        __typename: 'ValidationError',
        message: 'Email is invalid',
      });
      // Nothing of the refused attempts exists; the first valid one succeeds, a second one conflicts.
      expect((await call(SIGN_UP, { input: { username, password: 'long enough' } })).__typename).toBe('ProfilePayload');
      expect(await call(SIGN_UP, { input: { username, password: 'long enough' } })).toMatchObject({
        __typename: 'ConflictError',
        status: 409,
        message: 'User already exists',
      });
      expect(await call(SIGN_UP, { input: { username: 'root', password: 'long enough' } })).toMatchObject({ __typename: 'ConflictError' });
    });

    it('is refused with ForbiddenError while sign-up is disabled', async () => {
      const username = uniqueUsername('closed');
      await updateSettings({ signupEnabled: false });
      try {
        expect(await call(SIGN_UP, { input: { username, password: 'long enough' } })).toMatchObject({
          __typename: 'ForbiddenError',
          status: 403,
          code: 'FORBIDDEN',
        });
      } finally {
        await updateSettings({ signupEnabled: true });
      }
      expect(await attempt(username, 'long enough')).toEqual(NOT_AUTHENTICATED);
      expect((await call(SIGN_UP, { input: { username, password: 'long enough' } })).__typename).toBe('ProfilePayload');
    });
  });

  describe('bad tokens', () => {
    it('make the caller a guest, never an error', async () => {
      const user = await createSignedInUser(gw, root);
      const signedOut = await signIn(gw, user.name, user.password);
      expect(await call(SIGN_OUT, {}, signedOut.token)).toMatchObject({ __typename: 'SignOutPayload' });
      const apiToken = await createApiToken(gw, user.token);
      // A changed character in the random part: the right record, the wrong secret.
      const flipped = `${apiToken.token.slice(0, 30)}${apiToken.token[30] === 'A' ? 'B' : 'A'}${apiToken.token.slice(31)}`;
      const headers = [
        'Bearer nope',
        `Bearer ${signedOut.token}`,
        `Bearer ${flipped}`,
        `Bearer ${randomBytes(25).toString('base64url')}`,
        `Bearer ${'A'.repeat(34)}`,
        'Bearer ',
        'Bearer',
        '',
        '   ',
        'Basic dXNlcjpwYXNz',
        `Bearer ${user.token}=`,
        `Bearer ${'x'.repeat(4096)}`,
        // Not Latin-1: fetch refuses to send it, so it goes out as its UTF-8 bytes through node:http.
        'Bearer ä€',
      ];
      const query = JSON.stringify({ query: '{ serverTime viewer { user { id } } }' });
      for (const authorization of headers) {
        // node:http writes header values byte for byte (latin1), so this puts the UTF-8 bytes on the wire.
        const raw = Buffer.from(authorization, 'utf8').toString('latin1');
        const graphql = await rawRequest(gw.gateway.port, {
          method: 'POST',
          path: '/graphql',
          headers: { 'content-type': 'application/json', authorization: raw },
          body: query,
        });
        expect(graphql.status, authorization).toBe(200);
        const body = JSON.parse(graphql.text) as { data: { serverTime: string; viewer: unknown }; errors?: unknown };
        expect(body.errors, authorization).toBeUndefined();
        expect(body.data.viewer, authorization).toBeNull();
        expect(Date.parse(body.data.serverTime)).not.toBeNaN();
        // The v1 facade resolves the same header the same way: `*` methods answer, `user` methods refuse.
        const v1 = (path: string) => rawCall(gw.gateway.port, { path, headers: { 'content-type': 'application/json', authorization: raw } });
        expect(await v1('/api/v1/test/test'), authorization).toMatchObject({ status: 200, statusText: 'OK' });
        expect(await v1('/api/v1/profile/read'), authorization).toMatchObject({
          status: -32801,
          statusText: 'Insufficient permissions to call API method',
        });
      }
      // The scheme is optional and case-insensitive; the real token still works.
      for (const authorization of [`Bearer ${user.token}`, `bearer ${user.token}`, user.token]) {
        const res = await fetch(gw.graphqlUrl, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization },
          body: JSON.stringify({ query: '{ viewer { user { id } } }' }),
        });
        expect(((await res.json()) as { data: { viewer: { user: { id: string } } } }).data.viewer.user.id).toBe(user.id);
      }
    });
  });

  describe('the profile', () => {
    it('lists the sessions of the viewer, marking the current one', async () => {
      const user = await createSignedInUser(gw, root);
      const other = await signIn(gw, user.name, user.password);
      const mine = await sessionsOf(user.token);
      expect(mine.sessions).toHaveLength(2);
      expect(mine.sessions.filter((session) => session.current).map((session) => session.id)).toEqual([mine.credentialId]);
      const theirs = await sessionsOf(other.token);
      expect(theirs.sessions.filter((session) => session.current).map((session) => session.id)).toEqual([theirs.credentialId]);
      expect(theirs.credentialId).not.toBe(mine.credentialId);
      const apiToken = await createApiToken(gw, user.token);
      const viaToken = await sessionsOf(apiToken.token);
      expect(viaToken.sessions).toHaveLength(2);
      expect(viaToken.sessions.some((session) => session.current)).toBe(false);
    });

    it('changes the password (generated when empty), ending the other sessions', async () => {
      const user = await createSignedInUser(gw, root);
      const other = await signIn(gw, user.name, user.password);
      const generated = member(await call(CHANGE_PASSWORD, { password: '' }, user.token), 'PasswordPayload');
      expect(generated.password).toMatch(/^[A-Za-z0-9_-]{16}$/);
      expect(await viewerOf(gw, user.token)).toMatchObject({ id: user.id });
      expect(await viewerOf(gw, other.token)).toBeNull();
      expect(await attempt(user.name, user.password)).toEqual(NOT_AUTHENTICATED);
      const next = await signIn(gw, user.name, generated.password);

      const omitted = member(await call(CHANGE_PASSWORD, {}, user.token), 'PasswordPayload');
      expect(omitted.password).toMatch(/^[A-Za-z0-9_-]{16}$/);
      expect(omitted.password).not.toBe(generated.password);
      expect(await viewerOf(gw, next.token)).toBeNull();

      const chosen = await call(CHANGE_PASSWORD, { password: 'chosen password' }, user.token);
      expect(chosen).toEqual({ __typename: 'PasswordPayload', password: 'chosen password' });
      expect((await attempt(user.name, 'chosen password')).__typename).toBe('SignInPayload');

      expect(await call(CHANGE_PASSWORD, { password: 'short' }, user.token)).toMatchObject({
        __typename: 'ValidationError',
        message: 'Password must be 8 to 1024 characters long',
      });
      expect((await attempt(user.name, 'chosen password')).__typename).toBe('SignInPayload');
    });

    it('sets, lower-cases and removes the e-mail', async () => {
      const user = await createSignedInUser(gw, root);
      const email = `${uniqueUsername('me')}@Example.COM`;
      const set = await call(SET_EMAIL, { email }, user.token);
      expect(set).toEqual({ __typename: 'ProfilePayload', user: { id: user.id, email: email.toLowerCase(), emailConfirmed: false } });
      expect((await call(SET_EMAIL, { email: email.toLowerCase() }, user.token)).__typename).toBe('ProfilePayload');
      expect(await call(SET_EMAIL, { email: 'not an email' }, user.token)).toMatchObject({
        __typename: 'ValidationError',
        status: 400,
        message: 'Email is invalid',
      });
      expect(ok(await gql(gw, VIEWER, {}, user.token)).viewer?.user.email).toBe(email.toLowerCase());

      const other = await createSignedInUser(gw, root, { username: `${uniqueUsername('other')}@example.com` });
      expect(await call(SET_EMAIL, { email }, other.token)).toMatchObject({
        __typename: 'ConflictError',
        status: 409,
        message: 'Email is already in use',
      });
      // Another user's (e-mail-shaped) username is taken as an e-mail too.
      expect(await call(SET_EMAIL, { email: other.name.toUpperCase() }, user.token)).toMatchObject({ __typename: 'ConflictError' });

      expect(await call(SET_EMAIL, { email: '' }, user.token)).toMatchObject({ user: { email: null, emailConfirmed: false } });
      expect(member(await call(SET_EMAIL, { email }, user.token), 'ProfilePayload').user.email).toBe(email.toLowerCase());
      expect(await call(SET_EMAIL, {}, user.token)).toMatchObject({ user: { email: null } });
      expect(member(await call(SET_EMAIL, { email }, other.token), 'ProfilePayload').user.email).toBe(email.toLowerCase());
    });

    it('sets, normalises and removes the Telegram username', async () => {
      const user = await createSignedInUser(gw, root);
      const name = `Tg_${randomBytes(5).toString('hex')}`;
      expect(await call(SET_TELEGRAM, { name: `@${name}` }, user.token)).toEqual({
        __typename: 'ProfilePayload',
        user: { id: user.id, telegramName: name.toLowerCase() },
      });
      for (const bad of ['abc', 'has space', 'x'.repeat(33), 'dash-name']) {
        expect(await call(SET_TELEGRAM, { name: bad }, user.token)).toMatchObject({
          __typename: 'ValidationError',
          message: 'Telegram username is invalid',
        });
      }
      const other = await createSignedInUser(gw, root);
      expect(await call(SET_TELEGRAM, { name: name.toUpperCase() }, other.token)).toMatchObject({
        __typename: 'ConflictError',
        status: 409,
        message: 'Telegram username is already in use',
      });
      expect(await call(SET_TELEGRAM, { name: '' }, user.token)).toMatchObject({ user: { telegramName: null } });
      expect(member(await call(SET_TELEGRAM, { name }, other.token), 'ProfilePayload').user.telegramName).toBe(name.toLowerCase());
      expect(await call(SET_TELEGRAM, {}, other.token)).toMatchObject({ user: { telegramName: null } });
    });

    it('deletes the other sessions, keeping the current one', async () => {
      const user = await createSignedInUser(gw, root);
      const others = [await signIn(gw, user.name, user.password), await signIn(gw, user.name, user.password)];
      expect(ok(await gql(gw, DELETE_OTHERS, {}, user.token)).deleteOtherSessions).toEqual({
        deletedCount: 2,
      });
      expect(await viewerOf(gw, user.token)).toMatchObject({ id: user.id });
      for (const other of others) expect(await viewerOf(gw, other.token)).toBeNull();
      expect(ok(await gql(gw, DELETE_OTHERS, {}, user.token)).deleteOtherSessions).toEqual({
        deletedCount: 0,
      });
      expect((await sessionsOf(user.token)).sessions).toHaveLength(1);
    });
  });
});
