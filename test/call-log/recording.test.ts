import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CallLogEntry } from '../../src/domain/call-log-store.ts';
import { Dispatcher } from '../../src/rpc-facade/dispatcher.ts';
import { MethodTable } from '../../src/rpc-facade/method-table.ts';
import { V1_METHODS } from '../../src/rpc-facade/methods/index.ts';
import type { V1Method } from '../../src/rpc-facade/method.ts';
import { buildSchema } from '../../src/graph/schema.ts';
import { GUEST } from '../../src/domain/principal.ts';
import { createLogger } from '../../src/logger.ts';
import { MODES, ROOT_PASSWORD, startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { gql, gqlWs, rootSession, createSignedInUser } from '../helpers/graphql.ts';
import { apiUrl, httpCall, RawWs } from '../helpers/v1.ts';

const STATS = `query Stats($ids: [String!], $window: ApiStatsWindow!) {
  apiStats(methodIds: $ids, window: $window) {
    window bucketSeconds lastUpdated
    methods { methodId total { at calls accepted declined errors exceptions avgMs p50 p95 p99 declinedBy { rule count } } points { at calls accepted } }
  }
}`;

const LOG = `query Log($first: Int, $after: String, $filter: ApiCallFilter) {
  apiCallLog(first: $first, after: $after, filter: $filter) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { cursor node { id methodId userId credentialId credentialKind clientAddress startedAt durationMs status statusText outcome declinedBy } }
  }
}`;

type Point = { at: string; calls: number; accepted: number; declined: number; errors: number; exceptions: number; avgMs: number | null; p50: number | null; p95: number | null; p99: number | null; declinedBy: { rule: string; count: number }[] };
type Snapshot = { window: string; bucketSeconds: number; lastUpdated: string; methods: { methodId: string; total: Point; points: { at: string; calls: number; accepted: number }[] }[] };

const BOOM: V1Method = {
  id: '/v1/test/boom',
  permission: '*',
  title: 'Fails unexpectedly',
  params: [],
  document: 'query Boom { serverTime }',
  plan: () => {
    throw new Error('boom');
  },
  result: () => ({ status: 200 }),
};

const DAY = 24 * 3_600_000;
const today = Math.floor(Date.now() / DAY) * DAY;

function entry(startedAt: number): CallLogEntry {
  return {
    methodId: '/v1/test/test',
    userId: null,
    credentialKind: null,
    credentialId: null,
    clientAddress: '127.0.0.1',
    startedAt,
    durationMs: 1,
    status: 200,
    statusText: 'OK',
    isError: false,
    isException: false,
    isDeclined: false,
    declinedBy: null,
  };
}

describe.each(MODES)('call recording (%s)', (mode) => {
  let gw: TestGateway;
  let root: string;

  beforeAll(async () => {
    // Statistics computed afresh for every read: the counts are checked right after each flush.
    gw = await startTestGateway(mode, { callLog: { flushIntervalMs: 60_000, statsRefreshMs: { lastHour: 1, last30Days: 1 } } });
    root = await rootSession(gw, ROOT_PASSWORD);
  });
  afterAll(() => gw?.close());

  const flush = () => gw.gateway.domain.callLog.recorder.flush();

  async function stats(ids: string[] | null, window = 'LAST_HOUR'): Promise<Snapshot> {
    const result = await gql<{ apiStats: Snapshot }>(gw, STATS, { ids, window }, root);
    expect(result.errors).toBeUndefined();
    return result.data!.apiStats;
  }

  it('counts a known mix over HTTP, WebSocket and GraphQL exactly, each call once under its id', async () => {
    await flush();
    const user = await createSignedInUser(gw, root);
    const ws = await RawWs.open(apiUrl(gw, 'ws'), user.token);
    for (let i = 0; i < 3; i++) expect((await httpCall(gw, '/v1/test/test', ['x'])).status).toBe(200);
    for (let i = 0; i < 2; i++) expect((await ws.call('/v1/test/test', ['x'])).status).toBe(200);
    // Refused by the permission check: an error, not a declined call.
    expect((await httpCall(gw, '/v1/admin/users/read', [], { token: user.token })).status).toBe(-32801);
    // Parameters that do not validate: an error.
    expect((await httpCall(gw, '/v1/test/test', [{ a: 1 }])).status).toBe(-32808);
    // Unknown ids are not methods: nothing recorded.
    expect((await httpCall(gw, '/v1/test/no-such-method', [])).status).toBe(-32809);
    await ws.close();
    for (let i = 0; i < 4; i++) expect((await gql(gw, '{ serverTime a: serverTime }', {})).errors).toBeUndefined();
    // A guest asking for an admin field: the field fails.
    expect((await gql(gw, '{ users(first: 1) { totalCount } }', {})).errors?.[0]?.extensions?.code).toBeDefined();
    const ticks = await gqlWs(gw, 'subscription { ticks(intervalMs: 10, count: 2) { sequence } }', {});
    expect(ticks).toHaveLength(2);
    await flush();

    const snapshot = await stats(['/v1/test/test', '/v1/admin/users/read', '/v1/test/no-such-method', 'graphql/query/serverTime', 'graphql/query/users', 'graphql/subscription/ticks', 'graphql/query/apiStats']);
    const byId = Object.fromEntries(snapshot.methods.map((m) => [m.methodId, m.total]));
    expect(byId['/v1/test/test']).toMatchObject({ calls: 6, accepted: 6, declined: 0, errors: 1, exceptions: 0 });
    expect(byId['/v1/admin/users/read']).toMatchObject({ calls: 1, accepted: 1, errors: 1 });
    expect(byId['/v1/test/no-such-method']).toMatchObject({ calls: 0, avgMs: null, p50: null });
    // Two root fields (one aliased) per operation; the v1 calls above never show up as GraphQL.
    expect(byId['graphql/query/serverTime']).toMatchObject({ calls: 8, accepted: 8, errors: 0 });
    expect(byId['graphql/query/users']).toMatchObject({ calls: 1, errors: 1, exceptions: 0 });
    expect(byId['graphql/subscription/ticks']).toMatchObject({ calls: 1, errors: 0 });
    const test = byId['/v1/test/test']!;
    expect(test.avgMs).toBeGreaterThan(0);
    expect(test.p50).toBeGreaterThan(0);
    expect(test.p99!).toBeGreaterThanOrEqual(test.p50!);
    expect(snapshot).toMatchObject({ window: 'LAST_HOUR', bucketSeconds: 60 });
    const points = snapshot.methods[0]!.points;
    expect(points).toHaveLength(60);
    expect(points.reduce((sum, p) => sum + p.calls, 0)).toBe(6);

    const log = await gql<{ apiCallLog: { totalCount: number; edges: { node: Record<string, unknown> }[] } }>(gw, LOG, { first: 100, filter: { methodId: '/v1/test/test' } }, root);
    expect(log.errors).toBeUndefined();
    expect(log.data!.apiCallLog.totalCount).toBe(6);
    const rows = log.data!.apiCallLog.edges.map((edge) => edge.node);
    expect(rows.filter((row) => row.outcome === 'OK')).toHaveLength(5);
    expect(rows.filter((row) => row.outcome === 'ERROR')).toHaveLength(1);
    const wsRows = rows.filter((row) => row.userId === user.id);
    expect(wsRows).toHaveLength(2);
    expect(wsRows[0]).toMatchObject({ credentialKind: 'session', clientAddress: '127.0.0.1', status: 200, statusText: 'OK', declinedBy: null });
    // Newest first.
    const started = rows.map((row) => Date.parse(row.startedAt as string));
    expect([...started].sort((a, b) => b - a)).toEqual(started);
  });

  it('records calls a limit declines, by rule, and exceptions', async () => {
    await flush();
    const { domain } = gw.gateway;
    const dispatcher = new Dispatcher({ table: new MethodTable(buildSchema(), [...V1_METHODS, BOOM]), domain });
    // One call per caller at a time, for this test only.
    const setLimits = async (limits: unknown) => {
      const answer = await httpCall(gw, '/v1/admin/settings/update', [{ call_limits: limits }], { token: root });
      expect(answer.status, JSON.stringify(answer.envelope)).toBe(200);
    };
    await setLimits({ '/v1/test/test': { concurrentPerCaller: 1 } });
    await expect.poll(() => domain.callLimits.rulesFor('/v1/test/test').concurrentPerCaller).toBe(1);
    const call = { principal: GUEST, client: { address: '10.0.0.9', userAgent: null }, requestId: 'r', log: createLogger('silent').log, transport: 'http' as const };
    const answers = await Promise.all([1, 2, 3].map(() => dispatcher.call('/v1/test/test', [], call)));
    expect(answers.map((a) => a.status).sort()).toEqual([-32802, -32802, 200]);
    await setLimits({});
    expect((await dispatcher.call('/v1/test/boom', [], call)).exception).toBe(true);
    // The hook for other limits: a call refused without the dispatcher.
    domain.callLog.recorder.declined('/v1/test/test', 'rate-limit:test', { principal: GUEST, client: call.client });
    await flush();
    const snapshot = await stats(['/v1/test/test', '/v1/test/boom']);
    const [test, boom] = snapshot.methods.map((m) => m.total);
    expect(test).toMatchObject({ declined: 3 });
    expect(test!.declinedBy.sort((a, b) => a.rule.localeCompare(b.rule))).toEqual([
      { rule: 'concurrentPerCaller', count: 2 },
      { rule: 'rate-limit:test', count: 1 },
    ]);
    expect(boom).toMatchObject({ calls: 1, accepted: 1, errors: 1, exceptions: 1 });
    const declined = await gql<{ apiCallLog: { totalCount: number; edges: { node: Record<string, unknown> }[] } }>(gw, LOG, { first: 10, filter: { outcome: 'DECLINED' } }, root);
    expect(declined.data!.apiCallLog.totalCount).toBe(3);
    expect(declined.data!.apiCallLog.edges[0]!.node).toMatchObject({ status: -32802, statusText: 'Too many requests', clientAddress: '10.0.0.9', userId: null, durationMs: 0 });
    const exceptions = await gql<{ apiCallLog: { totalCount: number } }>(gw, LOG, { first: 10, filter: { outcome: 'EXCEPTION' } }, root);
    expect(exceptions.data!.apiCallLog.totalCount).toBe(1);
  });

  it('keeps the calls of a deleted user, with a null user', async () => {
    const user = await createSignedInUser(gw, root);
    await httpCall(gw, '/v1/test/test', [], { token: user.token });
    await flush();
    expect((await httpCall(gw, '/v1/admin/users/delete', [user.id], { token: root })).status).toBe(200);
    // A call recorded before the delete but flushed after it keeps its row too.
    const late = await createSignedInUser(gw, root);
    await httpCall(gw, '/v1/test/test', ['late'], { token: late.token });
    expect((await httpCall(gw, '/v1/admin/users/delete', [late.id], { token: root })).status).toBe(200);
    await flush();
    const log = await gql<{ apiCallLog: { totalCount: number; edges: { node: { userId: string | null; credentialId: string | null } }[] } }>(gw, LOG, { first: 2, filter: { methodId: '/v1/test/test' } }, root);
    const [newest, older] = log.data!.apiCallLog.edges.map((e) => e.node);
    expect(newest).toMatchObject({ userId: null, credentialId: expect.any(String) });
    expect(older).toMatchObject({ userId: null });
    const filtered = await gql<{ apiCallLog: { totalCount: number } }>(gw, LOG, { filter: { userId: user.id } }, root);
    expect(filtered.data!.apiCallLog.totalCount).toBe(0);
  });

  it('refuses the statistics and the log to everyone but admins', async () => {
    const user = await createSignedInUser(gw, root);
    for (const token of [null, user.token]) {
      const result = await gql(gw, '{ apiStats { lastUpdated } apiCallLog { totalCount } }', {}, token);
      expect(result.data ?? null).toBeNull();
      expect(result.errors?.map((e) => e.extensions?.code)).toContain(token ? 'FORBIDDEN' : 'UNAUTHENTICATED');
    }
  });

  // Partitions and retention last: they drop what older tests wrote.
  const store = () => gw.gateway.domain.callLog.store;

  it('is a table partitioned by day, with partitions from yesterday to two days ahead made at start', async () => {
    const result = await gw.gateway.database.db.execute<{ strategy: string }>(sql`
      select pt.partstrat as strategy from pg_partitioned_table pt join pg_class c on c.oid = pt.partrelid where c.relname = 'call_log'`);
    const rows = Array.isArray(result) ? result : (result as unknown as { rows: { strategy: string }[] }).rows;
    expect(rows).toEqual([{ strategy: 'r' }]);
    const days = await store().partitionDays();
    for (const offset of [-1, 0, 1, 2]) expect(days).toContain(today + offset * DAY);
  });

  it('makes the partition a row needs when it is missing', async () => {
    const old = today - 40 * DAY + 3_600_000;
    await store().insert([entry(old), entry(today - 31 * DAY), entry(Date.now())]);
    const days = await store().partitionDays();
    expect(days).toContain(today - 40 * DAY);
    expect(days).toContain(today - 31 * DAY);
    expect(await store().count({ from: new Date(old - 1), to: new Date(old + 1) })).toBe(1);
  });

  it('drops whole partitions older than callLogRetentionDays, keeping the rest', async () => {
    const before = await store().count({});
    const removed = await gw.gateway.domain.callLog.applyRetention();
    expect(removed).toBe(2);
    const days = await store().partitionDays();
    expect(days.some((day) => day < today - 30 * DAY)).toBe(false);
    expect(days).toContain(today);
    expect(await store().count({})).toBe(before - 2);
    // A shorter retention drops more; nothing of today goes.
    await gw.gateway.domain.settings.update({ callLogRetentionDays: 1 });
    await store().ensurePartition(today - 3 * DAY);
    expect(await gw.gateway.domain.callLog.applyRetention()).toBeGreaterThanOrEqual(1);
    expect(Math.min(...(await store().partitionDays()))).toBeGreaterThanOrEqual(today - DAY);
    expect(await store().count({ from: new Date(today) })).toBeGreaterThanOrEqual(1);
  });
});
