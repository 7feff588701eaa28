import { createClient as createWsClient, type Client } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it, onTestFinished, vi } from 'vitest';
import { WebSocket } from 'ws';
import { MODES, ROOT_PASSWORD, startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { createApiToken, createSignedInUser, gql, graphqlWsUrlOf, rootSession } from '../helpers/graphql.ts';
import { httpCall } from '../helpers/v1.ts';

const SUBSCRIPTION = `subscription Live($ids: [String!], $window: ApiStatsWindow!) {
  apiStats(methodIds: $ids, window: $window) { window bucketSeconds lastUpdated methods { methodId total { calls accepted } points { calls } } }
}`;

type Snapshot = { window: string; bucketSeconds: number; lastUpdated: string; methods: { methodId: string; total: { calls: number; accepted: number }; points: { calls: number }[] }[] };

interface Live {
  readonly snapshots: Snapshot[];
  readonly errors: unknown[];
  completed: boolean;
  readonly client: Client;
}

/** Without the points: 4,320 a method for 30 days, to ten subscribers, is a lot of JSON per tick. */
const TOTALS_ONLY = `subscription Totals($ids: [String!], $window: ApiStatsWindow!) { apiStats(methodIds: $ids, window: $window) { window bucketSeconds lastUpdated methods { methodId total { calls accepted } } } }`;

function subscribe(gw: TestGateway, token: string, variables: Record<string, unknown>, query = SUBSCRIPTION): Live {
  const client = createWsClient({
    url: graphqlWsUrlOf(gw),
    webSocketImpl: WebSocket,
    retryAttempts: 0,
    connectionParams: { authorization: `Bearer ${token}` },
  });
  const live: Live = { snapshots: [], errors: [], completed: false, client };
  client.subscribe<{ apiStats: Snapshot }>(
    { query, variables },
    {
      next: (result) => (result.data ? live.snapshots.push(result.data.apiStats) : live.errors.push(result.errors)),
      error: (error) => live.errors.push(error),
      complete: () => (live.completed = true),
    },
  );
  return live;
}

const TICK_MS = 150;

describe.each(MODES)('live statistics over subscriptions (%s)', (mode) => {
  let gw: TestGateway;
  let other: TestGateway;
  let root: string;
  const clients: Client[] = [];

  beforeAll(async () => {
    const callLog = { flushIntervalMs: 50, statsRefreshMs: { lastHour: TICK_MS, last30Days: TICK_MS * 2 } };
    gw = await startTestGateway(mode, { callLog });
    // A second node of the same deployment: permission changes made there reach subscribers here.
    other = await startTestGateway(mode, { shareWith: gw, callLog });
    root = await rootSession(gw, ROOT_PASSWORD);
  });
  afterAll(async () => {
    await Promise.all(clients.map((client) => client.dispose()));
    await other?.close();
    await gw?.close();
  });

  it('pushes a snapshot at once, then fresh ones with the calls made meanwhile (on any node)', async () => {
    const live = subscribe(gw, root, { ids: ['/v1/test/test'], window: 'LAST_HOUR' });
    clients.push(live.client);
    await vi.waitFor(() => expect(live.snapshots.length).toBeGreaterThan(0), { timeout: 3000, interval: 20 });
    const first = live.snapshots[0]!;
    expect(first).toMatchObject({ window: 'LAST_HOUR', bucketSeconds: 60 });
    expect(first.methods.map((m) => m.methodId)).toEqual(['/v1/test/test']);
    expect(first.methods[0]!.points).toHaveLength(60);
    const before = first.methods[0]!.total.calls;
    for (let i = 0; i < 3; i++) await httpCall(gw, '/v1/test/test', []);
    for (let i = 0; i < 2; i++) await httpCall(other, '/v1/test/test', []);
    await vi.waitFor(() => expect(live.snapshots.at(-1)!.methods[0]!.total.calls).toBe(before + 5), { timeout: 5000, interval: 20 });
    // The query answers the same figures.
    const query = await gql<{ apiStats: Snapshot }>(gw, '{ apiStats(methodIds: ["/v1/test/test"]) { methods { total { calls } } } }', {}, root);
    expect(query.data!.apiStats.methods[0]!.total.calls).toBe(before + 5);
    expect(live.errors).toEqual([]);
  });

  it('computes each tick once for all the subscribers of a node', async () => {
    const { stats } = gw.gateway.domain.callLog;
    const many: Live[] = [];
    onTestFinished(() => Promise.all(many.map((live) => live.client.dispose())).then(() => undefined));
    many.push(...Array.from({ length: 10 }, () => subscribe(gw, root, { ids: ['/v1/test/test'], window: 'LAST_30_DAYS' }, TOTALS_ONLY)));
    await vi.waitFor(() => expect(many.every((live) => live.snapshots.length >= 3)).toBe(true), { timeout: 8000, interval: 20 });
    const start = stats.computations;
    const received = many.reduce((sum, live) => sum + live.snapshots.length, 0);
    await vi.waitFor(() => expect(many.reduce((sum, live) => sum + live.snapshots.length, 0)).toBeGreaterThanOrEqual(received + 30), { timeout: 8000, interval: 20 });
    const ticks = stats.computations - start;
    // 30 more pushes to 10 subscribers took about 3 ticks, not 30 computations (the hour window of the other test ticks too).
    expect(ticks).toBeLessThanOrEqual(12);
    expect(many[0]!.snapshots.at(-1)).toMatchObject({ window: 'LAST_30_DAYS', bucketSeconds: 600 });
  });

  it('stops within a second when the subscriber loses the admin permission, changed on another node', async () => {
    const admin = await createSignedInUser(gw, root, { permissions: ['admin'] });
    const live = subscribe(gw, admin.token, { window: 'LAST_HOUR' });
    clients.push(live.client);
    await vi.waitFor(() => expect(live.snapshots.length).toBeGreaterThan(1), { timeout: 3000, interval: 20 });
    const changed = await gql(other, 'mutation($id: ID!) { setUserPermissions(id: $id, permissions: []) { __typename } }', { id: admin.id }, root);
    expect(changed.errors).toBeUndefined();
    const lostAt = Date.now();
    await vi.waitFor(() => expect(live.completed).toBe(true), { timeout: 1000, interval: 10 });
    const count = live.snapshots.length;
    await new Promise((resolve) => setTimeout(resolve, TICK_MS * 3));
    expect(live.snapshots.length).toBe(count);
    expect(Date.now() - lostAt).toBeLessThan(1000 + TICK_MS * 3 + 500);
  });

  it('stops when the credential is revoked, and refuses non-admins from the start', async () => {
    const owner = await createSignedInUser(gw, root, { permissions: ['admin'] });
    const token = await createApiToken(gw, owner.token, undefined, ['admin']);
    const live = subscribe(gw, token.token, { window: 'LAST_HOUR' });
    clients.push(live.client);
    await vi.waitFor(() => expect(live.snapshots.length).toBeGreaterThan(0), { timeout: 3000, interval: 20 });
    expect((await httpCall(other, '/v1/api-tokens/delete', [token.id], { token: owner.token })).status).toBe(200);
    await vi.waitFor(() => expect(live.completed || live.errors.length > 0).toBe(true), { timeout: 1000, interval: 10 });

    const plain = await createSignedInUser(gw, root);
    const refused = subscribe(gw, plain.token, { window: 'LAST_HOUR' });
    clients.push(refused.client);
    await vi.waitFor(() => expect(refused.errors.length).toBeGreaterThan(0), { timeout: 3000, interval: 20 });
    expect(refused.snapshots).toEqual([]);
  });
});
