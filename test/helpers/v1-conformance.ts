import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { MODES, ROOT_PASSWORD, startTestGateway, type TestGateway } from './gateway.ts';
import { createApiToken, createSignedInUser, createUser, rootSession, uniqueUsername, waitFor, type CreatedUser } from './graphql.ts';
import {
  apiUrl,
  mapLimit,
  offeredProtocols,
  RawWs,
  RecordingProxy,
  TRANSPORTS,
  type RecordedRequest,
  type RecordedUpgrade,
  type Transport,
} from './v1.ts';

/**
 * The conformance suite of protocol.md §6, run with a published v1 client. It imports no client
 * itself: 7.x and 6.x clash on a global when loaded in one process, so each has its own test file
 * that passes its client in as a `ClientKit`.
 */

/** The `res` of the published clients (protocol.md §1.8). */
export interface ClientResult {
  readonly ok: boolean;
  readonly status: number;
  readonly statusText: string;
  readonly data?: unknown;
  readonly meta: Record<string, unknown>;
}

/** What the tests use of a published client. */
export interface V1Client {
  token: string | null;
  readonly isConnected: boolean;
  call(method: string, ...args: unknown[]): Promise<ClientResult>;
  voidCall(method: string, ...args: unknown[]): void;
  on(name: string, listener: (...args: unknown[]) => void): unknown;
}

export interface ClientKit {
  readonly version: string;
  create(url: string, token: string | null): V1Client;
  /** 7.x `res.isException`, 6.x `res.exception`. */
  isException(result: ClientResult): boolean;
  /** The upload shapes this client version sends; each must answer 200 with `data` deep-equal to `{ a: 1 }`. */
  readonly uploads: readonly { readonly shape: string; run(client: V1Client, filePath: string): Promise<ClientResult> }[];
  /** The client event raised when the server ends a connection's session by deleting / disabling it. */
  readonly signedOutEvents: { readonly deleted: string; readonly disabled: string };
}

const DENIED = [-32801, 'Insufficient permissions to call API method'] as const;
/** Statuses a WebSocket client reports while it switches connections. */
const RECONNECTING = new Set([1000, 1006, 4000]);

type Data = Record<string, unknown>;

function dataOf<T = Data>(result: ClientResult): T {
  return result.data as T;
}

/**
 * The published clients have no close(): they reconnect forever. Switching the reconnect off and
 * then changing the token (which closes every socket) ends them.
 */
async function closeClient(client: V1Client): Promise<void> {
  Object.assign(client, { connect: async () => {}, _connectWebSocket: async () => {} });
  client.token = client.token ? null : 'closing';
  await waitFor(async () => !client.isConnected, 5000);
}

/** The connection events a client raises (in WS mode), recorded so a missing one can be reported with what came instead. */
function recordEvents(client: V1Client) {
  const seen: string[] = [];
  for (const name of ['connect', 'disconnect', 'sessionDelete', 'sessionDisable', 'sessionReload', 'signout']) {
    client.on(name, (...args: unknown[]) => seen.push(args.length > 0 ? `${name} (${args.map(String).join(', ')})` : name));
  }
  return {
    seen,
    async waitFor(name: string): Promise<void> {
      try {
        await waitFor(async () => seen.includes(name), 10_000);
      } catch {
        throw new Error(`the client raised no "${name}" event; it raised: ${JSON.stringify(seen)}`);
      }
    },
  };
}

