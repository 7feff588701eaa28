import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DECLARED_CALL_LIMITS } from '../../src/domain/call-limits.ts';
import { V1_METHODS } from '../../src/rpc-facade/methods/index.ts';
import { MODES, ROOT_PASSWORD, startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { createApiToken, createSignedInUser, createUser, rootSession, signIn, uniqueUsername } from '../helpers/graphql.ts';
import { sendNotification } from '../helpers/notifications.ts';
import { apiUrl, httpCall, RawWs, TRANSPORTS, type Outcome, type Transport } from '../helpers/v1.ts';

/**
 * Who may call what: every v1 method against every kind of principal, over HTTP and WebSocket.
 * Who may call a method, with which arguments it succeeds and what it answers then, is written
 * here by hand from the API v1 documents (api-v1-reference.md, api-v1-schemas.md, protocol.md §3
 * and §4, decisions.md), never read from the method table: a wrong permission in the table fails.
 */

/** protocol.md §3: `*` everyone, `user` any authenticated principal, `admin` holders of that permission (root holds all). */
type Access = '*' | 'user' | 'admin';

const PRINCIPALS = ['guest', 'user', 'admin', 'root', 'token', 'adminToken', 'disabledToken', 'disabledUserToken'] as const;
type PrincipalName = (typeof PRINCIPALS)[number];

/**
 * Whom each principal acts as. A new API token has no named permissions (protocol.md §3); a
 * disabled token and the token of a disabled user authenticate nobody: they are guests.
 */
const ACTS_AS: Record<PrincipalName, 'guest' | 'plain' | 'admin'> = {
  guest: 'guest',
  user: 'plain',
  admin: 'admin',
  root: 'admin',
  token: 'plain',
  adminToken: 'admin',
  disabledToken: 'guest',
  disabledUserToken: 'guest',
};

function granted(access: Access, principal: PrincipalName): boolean {
  if (access === '*') return true;
  if (access === 'user') return ACTS_AS[principal] !== 'guest';
  return ACTS_AS[principal] === 'admin';
}

/** A principal of the matrix: the credential it calls with and the user behind it. */
interface Principal {
  readonly name: PrincipalName;
  readonly token: string | null;
  /** The credential is a session (not an API token, not a guest's). */
  readonly session: boolean;
  readonly user: { readonly id: string; readonly name: string; readonly password: string } | null;
  /** A session of the same user, to prepare what a call needs (the principal's own token for sessions). */
  readonly setup: string | null;
}

/** What the cells share: a root session to prepare with, and targets for calls that are refused anyway. */
interface Kit {
  readonly gw: TestGateway;
  readonly root: string;
  readonly bystander: { readonly id: string; readonly session: string };
}

interface Cell {
  readonly principal: Principal;
  readonly allowed: boolean;
  readonly transport: Transport;
  readonly kit: Kit;
}

/** A call as the cell makes it: positional arguments, or a multipart upload. */
type Call = { readonly args: readonly unknown[] } | { readonly upload: FormData };

interface Answer extends Outcome {
  /** The HTTP status line, for calls over HTTP. */
  readonly httpStatus?: number;
}

interface Expectation {
  readonly access: Access;
  /** Arguments with which the call succeeds for an allowed principal (default: none). */
  readonly call?: (cell: Cell) => Call | Promise<Call>;
  /** Checks the documented answer of an allowed call. */
  readonly answer: (answer: Answer, cell: Cell) => void;
  /** The call ends credentials of the principal's user (other sessions, or its own): it runs after every other method. */
  readonly endsCredentials?: boolean;
}

const OK = { status: 200, statusText: 'OK' } as const;
const MATRIX_PASSWORD = 'matrix-password';

const unique = (prefix: string) => uniqueUsername(prefix);
const telegramName = () => `tg_${randomBytes(5).toString('hex')}`;

/** A fresh user to act on when the call is allowed; the shared bystander when it is refused anyway. */
async function targetUser(cell: Cell): Promise<string> {
  if (!cell.allowed) return cell.kit.bystander.id;
  return (await createSignedInUser(cell.kit.gw, cell.kit.root)).id;
}

/** A fresh API token of the principal's user when the call is allowed; one of the bystander's otherwise. */
async function targetToken(cell: Cell): Promise<string> {
  const owner = cell.allowed ? cell.principal.setup! : cell.kit.bystander.session;
  return (await createApiToken(cell.kit.gw, owner)).id;
}

function expectSuccess(answer: Answer, status: { status: number; statusText: string } = OK): void {
  expect({ status: answer.status, statusText: answer.statusText, exception: answer.exception }).toEqual({ ...status, exception: false });
  // protocol.md §1.3: every 2xx result goes out on an HTTP 200 line.
  if (answer.httpStatus !== undefined) expect(answer.httpStatus).toBe(200);
}

/** "→ 200 (no data)". */
function expectNoData(answer: Answer): void {
  expectSuccess(answer);
  expect(answer.data ?? null).toBeNull();
}

/** `data: null` and `meta.rows`: the answer of a DB-backed change (protocol.md §2). */
function expectRows(answer: Answer, rows: number): void {
  expectSuccess(answer);
  expect(answer.data ?? null).toBeNull();
  expect(answer.meta.rows).toBe(rows);
}

/** `[{ id, enabled, name, description }]`: the permission states of admin and api-tokens get-permissions (protocol.md §4.3, §4.4). */
const adminState = (enabled: boolean) => ({ id: 'admin', enabled, name: 'admin', description: expect.any(String) });

/** A fresh notification of the principal's user (read already when asked), or an id that is nobody's for guests. */
async function ownNotification(cell: Cell, read = false): Promise<string> {
  const user = cell.principal.user;
  if (!user) return '987654321';
  const { notificationId } = await sendNotification(cell.kit.gw, cell.kit.root, [user.id], 'matrix');
  if (read) {
    const marked = await httpCall(cell.kit.gw, '/v1/notifications/mark-read', [[notificationId]], { token: cell.principal.setup });
    if (marked.meta.rows !== 1) throw new Error('could not mark the notification read');
  }
  return notificationId!;
}

/** The answer of a notification change: one row for the caller's own, none for a guest (protocol.md §4.5). */
function expectOwnRow(answer: Answer, cell: Cell): void {
  expectRows(answer, ACTS_AS[cell.principal.name] === 'guest' ? 0 : 1);
}

const SETTINGS_FIELDS = ['app_url', 'smtp_hostname', 'smtp_port', 'smtp_username', 'smtp_password', 'smtp_password_set', 'smtp_from', 'smtp_tls', 'signup_enabled'];

/**
 * Every v1 method the gateway serves, with who may call it and what an allowed call answers.
 * A method served without an entry here, or an entry for a method not served, fails the suite.
 */
const EXPECTATIONS: Record<string, Expectation> = {
  // api-v1-reference.md "API calls log": every method `admin`; protocol.md §4.1, decisions.md "Reads and statistics".
  '/v1/admin/api-call-log/read-log': {
    access: 'admin',
    call: () => ({ args: [{ where: { method_id: '/v1/test/test' }, limit: 5 }] }),
    answer: (answer) => {
      expectSuccess(answer);
      // Rows reach the log within a second: the page may still be empty.
      const rows = (answer.data ?? []) as Record<string, unknown>[];
      for (const row of rows) {
        expect(row).toMatchObject({ method_id: '/v1/test/test', started: expect.any(String), runtime: expect.any(Number), is_error: expect.any(Boolean), status: expect.any(Number) });
      }
      expect(answer.meta).toMatchObject({ total: expect.any(Number), summary: { total: answer.meta.total } });
    },
  },
  '/v1/admin/api-call-log/read-latest-stat': {
    access: 'admin',
    answer: (answer) => {
      expectSuccess(answer);
      const methods = answer.data as Record<string, unknown>[];
      expect(Array.isArray(methods)).toBe(true);
      for (const method of methods) {
        expect(method).toMatchObject({ id: expect.any(String), last_updated: expect.any(String), load: expect.any(Array), requests: expect.any(Array) });
        expect(method.load).toHaveLength(60);
      }
    },
  },
  '/v1/admin/api-call-log/read-history-stat': {
    access: 'admin',
    call: () => ({ args: ['/v1/test/test'] }),
    answer: (answer) => {
      expectSuccess(answer);
      const stats = answer.data as { id: string; load: unknown[]; requests: unknown[] };
      expect(stats).toMatchObject({ id: '/v1/test/test', last_updated: expect.any(String) });
      expect(stats.load).toHaveLength(4320);
      expect(stats.requests).toHaveLength(4320);
    },
  },

  // api-v1-schemas.md "Application settings": permissions `admin`; decisions.md "Settings".
  '/v1/admin/settings/read': {
    access: 'admin',
    answer: (answer) => {
      expectSuccess(answer);
      const settings = answer.data as Record<string, unknown>;
      expect(Object.keys(settings)).toEqual(expect.arrayContaining(SETTINGS_FIELDS));
      expect(settings.smtp_password).toBeNull();
      expect(typeof settings.smtp_password_set).toBe('boolean');
      expect(['starttls', 'tls', 'none']).toContain(settings.smtp_tls);
    },
  },
  '/v1/admin/settings/update': {
    access: 'admin',
    call: () => ({ args: [{ signup_enabled: true }] }),
    answer: (answer) => expectNoData(answer),
  },
  // protocol.md §4.2: the SMTP reply is the result; a server that cannot be reached is 500 with the reason.
  '/v1/admin/settings/test-smtp': {
    access: 'admin',
    call: () => ({ args: [{ smtp_hostname: '127.0.0.1', smtp_port: 1 }] }),
    answer: (answer) => {
      expect({ status: answer.status, exception: answer.exception }).toEqual({ status: 500, exception: false });
      expect(answer.statusText).toMatch(/ECONNREFUSED|connect/i);
    },
  },

  // api-v1-reference.md "Application users management": every method `admin`; protocol.md §4.3.
  '/v1/admin/users/read': {
    access: 'admin',
    answer: (answer) => {
      expectSuccess(answer);
      const rows = answer.data as Record<string, unknown>[];
      expect(rows.length).toBeGreaterThan(0);
      for (const row of rows) {
        expect(row).toMatchObject({
          id: expect.stringMatching(/^\d+$/),
          name: expect.any(String),
          enabled: expect.any(Boolean),
          permissions: expect.any(Object),
          created: expect.any(String),
          avatar: expect.any(String),
        });
      }
      expect(rows.map((row) => row.id)).not.toContain('1');
      expect(answer.meta).toMatchObject({ rows: rows.length, total: expect.any(Number), summary: { total: answer.meta.total } });
    },
  },
  '/v1/admin/users/create': {
    access: 'admin',
    call: () => ({ args: [{ username: unique('created') }] }),
    answer: (answer) => {
      expectSuccess(answer);
      expect(answer.data).toEqual({ id: expect.stringMatching(/^\d+$/), name: expect.stringMatching(/^created_/), password: expect.any(String), enabled: true, permissions: {} });
    },
  },
  '/v1/admin/users/delete': {
    access: 'admin',
    call: async (cell) => ({ args: [await targetUser(cell)] }),
    answer: (answer) => expectRows(answer, 1),
  },
  '/v1/admin/users/set-enabled': {
    access: 'admin',
    call: async (cell) => ({ args: [await targetUser(cell), false] }),
    answer: (answer) => expectRows(answer, 1),
  },
  '/v1/admin/users/set-password': {
    access: 'admin',
    call: async (cell) => ({ args: [await targetUser(cell), 'a-new-matrix-password'] }),
    answer: (answer) => {
      expectSuccess(answer);
      expect(answer.data).toEqual({ password: 'a-new-matrix-password' });
    },
  },
  '/v1/admin/users/get-permissions': {
    access: 'admin',
    call: async (cell) => ({ args: [await targetUser(cell)] }),
    // Only the permissions the calling admin holds; the fresh user has none of them.
    answer: (answer) => {
      expectSuccess(answer);
      expect(answer.data).toEqual([adminState(false)]);
    },
  },
  '/v1/admin/users/set-permissions': {
    access: 'admin',
    call: async (cell) => ({ args: [await targetUser(cell), {}] }),
    answer: (answer) => expectNoData(answer),
  },
  '/v1/admin/users/update-permissions': {
    access: 'admin',
    call: async (cell) => ({ args: [await targetUser(cell), {}] }),
    answer: (answer) => expectNoData(answer),
  },
  '/v1/admin/users/suggest': {
    access: 'admin',
    call: () => ({ args: [{ where: { name: ['like', 'root'] } }] }),
    // Unlike read, suggest includes root.
    answer: (answer) => {
      expectSuccess(answer);
      expect(answer.data).toEqual(expect.arrayContaining([{ id: '1', name: 'root' }]));
    },
  },
  '/v1/admin/users/set-username': {
    access: 'admin',
    call: async (cell) => ({ args: [await targetUser(cell), unique('renamed'), 'renamed-password'] }),
    answer: (answer) => {
      expectSuccess(answer);
      expect(answer.data).toEqual({ username: expect.stringMatching(/^renamed_/), password: 'renamed-password' });
    },
  },
  '/v1/admin/users/delete-sessions': {
    access: 'admin',
    // The fresh user has the one session it signed in with.
    call: async (cell) => ({ args: [await targetUser(cell)] }),
    answer: (answer) => expectRows(answer, 1),
  },

  // api-v1-reference.md "API access tokens": every method `user`, scoped to the caller; protocol.md §4.4.
  '/v1/api-tokens/read': {
    access: 'user',
    answer: (answer, { principal }) => {
      expectSuccess(answer);
      const rows = answer.data as Record<string, unknown>[];
      expect(rows.length).toBeGreaterThan(0);
      for (const row of rows) {
        expect(row).toEqual({ id: expect.any(String), user_id: principal.user!.id, name: expect.any(String), enabled: expect.any(Boolean), created: expect.any(String), permissions: expect.any(Object) });
      }
      expect(answer.meta).toMatchObject({ total: expect.any(Number), summary: { total: answer.meta.total } });
    },
  },
  '/v1/api-tokens/create': {
    access: 'user',
    call: () => ({ args: ['matrix'] }),
    answer: (answer, { principal }) => {
      expectSuccess(answer);
      expect(answer.data).toEqual({ id: expect.any(String), token: expect.stringMatching(/^[A-Za-z0-9_-]+$/), userId: principal.user!.id, username: principal.user!.name, permissions: {} });
    },
  },
  '/v1/api-tokens/delete': {
    access: 'user',
    call: async (cell) => ({ args: [await targetToken(cell)] }),
    answer: (answer) => expectNoData(answer),
  },
  '/v1/api-tokens/set-enabled': {
    access: 'user',
    call: async (cell) => ({ args: [await targetToken(cell), false] }),
    answer: (answer) => expectRows(answer, 1),
  },
  '/v1/api-tokens/get-permissions': {
    access: 'user',
    call: async (cell) => ({ args: [await targetToken(cell)] }),
    // Every permission the owner has (the owner of an admin token holds admin), enabled where the new token has it too: never.
    answer: (answer, { principal }) => {
      expectSuccess(answer);
      expect(answer.data).toEqual(ACTS_AS[principal.name] === 'admin' ? [adminState(false)] : []);
    },
  },
  '/v1/api-tokens/set-permissions': {
    access: 'user',
    call: async (cell) => ({ args: [await targetToken(cell), {}] }),
    answer: (answer) => expectNoData(answer),
  },
  '/v1/api-tokens/update-permissions': {
    access: 'user',
    call: async (cell) => ({ args: [await targetToken(cell), {}] }),
    answer: (answer) => expectNoData(answer),
  },

  // api-v1-reference.md "Notifications": every method `*`, scoped to the caller; protocol.md §4.5, decisions.md "Reads".
  '/v1/notifications/read': {
    access: '*',
    answer: (answer, { principal }) => {
      expectSuccess(answer);
      if (ACTS_AS[principal.name] === 'guest') {
        expect(answer.data ?? null).toBeNull();
        expect(answer.meta).toEqual({ total: 0, summary: { total: 0 } });
        return;
      }
      // Every user of the matrix signed in at least once: the sign-in notice is there.
      const rows = answer.data as Record<string, unknown>[];
      expect(rows.length).toBeGreaterThan(0);
      for (const row of rows) {
        expect(row).toEqual({ id: expect.stringMatching(/^\d+$/), date: expect.any(String), subject: expect.any(String), body: expect.any(String), read: expect.any(Boolean) });
      }
      expect(answer.meta).toMatchObject({ rows: rows.length, total: expect.any(Number), summary: { total: answer.meta.total } });
    },
  },
  '/v1/notifications/mark-read': {
    access: '*',
    call: async (cell) => ({ args: [[await ownNotification(cell)]] }),
    answer: expectOwnRow,
  },
  '/v1/notifications/mark-unread': {
    access: '*',
    call: async (cell) => ({ args: [[await ownNotification(cell, true)]] }),
    answer: expectOwnRow,
  },
  '/v1/notifications/delete': {
    access: '*',
    call: async (cell) => ({ args: [[await ownNotification(cell)]] }),
    answer: expectOwnRow,
  },

  // api-v1-reference.md "User profile": every method `user`; protocol.md §4.6.
  '/v1/profile/read': {
    access: 'user',
    answer: (answer, { principal }) => {
      expectSuccess(answer);
      const profile = answer.data as Record<string, unknown>;
      expect(Object.keys(profile).sort()).toEqual(['avatar', 'email', 'email_confirmed', 'id', 'name', 'permissions', 'telegram_name']);
      expect(profile).toMatchObject({ id: principal.user!.id, name: principal.user!.name, email_confirmed: expect.any(Boolean), avatar: expect.any(String) });
      // The caller's effective permissions: an API token's are its own map within its owner's.
      expect(profile.permissions).toEqual(ACTS_AS[principal.name] === 'admin' ? { admin: true } : {});
    },
  },
  '/v1/profile/set-email': {
    access: 'user',
    call: () => ({ args: [`${unique('mail')}@example.com`] }),
    answer: (answer) => expectRows(answer, 1),
  },
  '/v1/profile/set-telegram-username': {
    access: 'user',
    call: () => ({ args: [telegramName()] }),
    answer: (answer) => expectRows(answer, 1),
  },
  '/v1/profile/set-password': {
    access: 'user',
    // The same password again: root must still sign in with ROOT_PASSWORD afterwards.
    call: ({ principal }) => ({ args: [principal.user?.password ?? MATRIX_PASSWORD] }),
    answer: (answer, { principal }) => {
      expectSuccess(answer);
      expect(answer.data).toEqual({ password: principal.user!.password });
    },
    endsCredentials: true,
  },
  '/v1/profile/delete-sessions': {
    access: 'user',
    answer: (answer) => {
      expectSuccess(answer);
      expect(answer.data ?? null).toBeNull();
      expect(answer.meta.rows).toEqual(expect.any(Number));
    },
    endsCredentials: true,
  },

  // api-v1-reference.md "Session": every method `*`; protocol.md §4.7.
  '/v1/session/signin': {
    access: '*',
    call: ({ kit }) => ({ args: [{ username: signinTarget(kit).name, password: MATRIX_PASSWORD }] }),
    answer: (answer, { kit }) => {
      expectSuccess(answer);
      expect(answer.data).toEqual({
        token: expect.stringMatching(/^[A-Za-z0-9_-]+$/),
        auth: { user_id: signinTarget(kit).id, username: signinTarget(kit).name, permissions: {}, avatar: expect.any(String) },
        settings: {},
      });
    },
  },
  '/v1/session/signup': {
    access: '*',
    call: () => ({ args: [{ username: unique('signup'), password: MATRIX_PASSWORD }] }),
    answer: (answer) => {
      expectSuccess(answer, { status: 200, statusText: 'You were registered.' });
      expect(answer.data).toBeUndefined();
    },
  },
  // protocol.md §4.7 with decisions.md: the send methods always answer 200, whoever the account is.
  '/v1/session/send-confirmation-email': {
    access: '*',
    call: () => ({ args: [unique('nobody')] }),
    answer: (answer) => expectNoData(answer),
  },
  '/v1/session/send-password-reset-email': {
    access: '*',
    call: () => ({ args: [`${unique('nobody')}@example.com`] }),
    answer: (answer) => expectNoData(answer),
  },
  '/v1/session/confirm-email-by-token': {
    access: '*',
    call: () => ({ args: ['not-a-token'] }),
    answer: (answer) => expect({ status: answer.status, statusText: answer.statusText }).toEqual({ status: 400, statusText: 'Token is invalid' }),
  },
  '/v1/session/set-password-by-token': {
    access: '*',
    call: () => ({ args: ['not-a-token', 'matrix-new-password'] }),
    answer: (answer) => expect({ status: answer.status, statusText: answer.statusText }).toEqual({ status: 400, statusText: 'Token is invalid' }),
  },
  '/v1/session/signout': {
    access: '*',
    // Only a session can be signed out; an API token or a guest gets 404 "Not Found".
    answer: (answer, { principal }) => {
      if (principal.session) return expectSuccess(answer);
      expect({ status: answer.status, statusText: answer.statusText, exception: answer.exception }).toEqual({ status: 404, statusText: 'Not Found', exception: false });
    },
    endsCredentials: true,
  },

  // api-v1-reference.md "Test": `*`; protocol.md §4.8.
  '/v1/test/test': {
    access: '*',
    call: () => ({ args: ['matrix'] }),
    answer: (answer) => {
      expectSuccess(answer);
      expect(new Date(answer.data as string).toISOString()).toBe(answer.data);
    },
  },
  '/v1/test/upload': {
    access: '*',
    // The 6.x shape (protocol.md §1.7): a `params` part with the arguments after the file, then the file.
    call: ({ transport }) => {
      if (transport === 'ws') return { args: [] };
      const form = new FormData();
      form.append('params', new Blob(['[{"a":1}]'], { type: 'application/json' }));
      form.append('file', new Blob(['matrix upload'], { type: 'text/plain' }), 'matrix.txt');
      return { upload: form };
    },
    // Uploads are HTTP only: over WebSocket every caller gets -32900.
    answer: (answer, { transport }) => {
      if (transport === 'http') {
        expectSuccess(answer);
        expect(answer.data).toEqual({ a: 1 });
        return;
      }
      expect({ status: answer.status, statusText: answer.statusText }).toEqual({ status: -32900, statusText: 'Upload using websockets is not supported' });
    },
  },
};

/** The user every signin cell signs in as, one per gateway. */
const signinTargets = new WeakMap<TestGateway, { id: string; name: string }>();
const signinTarget = (kit: Kit) => signinTargets.get(kit.gw)!;

const METHOD_IDS = Object.keys(EXPECTATIONS);
const ORDERED_IDS = [
  ...METHOD_IDS.filter((id) => !EXPECTATIONS[id]!.endsCredentials),
  // Among the last: what ends other sessions before what ends the caller's own.
  '/v1/profile/set-password',
  '/v1/profile/delete-sessions',
  '/v1/session/signout',
];

/** The documented refusal of a call the principal may not make (protocol.md §2: -32801, HTTP 401). */
function expectDenied(answer: Answer): void {
  expect({ status: answer.status, statusText: answer.statusText, exception: answer.exception, meta: answer.meta }).toEqual({
    status: -32801,
    statusText: 'Insufficient permissions to call API method',
    exception: false,
    meta: {},
  });
  expect(answer.data).toBeUndefined();
  if (answer.httpStatus !== undefined) expect(answer.httpStatus).toBe(401);
}

/**
 * A fresh set of principals, each its own user, so that what one call does to its user (ending
 * other sessions, say) cannot change another principal. Root gets a fresh session too. Every user
 * behind a principal owns an API token, so that reading one's tokens lists something.
 */
async function createPrincipals(gw: TestGateway, root: string): Promise<Record<PrincipalName, Principal>> {
  const [user, admin, tokenOwner, adminTokenOwner, disabledTokenOwner, disabledUser] = await Promise.all([
    createSignedInUser(gw, root, { password: MATRIX_PASSWORD }),
    createSignedInUser(gw, root, { password: MATRIX_PASSWORD, permissions: ['admin'] }),
    createSignedInUser(gw, root, { password: MATRIX_PASSWORD }),
    createSignedInUser(gw, root, { password: MATRIX_PASSWORD, permissions: ['admin'] }),
    createSignedInUser(gw, root, { password: MATRIX_PASSWORD }),
    createSignedInUser(gw, root, { password: MATRIX_PASSWORD }),
  ]);
  const [token, adminToken, disabledToken, disabledUserToken] = await Promise.all([
    createApiToken(gw, tokenOwner.token),
    createApiToken(gw, adminTokenOwner.token, undefined, ['admin']),
    createApiToken(gw, disabledTokenOwner.token),
    createApiToken(gw, disabledUser.token),
    createApiToken(gw, user.token),
    createApiToken(gw, admin.token),
    createApiToken(gw, root),
  ]);
  const disable = await httpCall(gw, '/v1/api-tokens/set-enabled', [disabledToken.id, false], { token: disabledTokenOwner.token });
  const disableUser = await httpCall(gw, '/v1/admin/users/set-enabled', [disabledUser.id, false], { token: root });
  if (disable.status !== 200 || disableUser.status !== 200) throw new Error('could not disable the token and the user');
  const person = (created: { id: string; name: string }) => ({ id: created.id, name: created.name, password: MATRIX_PASSWORD });
  const guest = (name: PrincipalName, credential: string | null): Principal => ({ name, token: credential, session: false, user: null, setup: null });
  return {
    guest: guest('guest', null),
    user: { name: 'user', token: user.token, session: true, user: person(user), setup: user.token },
    admin: { name: 'admin', token: admin.token, session: true, user: person(admin), setup: admin.token },
    root: { name: 'root', token: root, session: true, user: { id: '1', name: 'root', password: ROOT_PASSWORD }, setup: root },
    token: { name: 'token', token: token.token, session: false, user: person(tokenOwner), setup: tokenOwner.token },
    adminToken: { name: 'adminToken', token: adminToken.token, session: false, user: person(adminTokenOwner), setup: adminTokenOwner.token },
    disabledToken: guest('disabledToken', disabledToken.token),
    disabledUserToken: guest('disabledUserToken', disabledUserToken.token),
  };
}

describe('the v1 authorization matrix covers the whole method table', () => {
  it('has an expectation for every method served and none for a method that is not', () => {
    expect([...METHOD_IDS].sort()).toEqual(V1_METHODS.map((method) => method.id).sort());
    expect([...ORDERED_IDS].sort()).toEqual([...METHOD_IDS].sort());
  });
});

describe.each(MODES)('v1 authorization matrix (%s)', (mode) => {
  let gw: TestGateway;

  beforeAll(async () => {
    gw = await startTestGateway(mode);
    const root = await rootSession(gw, ROOT_PASSWORD);
    const target = await createUser(gw, root, { password: MATRIX_PASSWORD });
    signinTargets.set(gw, target);
    // The matrix calls each method from every principal over both transports, more often and more at once than
    // the tight per-method limits allow (they are tested in test/hardening/limits.test.ts): lift them here.
    const lifted = Object.fromEntries(Object.keys(DECLARED_CALL_LIMITS).map((key) => [key, { perAddress: null, perAccount: null, perToken: null, concurrent: null, concurrentPerCaller: null }]));
    const answer = await httpCall(gw, '/v1/admin/settings/update', [{ call_limits: lifted }], { token: root });
    expect(answer.status, JSON.stringify(answer.envelope)).toBe(200);
  });
  afterAll(() => gw?.close());

  it('puts 204 results (an unchanged set-enabled) on an HTTP 200 line with a JSON body', async () => {
    const { token: root } = await signIn(gw, 'root', ROOT_PASSWORD);
    const person = await createSignedInUser(gw, root);
    const token = await createApiToken(gw, person.token);
    const unchanged: [string, unknown[], string][] = [
      ['/v1/admin/users/set-enabled', [person.id, true], root],
      ['/v1/api-tokens/set-enabled', [token.id, true], person.token],
    ];
    for (const [method, args, bearer] of unchanged) {
      // httpCall refuses anything but a JSON body on a 2xx–4xx line other than 204/205/304.
      const answer = await httpCall(gw, method, args, { token: bearer });
      expect(answer.httpStatus, method).toBe(200);
      expect(answer.contentType).toMatch(/^application\/json/);
      expect(answer.envelope.result, method).toEqual({ status: 204, status_text: 'No Content', exception: false, meta: { rows: 0 } });
    }
  });

  describe.each(TRANSPORTS)('over %s', (transport: Transport) => {
    let principals: Record<PrincipalName, Principal>;
    let kit: Kit;
    const sockets = new Map<PrincipalName, RawWs>();

    beforeAll(async () => {
      // Root's own cells end its other sessions: this block prepares with sessions of its own.
      const { token: root } = await signIn(gw, 'root', ROOT_PASSWORD);
      const bystander = await createSignedInUser(gw, root);
      kit = { gw, root, bystander: { id: bystander.id, session: bystander.token } };
      principals = await createPrincipals(gw, (await signIn(gw, 'root', ROOT_PASSWORD)).token);
      if (transport === 'ws') {
        for (const name of PRINCIPALS) sockets.set(name, await RawWs.open(apiUrl(gw, 'ws'), principals[name].token));
      }
    });
    afterAll(async () => {
      await Promise.all([...sockets.values()].map((raw) => raw.close()));
    });

    async function run(id: string, cell: Cell): Promise<Answer> {
      const made = (await EXPECTATIONS[id]!.call?.(cell)) ?? { args: [] };
      const token = cell.principal.token;
      if ('upload' in made) return httpCall(gw, id, undefined, { token, method: 'POST', body: made.upload });
      if (transport === 'http') return httpCall(gw, id, made.args, { token });
      return sockets.get(cell.principal.name)!.call(id, made.args);
    }

    it.each(ORDERED_IDS)('%s', async (id) => {
      const expectation = EXPECTATIONS[id]!;
      const cells = PRINCIPALS.map((name): Cell => ({ principal: principals[name], allowed: granted(expectation.access, name), transport, kit }));
      const answers = await Promise.all(cells.map((cell) => run(id, cell)));
      const wrong: string[] = [];
      cells.forEach((cell, index) => {
        const answer = answers[index]!;
        try {
          if (cell.allowed) expectation.answer(answer, cell);
          else expectDenied(answer);
        } catch (error) {
          const got = `${answer.status} ${answer.statusText} ${JSON.stringify(answer.data)?.slice(0, 300)}`;
          wrong.push(`${cell.principal.name} (${cell.allowed ? 'allowed' : 'refused'}): ${(error as Error).message.split('\n')[0]}; got ${got}`);
        }
      });
      expect(wrong, `access "${expectation.access}"`).toEqual([]);
    });
  });
});
