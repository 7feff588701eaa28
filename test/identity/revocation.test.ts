import { createClient as createWsClient } from 'graphql-ws';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { MODES, ROOT_PASSWORD, startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import {
  createApiToken,
  createSignedInUser,
  gql,
  graphqlWsUrlOf,
  ok,
  rootSession,
  signIn,
  viewerOf,
  waitFor,
  type Endpoint,
} from '../helpers/graphql.ts';
import { startTwoNodes, type TwoNodes } from '../helpers/cluster.ts';
import { TEST_REDIS_URL } from '../helpers/services.ts';
import type { SpawnedGateway } from '../helpers/spawn.ts';

/** "Within one second": polled every 50 ms. */
const WITHIN_MS = 1000;
const POLL_MS = 50;

interface Nodes {
  /** Where the change is made. */
  readonly a: Endpoint;
  /** Where it must show within a second. */
  readonly b: Endpoint;
  /** A root session (on either node: they share the database). */
  readonly root: () => string;
}

async function expectOk(endpoint: Endpoint, token: string, query: string, variables: Record<string, unknown>, typename: string) {
  const data = ok(await gql(endpoint, query, variables, token));
  expect(Object.values(data)[0]).toMatchObject({ __typename: typename });
}

/** B answers the token as a guest within a second of the change on A. */
async function expectGuestOnB(nodes: Nodes, token: string) {
  const ms = await waitFor(async () => (await viewerOf(nodes.b, token)) === null, WITHIN_MS, POLL_MS);
  expect(ms).toBeLessThanOrEqual(WITHIN_MS);
}

/** The scenarios every pair of nodes must pass; each warms B's cache before changing anything on A. */
function revocationScenarios(nodes: () => Nodes) {
  it('a disabled user is a guest on the other node within a second', async () => {
    const { a, b, root } = nodes();
    const user = await createSignedInUser(a, root());
    expect(await viewerOf(b, user.token)).toMatchObject({ id: user.id });
    await expectOk(a, root(), 'mutation($id: ID!) { setUserEnabled(id: $id, enabled: false) { __typename } }', { id: user.id }, 'SetUserEnabledPayload');
    await expectGuestOnB(nodes(), user.token);
  });

  it('a session signed out on one node is a guest on the other within a second', async () => {
    const { a, b, root } = nodes();
    const user = await createSignedInUser(a, root());
    const other = await signIn(a, user.name, user.password);
    expect(await viewerOf(b, user.token)).toMatchObject({ id: user.id });
    expect(await viewerOf(b, other.token)).toMatchObject({ id: user.id });
    await expectOk(a, user.token, 'mutation { signOut { __typename } }', {}, 'SignOutPayload');
    await expectGuestOnB(nodes(), user.token);
    expect(await viewerOf(b, other.token)).toMatchObject({ id: user.id });
  });

  it('a disabled API token is a guest on the other node within a second', async () => {
    const { a, b, root } = nodes();
    const owner = await createSignedInUser(a, root());
    const apiToken = await createApiToken(a, owner.token);
    expect(await viewerOf(b, apiToken.token)).toMatchObject({ id: owner.id });
    await expectOk(
      a,
      owner.token,
      'mutation($id: ID!) { setApiTokenEnabled(id: $id, enabled: false) { __typename } }',
      { id: apiToken.id },
      'ApiTokenPayload',
    );
    await expectGuestOnB(nodes(), apiToken.token);
    expect(await viewerOf(b, owner.token)).toMatchObject({ id: owner.id });
  });

  it('a removed permission is gone on the other node within a second, for sessions and API tokens', async () => {
    const { a, b, root } = nodes();
    const user = await createSignedInUser(a, root(), { permissions: ['billing', 'admin'] });
    const apiToken = await createApiToken(a, user.token, 'billing', ['billing', 'admin']);
    expect(await viewerOf(b, user.token)).toMatchObject({ permissions: ['admin', 'billing'] });
    expect(await viewerOf(b, apiToken.token)).toMatchObject({ permissions: ['admin', 'billing'] });
    await expectOk(
      a,
      root(),
      'mutation($id: ID!) { updateUserPermissions(id: $id, permissions: [{ name: "billing", enabled: false }]) { __typename } }',
      { id: user.id },
      'UserPayload',
    );
    const changed = async (token: string) => JSON.stringify((await viewerOf(b, token))?.permissions) === '["admin"]';
    expect(await waitFor(() => changed(user.token), WITHIN_MS, POLL_MS)).toBeLessThanOrEqual(WITHIN_MS);
    expect(await waitFor(() => changed(apiToken.token), WITHIN_MS, POLL_MS)).toBeLessThanOrEqual(WITHIN_MS);

    // A change of the token's own map travels the same way.
    await expectOk(
      a,
      user.token,
      'mutation($id: ID!) { setApiTokenPermissions(id: $id, permissions: []) { __typename } }',
      { id: apiToken.id },
      'ApiTokenPayload',
    );
    const bare = async () => JSON.stringify((await viewerOf(b, apiToken.token))?.permissions) === '[]';
    expect(await waitFor(bare, WITHIN_MS, POLL_MS)).toBeLessThanOrEqual(WITHIN_MS);
  });

  it("closes the user's graphql-ws connection on the other node with 4403 within a second of disabling it", async () => {
    const { a, b, root } = nodes();
    const user = await createSignedInUser(a, root());
    const guest = await openTicking(b, null);
    const connection = await openTicking(b, user.token);
    try {
      await expectOk(a, root(), 'mutation($id: ID!) { setUserEnabled(id: $id, enabled: false) { __typename } }', { id: user.id }, 'SetUserEnabledPayload');
      const disabledAt = Date.now();
      const code = await within(connection.closed, WITHIN_MS, 'the connection was not closed');
      expect(code).toBe(4403);
      expect(Date.now() - disabledAt).toBeLessThanOrEqual(WITHIN_MS);
      // Other connections on that node carry on.
      const ticksBefore = guest.ticks();
      await waitFor(async () => guest.ticks() > ticksBefore, WITHIN_MS, 20);
    } finally {
      await connection.close();
      await guest.close();
    }
  });
}

/** The promise's value, or a failure once `ms` passed. */
async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} within ${ms} ms`)), ms))),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

interface Ticking {
  /** Resolves with the close code once the server closes the socket. */
  readonly closed: Promise<number>;
  ticks(): number;
  close(): Promise<void>;
}

/** A graphql-ws connection (as `token`) running an endless `ticks` subscription, once the first tick arrived. */
async function openTicking(endpoint: Endpoint, token: string | null): Promise<Ticking> {
  let resolveClosed!: (code: number) => void;
  const closed = new Promise<number>((resolve) => (resolveClosed = resolve));
  const client = createWsClient({
    url: graphqlWsUrlOf(endpoint),
    webSocketImpl: WebSocket,
    retryAttempts: 0,
    lazy: false,
    // Expected closes are checked through `closed`; the client would print them otherwise.
    onNonLazyError: () => {},
    connectionParams: token ? { authorization: `Bearer ${token}` } : {},
    on: { closed: (event) => resolveClosed((event as { code: number }).code) },
  });
  let count = 0;
  let first!: () => void;
  const started = within(new Promise<void>((resolve) => (first = resolve)), 5000, 'no tick arrived');
  const stop = client.subscribe<{ ticks: { sequence: number } }>(
    { query: 'subscription { ticks(intervalMs: 20) { sequence } }' },
    {
      next: (result) => {
        if (result.errors) return;
        count++;
        first();
      },
      error: () => {},
      complete: () => {},
    },
  );
  await started;
  return {
    closed,
    ticks: () => count,
    async close() {
      stop();
      await client.dispose();
    },
  };
}

describe('revocation across gateway processes (production: PostgreSQL + Redis)', () => {
  let nodes: TwoNodes | undefined;
  let a: SpawnedGateway | undefined;
  let b: SpawnedGateway | undefined;
  let root: string;

  beforeAll(async () => {
    // Both processes share the database and the Redis key prefix (REDIS_PREFIX), as the nodes of one deployment do.
    nodes = await startTwoNodes({ PERMISSIONS: 'billing' });
    ({ a, b } = nodes);
    root = await rootSession(a, ROOT_PASSWORD);
  });

  afterAll(async () => {
    for (const result of (await nodes?.stop()) ?? []) expect(result.code).toBe(0);
  });

  it('runs two separate processes on one database', async () => {
    expect(a!.process.pid).not.toBe(b!.process.pid);
    expect(a!.url).not.toBe(b!.url);
    // A session made on A is known to B: the database is shared.
    const user = await createSignedInUser(a!, root);
    expect(await viewerOf(b!, user.token)).toMatchObject({ id: user.id });
    // Their sign-in counters live under this suite's prefix, nowhere near other suites' keys.
    const client = new Redis(TEST_REDIS_URL);
    try {
      expect(await client.keys(`${nodes!.redisPrefix}counter:signin:*`)).not.toEqual([]);
    } finally {
      client.disconnect();
    }
  });

  revocationScenarios(() => ({ a: a!, b: b!, root: () => root }));
});

describe.each(MODES)('revocation across in-process gateways (%s)', (mode) => {
  let a: TestGateway;
  let b: TestGateway;
  let root: string;

  beforeAll(async () => {
    a = await startTestGateway(mode, { env: { PERMISSIONS: 'billing' } });
    b = await startTestGateway(mode, { env: { PERMISSIONS: 'billing' }, shareWith: a });
    root = await rootSession(a, ROOT_PASSWORD);
  });
  afterAll(async () => {
    await b?.close();
    await a?.close();
  });

  revocationScenarios(() => ({ a, b, root: () => root }));
});