export function defineConformanceSuite(kit: ClientKit): void {
  describe.each(MODES)(`v1 conformance with the published client ${kit.version} (%s)`, (mode) => {
    let gw: TestGateway;
    let root: string;
    let proxy: RecordingProxy;
    let uploadDir: string;
    let uploadFile: string;
    const opened: V1Client[] = [];
    const raws: RawWs[] = [];

    beforeAll(async () => {
      gw = await startTestGateway(mode);
      root = await rootSession(gw, ROOT_PASSWORD);
      uploadDir = mkdtempSync(path.join(tmpdir(), 'v1-upload-'));
      uploadFile = path.join(uploadDir, 'up.txt');
      writeFileSync(uploadFile, 'hello upload');
    });
    // Each test gets a proxy of its own, so what a test reads of the traffic is what it sent.
    beforeEach(async () => {
      proxy = new RecordingProxy(gw.gateway.port);
      await proxy.start();
    });
    afterEach(async () => {
      await Promise.all(opened.splice(0).map(closeClient));
      await Promise.all(raws.splice(0).map((raw) => raw.close()));
      const traffic = proxy.requests;
      await proxy.close();
      // §6.18/§6.23 hold for every answer a client got, in every test.
      expect(wireFaults(traffic), 'HTTP answers that break the published clients').toEqual([]);
    });
    afterAll(async () => {
      await gw?.close();
      if (uploadDir) rmSync(uploadDir, { recursive: true, force: true });
    });

    const expectOk = (result: ClientResult, status = 200, statusText = 'OK') => {
      expect({ ok: result.ok, status: result.status, statusText: result.statusText }, JSON.stringify(result)).toEqual({ ok: true, status, statusText });
      expect(kit.isException(result)).toBe(false);
      expect(result.meta).toBeTypeOf('object');
    };
    const expectError = (result: ClientResult, status: number, statusText?: string) => {
      expect({ ok: result.ok, status: result.status, statusText: statusText === undefined ? undefined : result.statusText }, JSON.stringify(result)).toEqual({
        ok: false,
        status,
        statusText,
      });
      expect(result.data).toBeUndefined();
      expect(result.meta !== null && typeof result.meta === 'object' && !Array.isArray(result.meta)).toBe(true);
      expect(kit.isException(result)).toBe(false);
    };
    const observe = async (token: string | null) => {
      const raw = await RawWs.open(apiUrl(gw, 'ws'), token);
      raws.push(raw);
      return raw;
    };
    const user = (permissions: string[] = []) => createSignedInUser(gw, root, { permissions });

    describe.each(TRANSPORTS)('over %s', (transport: Transport) => {
      const connect = (token: string | null = null): V1Client => {
        const client = kit.create(apiUrl(proxy, transport), token);
        opened.push(client);
        return client;
      };
      /** A call that waits out a WebSocket client's reconnection (1000/1006/4000) before it counts. */
      const settled = async (client: V1Client, method: string, ...args: unknown[]): Promise<ClientResult> => {
        const statuses: number[] = [];
        const deadline = Date.now() + 10_000;
        for (;;) {
          const result = await client.call(method, ...args);
          statuses.push(result.status);
          if (!RECONNECTING.has(result.status)) return result;
          if (Date.now() > deadline) throw new Error(`${method} still answers ${result.status} after 10 s; statuses: ${statuses.join(' ')}`);
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
      };
      const switchToken = async (client: V1Client, token: string | null) => {
        client.token = token;
        expectOk(await settled(client, '/v1/test/test'));
      };
      const upgradesWith = (token: string, since: number): RecordedUpgrade[] =>
        proxy.upgrades.slice(since).filter((upgrade) => offeredProtocols(upgrade.headers)[1] === token);
      // Transport-specific items are only defined where they apply (nothing is skipped).
      const onWs = (name: string, test: () => Promise<void>) => {
        if (transport === 'ws') it(name, test);
      };
      const onHttp = (name: string, test: () => Promise<void>) => {
        if (transport === 'http') it(name, test);
      };

      it('§6.1–2 test/test answers 200 "OK" with the server time, by absolute and relative name', async () => {
        const upgradesBefore = proxy.upgrades.length;
        const client = connect();
        const absolute = await client.call('/v1/test/test', 'x');
        expectOk(absolute);
        expect(absolute.data).toBeTypeOf('string');
        expect(new Date(absolute.data as string).toISOString()).toBe(absolute.data);
        const requestsBefore = proxy.requests.length;
        const relative = await client.call('test/test');
        expectOk(relative);
        expect(new Date(relative.data as string).toISOString()).toBe(relative.data);
        if (transport === 'http') {
          const seen = proxy.requests.slice(requestsBefore);
          expect(seen.map((request) => [request.method, request.url, request.body.length])).toEqual([['GET', '/api/v1/test/test', 0]]);
          expect(seen[0]!.headers['content-type']).toMatch(/^application\/json/);
          expect(seen[0]!.headers['content-length'] ?? '0').toBe('0');
        } else {
          const upgrades = proxy.upgrades.slice(upgradesBefore);
          expect(upgrades).toHaveLength(1);
          expect(offeredProtocols(upgrades[0]!.headers)).toEqual(['jsonrpc_2.0']);
          const sent = (RecordingProxy.clientMessages(upgrades[0]!) as Data[]).filter((message) => message.method === '/v1/test/test');
          expect(sent.map((message) => message.params)).toEqual([['x'], []]);
        }
      });

      onHttp('§6.3 a call with arguments is a POST of the JSON arguments with the bearer token', async () => {
        const person = await user();
        const client = connect(person.token);
        const before = proxy.requests.length;
        expectOk(await client.call('/v1/test/test', 'tok'));
        const seen = proxy.requests.slice(before);
        expect(seen).toHaveLength(1);
        expect(seen[0]).toMatchObject({ method: 'POST', url: '/api/v1/test/test' });
        expect(seen[0]!.body.toString('utf8')).toBe(JSON.stringify(['tok']));
        expect(seen[0]!.headers['content-type']).toMatch(/^application\/json/);
        expect(seen[0]!.headers.authorization).toBe(`Bearer ${person.token}`);
      });

      onWs('§6.4–5 the upgrade offers jsonrpc_2.0 and the token, answers carry the request id, void calls get none', async () => {
        const person = await user();
        const before = proxy.upgrades.length;
        const client = connect(person.token);
        expectOk(await client.call('/v1/test/test', 'a'));
        client.voidCall('/v1/test/test', 'void');
        expectOk(await client.call('/v1/test/test', 'b'));
        const [upgrade] = upgradesWith(person.token, before);
        expect(upgrade, 'the client connected through the proxy').toBeDefined();
        expect(upgrade!.response).toMatch(/^HTTP\/1\.1 101 /);
        expect(upgrade!.response).toMatch(/^sec-websocket-protocol: jsonrpc_2\.0$/im);
        const sent = (RecordingProxy.clientMessages(upgrade!) as Data[]).filter((message) => message.method === '/v1/test/test');
        expect(sent.map((message) => [message.params, 'id' in message])).toEqual([
          [['a'], true],
          [['void'], false],
          [['b'], true],
        ]);
        const answered = (RecordingProxy.serverMessages(upgrade!) as Data[]).filter((message) => 'id' in message);
        expect(answered.map((message) => message.id)).toEqual(sent.filter((message) => 'id' in message).map((message) => message.id));
        expect(answered.every((message) => (message.result as Data).status === 200)).toBe(true);
      });

      it('§6.6 an unknown method is -32809 "API method not found"', async () => {
        const client = connect();
        expectError(await client.call('/v1/nope/nope'), -32809, 'API method not found');
        expectError(await client.call('nope/nope', 1), -32809, 'API method not found');
      });

      it('§6.7 wrong argument counts are -32808 for an admin and -32801 for a guest', async () => {
        const admin = await user(['admin']);
        const client = connect(admin.token);
        expectError(await client.call('/v1/admin/users/set-enabled', '100'), -32808, 'Invalid number of parameters');
        expectError(await client.call('/v1/profile/read', 1), -32808, 'Method require no parameters');
        expectError(await client.call('/v1/profile/read', null), -32808, 'Method require no parameters');
        const guest = connect();
        expectError(await guest.call('/v1/admin/users/set-enabled', '100'), ...DENIED);
        expectError(await guest.call('/v1/profile/read', 1), ...DENIED);
      });

      it('§6.8 a guest calling an admin method gets -32801 and the promise resolves', async () => {
        const guest = connect();
        const pending = guest.call('/v1/admin/users/read');
        await expect(pending).resolves.toMatchObject({ ok: false, status: -32801 });
        expectError(await pending, ...DENIED);
      });

      it('§6.9 a garbage token is a guest: test/test works, signin without credentials is 401', async () => {
        const client = connect('garbage-token_123');
        expectOk(await client.call('/v1/test/test'));
        expectError(await client.call('/v1/session/signin'), 401, 'Not authenticated');
        expectError(await client.call('/v1/profile/read'), ...DENIED);
        expectError(await connect().call('/v1/session/signin'), 401, 'Not authenticated');
      });

      it('§6.10 signin returns a session token and auth; switching to it resumes without a new token', async () => {
        const person = await createUser(gw, root, { permissions: ['admin'] });
        const client = connect();
        const signedIn = await client.call('/v1/session/signin', { username: person.name, password: person.password });
        expectOk(signedIn);
        const data = dataOf<{ token: string; auth: Data; settings: Data }>(signedIn);
        expect(data.token).toMatch(/^[A-Za-z0-9_-]+$/);
        expect(data.auth).toEqual({ user_id: person.id, username: person.name, permissions: { admin: true }, avatar: expect.any(String) });
        expect(data.settings).toEqual({});
        const before = proxy.upgrades.length;
        await switchToken(client, data.token);
        if (transport === 'ws') expect(upgradesWith(data.token, before).length, 'reconnected with the new token').toBeGreaterThan(0);
        const resumed = await client.call('/v1/session/signin');
        expectOk(resumed);
        expect(resumed.data).toEqual({ auth: data.auth, settings: {} });
        // The username is case-insensitive.
        expectOk(await client.call('/v1/session/signin', { username: person.name.toUpperCase(), password: person.password }));
      });

      it('§6.11 a wrong password is 401; signin_permissions the user lacks is 403, [] checks nothing', async () => {
        const person = await createUser(gw, root);
        const admin = await createUser(gw, root, { permissions: ['admin'] });
        const client = connect();
        expectError(await client.call('/v1/session/signin', { username: person.name, password: 'wrong-password' }), 401, 'Not authenticated');
        expectError(await client.call('/v1/session/signin', { username: uniqueUsername('nobody'), password: 'whatever-1' }), 401, 'Not authenticated');
        const credentials = { username: person.name, password: person.password };
        expectError(await client.call('/v1/session/signin', credentials, ['admin']), 403, 'You are not authorized to access this area.');
        expectOk(await client.call('/v1/session/signin', credentials, []));
        expectOk(await client.call('/v1/session/signin', credentials, null));
        expectOk(await client.call('/v1/session/signin', credentials, ['admin', 'user']));
        expectOk(await client.call('/v1/session/signin', { username: admin.name, password: admin.password }, ['admin']));
        const session = dataOf<{ token: string }>(await client.call('/v1/session/signin', credentials));
        const resumed = connect(session.token);
        expectError(await resumed.call('/v1/session/signin', null, ['admin']), 403, 'You are not authorized to access this area.');
        expectOk(await resumed.call('/v1/session/signin', null, ['user']));
      });

      it('rate-limited sign-ins answer -32802 with meta.retry_after', async () => {
        const client = connect();
        const credentials = { username: uniqueUsername('limited'), password: 'wrong-password' };
        // signin_account_limit defaults to 10 failures per window.
        for (let attempt = 0; attempt < 10; attempt++) {
          expectError(await client.call('/v1/session/signin', credentials), 401, 'Not authenticated');
        }
        const limited = await client.call('/v1/session/signin', credentials);
        expectError(limited, -32802, 'Too many requests');
        expect(limited.meta.retry_after).toBeTypeOf('number');
        expect(Number.isInteger(limited.meta.retry_after) && (limited.meta.retry_after as number) > 0).toBe(true);
      });

      it('§6.12 signout ends the session: the token is a guest and its WebSockets get sessionDelete then 4000', async () => {
        const person = await user();
        const observer = await observe(person.token);
        const client = connect(person.token);
        const events = recordEvents(client);
        expectOk(await client.call('/v1/profile/read'));
        expectOk(await client.call('/v1/session/signout'));
        expect(await observer.closed).toEqual({ code: 4000, reason: 'Signed out' });
        expect(observer.publishes()).toEqual([['sessionDelete']]);
        if (transport === 'ws') await events.waitFor(kit.signedOutEvents.deleted);
        expectError(await settled(client, '/v1/profile/read'), ...DENIED);
        expectError(await settled(client, '/v1/session/signin'), 401, 'Not authenticated');
        // Now a guest: nothing to sign out.
        expectError(await settled(client, '/v1/session/signout'), 404, 'Not Found');
      });

      it('§6.13 an API token works as a bearer without admin until its permissions are updated', async () => {
        const admin = await user(['admin']);
        const owner = connect(admin.token);
        const created = await owner.call('/v1/api-tokens/create', 'conformance');
        expectOk(created);
        const token = dataOf<{ id: string; token: string }>(created);
        expect(created.data).toEqual({ id: expect.any(String), token: expect.stringMatching(/^[A-Za-z0-9_-]+$/), userId: admin.id, username: admin.name, permissions: {} });
        const bearer = connect(token.token);
        const profile = await bearer.call('/v1/profile/read');
        expectOk(profile);
        expect(profile.data).toMatchObject({ id: admin.id, name: admin.name, permissions: {} });
        expectError(await bearer.call('/v1/admin/users/read'), ...DENIED);
        expectError(await bearer.call('/v1/session/signout'), 404, 'Not Found');
        expectOk(await owner.call('/v1/api-tokens/update-permissions', token.id, { admin: true }));
        await waitFor(async () => (await settled(bearer, '/v1/admin/users/read')).ok, 5000);
        expect(dataOf(await bearer.call('/v1/profile/read')).permissions).toEqual({ admin: true });
      });

      it('§6.14 a disabled token is a guest; setting the same state again answers 204', async () => {
        const person = await user();
        const owner = connect(person.token);
        const token = await createApiToken(gw, person.token);
        const bearer = connect(token.token);
        expectOk(await bearer.call('/v1/profile/read'));
        const disabled = await owner.call('/v1/api-tokens/set-enabled', token.id, false);
        expectOk(disabled);
        expect(disabled.meta.rows).toBe(1);
        expectOk(await owner.call('/v1/api-tokens/set-enabled', token.id, false), 204, 'No Content');
        expectError(await settled(bearer, '/v1/profile/read'), ...DENIED);
        expectOk(await owner.call('/v1/api-tokens/set-enabled', token.id, true));
        const revived = connect(token.token);
        expectOk(await settled(revived, '/v1/profile/read'));
      });

      it('§6.14 disabling a user ends its sessions: its WebSockets get sessionDisable then 4000 "Signed out"', async () => {
        const admin = await user(['admin']);
        const person = await user();
        const observer = await observe(person.token);
        const client = connect(person.token);
        const events = recordEvents(client);
        expectOk(await client.call('/v1/profile/read'));
        const result = await connect(admin.token).call('/v1/admin/users/set-enabled', person.id, false);
        expectOk(result);
        expect(result.meta.rows).toBe(1);
        expect(await observer.closed).toEqual({ code: 4000, reason: 'Signed out' });
        expect(observer.publishes()).toEqual([['sessionDisable']]);
        if (transport === 'ws') await events.waitFor(kit.signedOutEvents.disabled);
        expectError(await settled(client, '/v1/profile/read'), ...DENIED);
        expectError(await client.call('/v1/session/signin', { username: person.name, password: person.password }), 401, 'Not authenticated');
      });

      it('§6.15 admin/users/read clamps the limit, pages past the end to null, searches case-insensitively, never lists root', async () => {
        const admin = await user(['admin']);
        const client = connect(admin.token);
        const first = await client.call('/v1/admin/users/read', { limit: 1 });
        const missing = Math.max(0, 101 - (first.meta.total as number));
        await mapLimit(Array.from({ length: missing }), 8, () => createUser(gw, root));
        const all = await client.call('/v1/admin/users/read', { limit: 500 });
        expectOk(all);
        const total = all.meta.total as number;
        expect(total).toBeGreaterThan(100);
        expect(all.data).toHaveLength(100);
        expect(all.meta).toMatchObject({ rows: 100, total, summary: { total } });
        const zero = await client.call('/v1/admin/users/read', { limit: 0 });
        expect(zero.data).toHaveLength(100);
        const past = await client.call('/v1/admin/users/read', { offset: total });
        expectOk(past);
        expect(past.data).toBeNull();
        expect(past.meta).toMatchObject({ total, summary: { total } });
        const pages = await Promise.all(
          Array.from({ length: Math.ceil(total / 100) }, (_, page) => client.call('/v1/admin/users/read', { offset: page * 100, limit: 100 })),
        );
        const ids = pages.flatMap((page) => (page.data as { id: string }[]).map((row) => row.id));
        expect(ids).toHaveLength(total);
        expect(ids).not.toContain('1');
        const rootSearch = await client.call('/v1/admin/users/read', { where: { search: ['like', 'root'] } });
        expect(((rootSearch.data ?? []) as { id: string }[]).map((row) => row.id)).not.toContain('1');
        const marker = uniqueUsername('adm').replace('_', 'x');
        const person = await createUser(gw, root, { username: `${marker}@example.com` });
        const found = await client.call('/v1/admin/users/read', { where: { search: ['like', marker.toUpperCase()] } });
        expectOk(found);
        expect(found.data).toEqual([
          expect.objectContaining({ id: person.id, name: `${marker}@example.com`, email: `${marker}@example.com`, enabled: true, permissions: {} }),
        ]);
        expect(found.meta.total).toBe(1);
        const one = await client.call('/v1/admin/users/read', { id: person.id });
        expectOk(one);
        expect(one.data).toEqual({
          id: person.id,
          name: `${marker}@example.com`,
          email: `${marker}@example.com`,
          email_confirmed: false,
          telegram_name: null,
          enabled: true,
          permissions: {},
          created: expect.any(String),
          avatar: expect.stringMatching(/^https:\/\/s\.gravatar\.com\/avatar\/[0-9a-f]{32}\?d=identicon$/),
        });
        expect(dataOf(await client.call('/v1/admin/users/read', { id: '1' }))).toBeNull();
      });

      it('§6.16 admin/users/create returns a generated password; creating it again is 409', async () => {
        const admin = await user(['admin']);
        const client = connect(admin.token);
        const username = `${uniqueUsername('x')}@y.z`;
        const created = await client.call('/v1/admin/users/create', { username });
        expectOk(created);
        expect(created.data).toEqual({ id: expect.stringMatching(/^\d+$/), name: username, password: expect.any(String), enabled: true, permissions: {} });
        const { password } = dataOf<{ password: string }>(created);
        expect(password.length).toBeGreaterThanOrEqual(8);
        expectOk(await client.call('/v1/session/signin', { username, password }));
        expectError(await client.call('/v1/admin/users/create', { username }), 409, 'User already exists');
        expectError(await client.call('/v1/admin/users/create', { username: username.toUpperCase() }), 409, 'User already exists');
        const granted = await client.call('/v1/admin/users/create', { username: uniqueUsername('g'), password: 'chosen-password', enabled: false, permissions: { admin: true } });
        expectOk(granted);
        expect(granted.data).toMatchObject({ password: 'chosen-password', enabled: false, permissions: { admin: true } });
        expectError(await client.call('/v1/admin/users/create', { username: 'no' }), 400);
        expectError(await client.call('/v1/admin/users/create', { username: uniqueUsername('p'), password: 'short' }), 400, 'Password must be 8 to 1024 characters long');
        expectError(await client.call('/v1/admin/users/create', { username: uniqueUsername('p'), permissions: { bogus: true } }), 400, 'Permissions: "bogus" are invalid');
      });

      it('§6.17 admin/users/set-enabled: 200 on a change, ok 204 when unchanged, and its refusals', async () => {
        const admin = await user(['admin']);
        const person = await createUser(gw, root);
        const client = connect(admin.token);
        const changed = await client.call('/v1/admin/users/set-enabled', person.id, false);
        expectOk(changed);
        expect(changed.meta.rows).toBe(1);
        const unchanged = await client.call('/v1/admin/users/set-enabled', person.id, false);
        expectOk(unchanged, 204, 'No Content');
        expect(unchanged.data).toBeUndefined();
        expectOk(await client.call('/v1/admin/users/set-enabled', person.name, true));
        expectError(await client.call('/v1/admin/users/set-enabled', admin.id, false), 400, "You can't change own enabled status");
        expectError(await client.call('/v1/admin/users/set-enabled', '1', false), 400, 'Unable to modify root user');
        expectError(await client.call('/v1/admin/users/set-enabled', '999999999', false), 404, 'User not found');
      });

      it('admin/users/delete: 200 with meta.rows, and 400/404 refusals', async () => {
        const admin = await user(['admin']);
        const client = connect(admin.token);
        const person = await createUser(gw, root);
        const deleted = await client.call('/v1/admin/users/delete', person.id);
        expectOk(deleted);
        expect(deleted.data).toBeNull();
        expect(deleted.meta.rows).toBe(1);
        expectError(await client.call('/v1/admin/users/delete', person.id), 404, 'User not found');
        const byName = await createUser(gw, root);
        expectOk(await client.call('/v1/admin/users/delete', byName.name));
        expectError(await client.call('/v1/admin/users/delete', admin.id), 400, "You can't remove yourself");
        expectError(await client.call('/v1/admin/users/delete', '1'), 400, 'Unable to remove root user');
      });

      it('admin/users/set-password and set-username return the password in force; root is protected', async () => {
        const admin = await user(['admin']);
        const client = connect(admin.token);
        const person = await createUser(gw, root);
        const set = await client.call('/v1/admin/users/set-password', person.id, 'brand-new-pass');
        expectOk(set);
        expect(set.data).toEqual({ password: 'brand-new-pass' });
        expectOk(await client.call('/v1/session/signin', { username: person.name, password: 'brand-new-pass' }));
        const generated = await client.call('/v1/admin/users/set-password', person.name);
        expectOk(generated);
        expect(dataOf<{ password: string }>(generated).password).toMatch(/^.{8,}$/);
        expectError(await client.call('/v1/admin/users/set-password', '1', 'another-pass'), 400, "You can't change root user password");
        expectError(await client.call('/v1/admin/users/set-password', '999999999'), 404, 'User not found');
        const newName = uniqueUsername('renamed');
        const renamed = await client.call('/v1/admin/users/set-username', person.id, newName);
        expectOk(renamed);
        expect(renamed.data).toEqual({ username: newName, password: expect.any(String) });
        expectOk(await client.call('/v1/session/signin', { username: newName, password: dataOf<{ password: string }>(renamed).password }));
        const withPassword = await client.call('/v1/admin/users/set-username', newName, `${newName}2`, 'renamed-pass');
        expect(withPassword.data).toEqual({ username: `${newName}2`, password: 'renamed-pass' });
        expectError(await client.call('/v1/admin/users/set-username', '1', 'groot'), 400, 'Impossible to change root username');
        expectError(await client.call('/v1/admin/users/set-username', '999999999', 'nobody_here'), 404, 'User not found');
        expectError(await client.call('/v1/admin/users/set-username', person.id, admin.name), 409, 'User already exists');
      });

      it('admin/users permissions: get, set, update, and their refusals', async () => {
        const admin = await user(['admin']);
        const client = connect(admin.token);
        const person = await createUser(gw, root);
        const states = await client.call('/v1/admin/users/get-permissions', person.id);
        expectOk(states);
        expect(states.data).toEqual([{ id: 'admin', enabled: false, name: 'admin', description: expect.any(String) }]);
        expectOk(await client.call('/v1/admin/users/set-permissions', person.id, { admin: true }));
        expect(dataOf<{ enabled: boolean }[]>(await client.call('/v1/admin/users/get-permissions', person.id))[0]!.enabled).toBe(true);
        expectOk(await client.call('/v1/admin/users/update-permissions', person.name, { admin: false }));
        expect(dataOf<{ enabled: boolean }[]>(await client.call('/v1/admin/users/get-permissions', person.id))[0]!.enabled).toBe(false);
        expectError(await client.call('/v1/admin/users/set-permissions', admin.id, {}), 400, 'You are unable to change own permissions');
        expectError(await client.call('/v1/admin/users/update-permissions', '1', { admin: true }), 400, 'You are unable to change root user permissions');
        expectError(await client.call('/v1/admin/users/set-permissions', person.id, { bogus: true }), 400, 'Permissions: "bogus" are invalid');
        expectError(await client.call('/v1/admin/users/get-permissions', '999999999'), 404, 'User not found');
        expectError(await client.call('/v1/admin/users/update-permissions', '999999999', {}), 404, 'User not found');
      });

      it('admin/users/suggest and delete-sessions', async () => {
        const admin = await user(['admin']);
        const client = connect(admin.token);
        const suggested = await client.call('/v1/admin/users/suggest', { where: { name: ['like', 'ROO'] } });
        expectOk(suggested);
        expect(suggested.data).toContainEqual({ id: '1', name: 'root' });
        expect(dataOf(await client.call('/v1/admin/users/suggest', { where: { name: ['like', uniqueUsername('none')] } }))).toBeNull();
        expect((dataOf<unknown[]>(await client.call('/v1/admin/users/suggest'))).length).toBeGreaterThan(0);
        const person = await user();
        const ended = await client.call('/v1/admin/users/delete-sessions', person.id);
        expectOk(ended);
        expect(ended.data).toBeNull();
        expect(ended.meta.rows).toBe(1);
        expectError(await connect(person.token).call('/v1/profile/read'), ...DENIED);
        expectError(await client.call('/v1/admin/users/delete-sessions', '999999999'), 404, 'User not found');
      });

      it('admin/settings/read hides the SMTP password; update merges and refuses unknown settings', async () => {
        const admin = await user(['admin']);
        const client = connect(admin.token);
        expectOk(await client.call('/v1/admin/settings/update', { smtp_password: 'smtp-secret', smtp_tls: 'tls', smtp_port: 465 }));
        const read = await client.call('/v1/admin/settings/read');
        expectOk(read);
        expect(read.data).toMatchObject({ smtp_password: null, smtp_password_set: true, smtp_tls: 'tls', smtp_port: 465, signup_enabled: true });
        expect(Object.keys(read.data as Data)).toEqual(
          expect.arrayContaining(['app_url', 'smtp_hostname', 'smtp_username', 'smtp_from', 'signin_ip_limit', 'signin_account_limit', 'updated']),
        );
        // A read can be sent back unchanged.
        expectOk(await client.call('/v1/admin/settings/update', { ...(read.data as Data), smtp_password: undefined }));
        expectError(await client.call('/v1/admin/settings/update', { bogus: 1 }), 400, 'Setting "bogus" is unknown');
        expectError(await client.call('/v1/admin/settings/update', { smtp_tls: 'ssl' }), 400, 'Setting "smtp_tls" must be one of starttls, tls, none');
        expectError(await client.call('/v1/admin/settings/update', { smtp_port: 70000 }), 400, 'Setting "smtp_port" must be an integer from 1 to 65535');
        expectError(await connect((await user()).token).call('/v1/admin/settings/read'), ...DENIED);
      });

      it('api-tokens: read, get/set/update permissions, delete, and their refusals', async () => {
        const admin = await user(['admin']);
        const client = connect(admin.token);
        const alpha = await createApiToken(gw, admin.token, `alpha-${uniqueUsername('t')}`);
        const beta = await createApiToken(gw, admin.token, `beta-${uniqueUsername('t')}`);
        const read = await client.call('/v1/api-tokens/read');
        expectOk(read);
        expect(read.meta).toMatchObject({ total: 2, rows: 2 });
        expect(dataOf<Data[]>(read).map((row) => row.id).sort()).toEqual([alpha.id, beta.id].sort());
        expect(dataOf<Data[]>(read)[0]).toEqual({ id: expect.any(String), user_id: admin.id, name: expect.any(String), enabled: true, created: expect.any(String), permissions: {} });
        const searched = await client.call('/v1/api-tokens/read', { where: { search: ['like', 'ALPHA'] } });
        expect(dataOf<Data[]>(searched).map((row) => row.id)).toEqual([alpha.id]);
        expect(dataOf(await client.call('/v1/api-tokens/read', { id: beta.id }))).toMatchObject({ id: beta.id, enabled: true });
        const states = await client.call('/v1/api-tokens/get-permissions', alpha.id);
        expectOk(states);
        expect(states.data).toEqual([{ id: 'admin', enabled: false, name: 'admin', description: expect.any(String) }]);
        expectOk(await client.call('/v1/api-tokens/set-permissions', alpha.id, { admin: true }));
        expect(dataOf<{ enabled: boolean }[]>(await client.call('/v1/api-tokens/get-permissions', alpha.id))[0]!.enabled).toBe(true);
        expectOk(await client.call('/v1/api-tokens/update-permissions', alpha.id, { admin: false }));
        expect(dataOf<{ enabled: boolean }[]>(await client.call('/v1/api-tokens/get-permissions', alpha.id))[0]!.enabled).toBe(false);
        expectError(await client.call('/v1/api-tokens/set-permissions', alpha.id, { bogus: true }), 400, 'Token permission "bogus" is not valid');
        expectError(await client.call('/v1/api-tokens/create', ''), 400);
        const deleted = await client.call('/v1/api-tokens/delete', beta.id);
        expectOk(deleted);
        expect(deleted.meta.rows).toBe(1);
        expectError(await client.call('/v1/api-tokens/delete', beta.id), 404, 'Token not found');
        expectError(await client.call('/v1/api-tokens/set-enabled', beta.id, false), 404, 'Token not found');
        expectError(await client.call('/v1/api-tokens/get-permissions', beta.id), 404, 'Token not found');
        // Another user's tokens do not exist for this one.
        const stranger = connect((await user()).token);
        expectError(await stranger.call('/v1/api-tokens/delete', alpha.id), 404, 'Token not found');
        expectError(await stranger.call('/v1/api-tokens/update-permissions', alpha.id, {}), 404, 'Token not found');
        expect(dataOf(await stranger.call('/v1/api-tokens/read'))).toBeNull();
      });

      it('profile: read, set-password, set-email, set-telegram-username, delete-sessions', async () => {
        const person: CreatedUser & { token: string } = await user();
        const other = await user();
        const client = connect(person.token);
        const profile = await client.call('/v1/profile/read');
        expectOk(profile);
        expect(profile.data).toEqual({
          id: person.id,
          name: person.name,
          email: null,
          email_confirmed: false,
          telegram_name: null,
          avatar: expect.any(String),
          permissions: {},
        });
        const email = `${uniqueUsername('mail')}@example.com`;
        const setEmail = await client.call('/v1/profile/set-email', email.toUpperCase());
        expectOk(setEmail);
        expect(setEmail.meta.rows).toBe(1);
        expect(dataOf(await client.call('/v1/profile/read'))).toMatchObject({ email, email_confirmed: false });
        expectError(await client.call('/v1/profile/set-email', 'not-an-email'), 400, 'Email is invalid');
        expectError(await connect(other.token).call('/v1/profile/set-email', email), 409, 'Email is already in use');
        expectOk(await client.call('/v1/profile/set-email'));
        expect(dataOf(await client.call('/v1/profile/read'))).toMatchObject({ email: null });
        const telegram = `tg_${uniqueUsername('x').slice(2, 14)}`;
        expectOk(await client.call('/v1/profile/set-telegram-username', telegram));
        expect(dataOf(await client.call('/v1/profile/read'))).toMatchObject({ telegram_name: telegram });
        expectError(await client.call('/v1/profile/set-telegram-username', 'x'), 400, 'Telegram username is invalid');
        expectError(await connect(other.token).call('/v1/profile/set-telegram-username', telegram), 409, 'Telegram username is already in use');
        expectOk(await client.call('/v1/profile/set-telegram-username', null));
        expect(dataOf(await client.call('/v1/profile/read'))).toMatchObject({ telegram_name: null });

        const second = dataOf<{ token: string }>(await client.call('/v1/session/signin', { username: person.name, password: person.password }));
        const ended = await client.call('/v1/profile/delete-sessions');
        expectOk(ended);
        expect(ended.meta.rows).toBe(1);
        expectError(await connect(second.token).call('/v1/profile/read'), ...DENIED);
        expectOk(await client.call('/v1/profile/read'));

        const changed = await client.call('/v1/profile/set-password', 'my-new-password');
        expectOk(changed);
        expect(changed.data).toEqual({ password: 'my-new-password' });
        expectOk(await client.call('/v1/profile/read'));
        expectOk(await client.call('/v1/session/signin', { username: person.name, password: 'my-new-password' }));
        const generated = await client.call('/v1/profile/set-password', '');
        expectOk(generated);
        expect(dataOf<{ password: string }>(generated).password).toMatch(/^.{8,}$/);
        expectError(await client.call('/v1/profile/set-password', 'short'), 400, 'Password must be 8 to 1024 characters long');
      });

      it('session/signup answers 200 "You were registered." without data; duplicates are 409', async () => {
        const client = connect();
        const username = uniqueUsername('signup');
        const telegram = `tg_${uniqueUsername('s').slice(2, 14)}`;
        const registered = await client.call('/v1/session/signup', { username, password: 'signup-password', telegram_username: telegram });
        expectOk(registered, 200, 'You were registered.');
        expect(registered.data).toBeUndefined();
        const signedIn = await client.call('/v1/session/signin', { username, password: 'signup-password' });
        expectOk(signedIn);
        expect(dataOf<{ auth: Data }>(signedIn).auth.permissions).toEqual({});
        expect(dataOf(await connect(dataOf<{ token: string }>(signedIn).token).call('/v1/profile/read'))).toMatchObject({ name: username, telegram_name: telegram });
        expectError(await client.call('/v1/session/signup', { username, password: 'signup-password' }), 409, 'User already exists');
        expectError(await client.call('/v1/session/signup', { username: uniqueUsername('signup') }), 400, 'Password is required');
        // enabled and permissions are ignored.
        const sneaky = uniqueUsername('sneaky');
        expectOk(await client.call('/v1/session/signup', { username: sneaky, password: 'signup-password', enabled: false, permissions: { admin: true } }), 200, 'You were registered.');
        expect(dataOf<{ auth: Data }>(await client.call('/v1/session/signin', { username: sneaky, password: 'signup-password' })).auth.permissions).toEqual({});
      });

      it('§6.21 uploads in the shapes of this client answer 200 with the data given', async () => {
        const person = await user();
        for (const client of [connect(), connect(person.token)]) {
          for (const upload of kit.uploads) {
            const result = await upload.run(client, uploadFile);
            expectOk(result);
            expect(result.data, upload.shape).toEqual({ a: 1 });
          }
        }
      });

      onWs('§6.19 events: api.on subscribes, a publish reaches only subscribed connections of the targeted user', async () => {
        const person = await user();
        const other = await user();
        const before = proxy.upgrades.length;
        const client = connect(person.token);
        const received: unknown[][] = [];
        client.on('someEvent', (...args: unknown[]) => received.push(args));
        expectOk(await client.call('/v1/test/test'));
        await waitFor(async () => upgradesWith(person.token, before).some((upgrade) => subscribed(upgrade, 'someEvent')), 5000);
        // The subscription went out before this call on the same connection, so the server has it.
        expectOk(await client.call('/v1/test/test'));
        const sameUserUnsubscribed = await observe(person.token);
        const otherUser = await observe(other.token);
        await otherUser.subscribe('someEvent');

        await gw.gateway.v1Events.publish({ targets: [`user:${person.id}`], name: 'someEvent', args: [{ x: 1 }, 2] });
        await waitFor(async () => received.length > 0, 5000);
        expect(received).toEqual([[{ x: 1 }, 2]]);
        // Anything sent to the other connections would have arrived before these answers.
        await sameUserUnsubscribed.call('/v1/test/test');
        await otherUser.call('/v1/test/test');
        expect(sameUserUnsubscribed.frames.filter((frame) => (frame as Data).method !== undefined)).toEqual([]);
        expect(otherUser.frames.filter((frame) => (frame as Data).method !== undefined)).toEqual([]);

        // The observers do receive what is meant for them.
        await gw.gateway.v1Events.publish({ targets: [`user:${other.id}`], name: 'someEvent', args: [3] });
        expect(await otherUser.next((frame) => (frame as Data).method === '/publish')).toEqual({ jsonrpc: '2.0', method: '/publish', params: ['someEvent', 3] });
        await client.call('/v1/test/test');
        expect(received).toEqual([[{ x: 1 }, 2]]);
      });

      onWs('§6.24 after a server-side close the client reconnects and subscribes again', async () => {
        const person = await user();
        const before = proxy.upgrades.length;
        const client = connect(person.token);
        const received: unknown[][] = [];
        client.on('someEvent', (...args: unknown[]) => received.push(args));
        expectOk(await client.call('/v1/test/test'));
        await waitFor(async () => upgradesWith(person.token, before).some((upgrade) => subscribed(upgrade, 'someEvent')), 5000);
        const connections = upgradesWith(person.token, before).length;
        // A frame over the 4 MiB frame limit makes the server close the connection (1009).
        const tooBig = await client.call('/v1/test/test', 'x'.repeat(5 * 1024 * 1024));
        expect(tooBig.ok).toBe(false);
        expect([1009, 1006]).toContain(tooBig.status);
        await waitFor(async () => upgradesWith(person.token, before).slice(connections).some((upgrade) => subscribed(upgrade, 'someEvent')), 5000);
        expectOk(await settled(client, '/v1/test/test'));
        await gw.gateway.v1Events.publish({ targets: [`user:${person.id}`], name: 'someEvent', args: ['again'] });
        await waitFor(async () => received.length > 0, 5000);
        expect(received).toEqual([['again']]);
      });

      it('§6.18/§6.23 answers of every kind reach the client as JSON on a 2xx-4xx status line other than 204/304', async () => {
        const admin = await user(['admin']);
        const person = await user();
        const client = connect(admin.token);
        const guest = connect();
        // A success, a 204 result, and the refusals: method, permission, parameters, domain.
        expectOk(await client.call('/v1/test/test'));
        expectOk(await client.call('/v1/admin/users/set-enabled', person.id, true), 204, 'No Content');
        expectError(await client.call('/v1/nope/nope'), -32809, 'API method not found');
        expectError(await guest.call('/v1/admin/users/read'), ...DENIED);
        expectError(await client.call('/v1/admin/users/set-enabled', person.id), -32808, 'Invalid number of parameters');
        expectError(await guest.call('/v1/session/signout'), 404, 'Not Found');
        expectError(await guest.call('/v1/session/signin'), 401, 'Not authenticated');
        // Uploads go over HTTP even from a WebSocket client.
        expectOk(await kit.uploads[0]!.run(client, uploadFile));
        const answered = proxy.requests.filter((request) => request.status !== undefined);
        expect(answered.length).toBe(transport === 'http' ? 8 : 1);
        expect(wireFaults(answered)).toEqual([]);
        // The clients only ever send GET (no arguments) and POST (arguments, uploads).
        expect([...new Set(answered.map((request) => request.method))].sort()).toEqual(transport === 'http' ? ['GET', 'POST'] : ['POST']);
      });
    });
  });
}

/**
 * What the published clients cannot take over HTTP (protocol.md §1.3): a body that is not JSON, a
 * 204/205/304 or 5xx status line, or one of the codes that make them throw.
 */
function wireFaults(requests: readonly RecordedRequest[]): string[] {
  return requests
    .filter((request) => request.status !== undefined)
    .filter(
      (request) =>
        !/^application\/json\b/.test(String(request.responseHeaders?.['content-type'])) ||
        [204, 205, 304].includes(request.status!) ||
        request.status! >= 500 ||
        /"code":-328(11|12|13|15)\b/.test(request.responseBody ?? ''),
    )
    .map((request) => `${request.method} ${request.url} → ${request.status} ${request.responseHeaders?.['content-type']} ${request.responseBody?.slice(0, 200)}`);
}

function subscribed(upgrade: RecordedUpgrade, name: string): boolean {
  return (RecordingProxy.clientMessages(upgrade) as Data[]).some(
    (message) => message.method === '/subscribe' && JSON.stringify(message.params) === JSON.stringify([[name]]) && !('id' in message),
  );
}
