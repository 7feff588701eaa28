import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { V1Method } from '../../src/rpc-facade/method.ts';
import { V1_METHODS } from '../../src/rpc-facade/methods/index.ts';
import { MODES, ROOT_PASSWORD, startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { createApiToken, createSignedInUser, rootSession, signIn } from '../helpers/graphql.ts';
import { apiUrl, httpCall, minimalArgs, RawWs, TRANSPORTS, type Outcome, type Transport } from '../helpers/v1.ts';

/**
 * Who may call what: every method of the table against every kind of principal, over HTTP and
 * WebSocket. A call passes the permission check when it gets anything but -32801; whether it must
 * is computed from the method's `permission` alone.
 */

const PRINCIPALS = ['guest', 'user', 'admin', 'root', 'token', 'adminToken', 'disabledToken', 'disabledUserToken'] as const;
type PrincipalName = (typeof PRINCIPALS)[number];

/** Disabled tokens and tokens of disabled users authenticate nobody: they are guests. */
const SIGNED_IN: ReadonlySet<PrincipalName> = new Set(['user', 'admin', 'root', 'token', 'adminToken']);
const HOLDS_ADMIN: ReadonlySet<PrincipalName> = new Set(['admin', 'root', 'adminToken']);

function mayCall(permission: string, principal: PrincipalName): boolean {
  switch (permission) {
    case '*':
      return true;
    case 'guest':
      return !SIGNED_IN.has(principal);
    case 'user':
      return SIGNED_IN.has(principal);
    case 'root':
      return principal === 'root';
    case 'admin':
      return HOLDS_ADMIN.has(principal);
    default:
      throw new Error(`no expectation for the permission "${permission}": extend mayCall`);
  }
}

/** Methods that end the caller's own credential run after every other method. */
const ENDS_CREDENTIAL = new Set(['/v1/session/signout']);
const METHODS: readonly V1Method[] = [
  ...V1_METHODS.filter((method) => !ENDS_CREDENTIAL.has(method.id)),
  ...V1_METHODS.filter((method) => ENDS_CREDENTIAL.has(method.id)),
];

type Tokens = Record<PrincipalName, string | null>;

/**
 * A fresh set of principals, each its own user, so that what one call does to its user (ending
 * other sessions, say) cannot change another principal. Root gets a fresh session too.
 */
async function createPrincipals(gw: TestGateway): Promise<Tokens> {
  const { token: root } = await signIn(gw, 'root', ROOT_PASSWORD);
  const [user, admin, tokenOwner, adminTokenOwner, disabledTokenOwner, disabledUser] = await Promise.all([
    createSignedInUser(gw, root),
    createSignedInUser(gw, root, { permissions: ['admin'] }),
    createSignedInUser(gw, root),
    createSignedInUser(gw, root, { permissions: ['admin'] }),
    createSignedInUser(gw, root),
    createSignedInUser(gw, root),
  ]);
  const [token, adminToken, disabledToken, disabledUserToken] = await Promise.all([
    createApiToken(gw, tokenOwner.token),
    createApiToken(gw, adminTokenOwner.token, undefined, ['admin']),
    createApiToken(gw, disabledTokenOwner.token),
    createApiToken(gw, disabledUser.token),
  ]);
  const disable = await httpCall(gw, '/v1/api-tokens/set-enabled', [disabledToken.id, false], { token: disabledTokenOwner.token });
  const disableUser = await httpCall(gw, '/v1/admin/users/set-enabled', [disabledUser.id, false], { token: root });
  if (disable.status !== 200 || disableUser.status !== 200) throw new Error('could not disable the token and the user');
  return {
    guest: null,
    user: user.token,
    admin: admin.token,
    root,
    token: token.token,
    adminToken: adminToken.token,
    disabledToken: disabledToken.token,
    disabledUserToken: disabledUserToken.token,
  };
}

describe.each(MODES)('v1 authorization matrix (%s)', (mode) => {
  let gw: TestGateway;

  beforeAll(async () => {
    gw = await startTestGateway(mode);
    await rootSession(gw, ROOT_PASSWORD);
  });
  afterAll(() => gw?.close());

  it('has an expectation for the permission of every method', () => {
    for (const method of V1_METHODS) for (const principal of PRINCIPALS) expect(typeof mayCall(method.permission, principal)).toBe('boolean');
    expect(METHODS.map((method) => method.id).sort()).toEqual(V1_METHODS.map((method) => method.id).sort());
  });

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
    let tokens: Tokens;
    const sockets = new Map<PrincipalName, RawWs>();

    beforeAll(async () => {
      tokens = await createPrincipals(gw);
      if (transport === 'ws') {
        for (const principal of PRINCIPALS) sockets.set(principal, await RawWs.open(apiUrl(gw, 'ws'), tokens[principal]));
      }
    });
    afterAll(async () => {
      await Promise.all([...sockets.values()].map((raw) => raw.close()));
    });

    const call = (principal: PrincipalName, method: V1Method): Promise<Outcome> =>
      transport === 'http'
        ? httpCall(gw, method.id, minimalArgs(method), { token: tokens[principal] })
        : sockets.get(principal)!.call(method.id, minimalArgs(method));

    it.each(METHODS.map((method) => [method.id, method] as const))('%s', async (_id, method) => {
      const outcomes = await Promise.all(PRINCIPALS.map(async (principal) => [principal, await call(principal, method)] as const));
      const wrong = outcomes
        .filter(([principal, outcome]) => (outcome.status !== -32801) !== mayCall(method.permission, principal))
        .map(([principal, outcome]) => `${principal}: ${outcome.status} ${outcome.statusText}`);
      expect(wrong, `permission "${method.permission}"`).toEqual([]);
      for (const [principal, outcome] of outcomes) {
        expect(outcome.status, `${principal} got a server error`).not.toBe(500);
        if (outcome.status === -32801) expect(outcome.statusText).toBe('Insufficient permissions to call API method');
      }
    });
  });
});
