import Api from '@softvisio/core/api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MODES, ROOT_PASSWORD, startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { gql, rootSession } from '../helpers/graphql.ts';
import { apiUrl, TRANSPORTS } from '../helpers/v1.ts';

interface ClientResult {
  readonly status: number;
  readonly ok: boolean;
  readonly data: unknown;
  readonly meta: Record<string, unknown>;
}
interface Client {
  call(method: string, ...args: unknown[]): Promise<ClientResult>;
}

type Load = { date: string; total_accepted: number; total_declined: number; calls: number };
type Requests = { date: string; exceptions_percent: number | null; avg_runtime: number | null; calls: number; errors: number; p50: number | null; p95: number | null; p99: number | null };
type Stats = { id: string; last_updated: string; load: Load[]; requests: Requests[] };

const MINUTE = 60_000;
const TEN_MINUTES = 10 * MINUTE;

/**
 * The three v1 methods through the published client (7.143.0), over HTTP and WebSocket, on a clock
 * the test moves: gap filling, bucket boundaries and the shapes of protocol.md §4.1.
 */
describe.each(MODES)('v1 admin/api-call-log through the real client (%s)', (mode) => {
  let gw: TestGateway;
  let root: string;
  // A ten-minute boundary a little in the past: Redis keeps buckets by real time too.
  const boundary = Math.floor(Date.now() / TEN_MINUTES) * TEN_MINUTES - TEN_MINUTES;
  let now = boundary - 2 * MINUTE;
  const clock = () => now;

  beforeAll(async () => {
    gw = await startTestGateway(mode, { callLog: { now: clock, flushIntervalMs: 60_000, statsRefreshMs: { lastHour: 1, last30Days: 1 } } });
    root = await rootSession(gw, ROOT_PASSWORD);
  });
  afterAll(() => gw?.close());

  const recorder = () => gw.gateway.domain.callLog.recorder;
  const call = (durationMs: number, extra: Partial<Parameters<ReturnType<typeof recorder>['record']>[0]> = {}) =>
    recorder().record({ methodId: '/v1/probe/a', principal: { kind: 'guest' }, client: null, durationMs, status: 200, statusText: 'OK', error: false, exception: false, ...extra });

  it('fills gaps, splits at bucket boundaries and answers the shapes of §4.1 plus calls, errors and percentiles', async () => {
    // Calls are bucketed by their start (the clock at the end, less the duration): two end 1 ms
    // before the ten-minute boundary, three start at or just after it, one four minutes later.
    now = boundary - 1;
    call(2);
    call(4, { error: true, status: 400, statusText: 'Bad Request' });
    now = boundary + 1;
    call(0.3);
    call(0.3, { error: true, exception: true, status: 500, statusText: 'Internal Server Error' });
    recorder().declined('/v1/probe/a', 'concurrency', { principal: { kind: 'guest' }, client: null });
    now = boundary + 4 * MINUTE + 30_000;
    call(10);
    await recorder().flush();

    for (const transport of TRANSPORTS) {
      const client = new Api(apiUrl(gw, transport), { token: root }) as Client;
      const latest = await client.call('/v1/admin/api-call-log/read-latest-stat', '/v1/probe/a');
      expect(latest.ok).toBe(true);
      const stats = latest.data as Stats;
      expect(stats.id).toBe('/v1/probe/a');
      expect(stats.last_updated).toBe(new Date(now).toISOString());
      expect(stats.load).toHaveLength(60);
      expect(stats.requests).toHaveLength(60);
      // 60 one-minute points ending with the current minute, oldest first.
      expect(stats.load.at(-1)!.date).toBe(new Date(boundary + 4 * MINUTE).toISOString());
      expect(Date.parse(stats.load[0]!.date)).toBe(boundary + 4 * MINUTE - 59 * MINUTE);
      const at = (ms: number) => stats.load.findIndex((p) => p.date === new Date(ms).toISOString());
      const before = at(boundary - MINUTE);
      expect(stats.load[before]).toEqual({ date: new Date(boundary - MINUTE).toISOString(), total_accepted: 2, total_declined: 0, calls: 2 });
      expect(stats.load[before + 1]).toEqual({ date: new Date(boundary).toISOString(), total_accepted: 2, total_declined: 1, calls: 3 });
      // The gap between is filled with zeros.
      for (const gap of [2, 3, 4]) expect(stats.load[before + gap]).toMatchObject({ total_accepted: 0, total_declined: 0, calls: 0 });
      expect(stats.load[before + 5]).toMatchObject({ total_accepted: 1, calls: 1 });
      expect(stats.requests[before]).toMatchObject({ exceptions_percent: 0, avg_runtime: 0, calls: 2, errors: 1 });
      expect(stats.requests[before]!.p50).toBeCloseTo(2, 1);
      expect(stats.requests[before]!.p99).toBeCloseTo(4, 1);
      // Sub-millisecond durations stay fractional.
      expect(stats.requests[before + 1]).toMatchObject({ exceptions_percent: 50, errors: 1 });
      expect(stats.requests[before + 1]!.p50).toBeGreaterThan(0.29);
      expect(stats.requests[before + 1]!.p50).toBeLessThan(0.31);
      expect(stats.requests[before + 2]).toMatchObject({ exceptions_percent: null, avg_runtime: null, p50: null, p95: null, p99: null, calls: 0 });

      // Every method's entry carries the concurrency limits in force (the README's defaults: 1024
      // at once, 64 per caller) and the calls in flight on the answering node.
      const all = await client.call('/v1/admin/api-call-log/read-latest-stat');
      expect(all.ok).toBe(true);
      const entry = (all.data as (Stats & Record<string, unknown>)[]).find((m) => m.id === '/v1/probe/a');
      expect(entry).toMatchObject({ active_requests_limit: 1024, active_requests_user_limit: 64, total_active_requests: 0, load: stats.load });
      const changed = await client.call('/v1/admin/settings/update', { call_limits: { '/v1/probe/a': { concurrent: 7, concurrentPerCaller: null } } });
      expect(changed.ok).toBe(true);
      const limited = await client.call('/v1/admin/api-call-log/read-latest-stat');
      const limitedEntry = (limited.data as Record<string, unknown>[]).find((m) => m.id === '/v1/probe/a');
      expect(limitedEntry).toMatchObject({ active_requests_limit: 7, active_requests_user_limit: null });
      // A reading call is itself in flight while it answers.
      const reading = await gql(gw, '{ apiStats(methodIds: ["graphql/query/apiStats"]) { methods { methodId inFlight concurrentLimit } } }', {}, root);
      expect(reading.data).toEqual({ apiStats: { methods: [{ methodId: 'graphql/query/apiStats', inFlight: 1, concurrentLimit: 1024 }] } });
      expect((await client.call('/v1/admin/settings/update', { call_limits: {} })).ok).toBe(true);

      const history = await client.call('/v1/admin/api-call-log/read-history-stat', '/v1/probe/a');
      expect(history.ok).toBe(true);
      const days = history.data as Stats;
      expect(days.load).toHaveLength(4320);
      // Ten-minute points: the boundary splits the calls 2 | 3, the later call joins the second.
      expect(days.load.at(-1)).toEqual({ date: new Date(boundary).toISOString(), total_accepted: 3, total_declined: 1, calls: 4 });
      expect(days.load.at(-2)).toEqual({ date: new Date(boundary - TEN_MINUTES).toISOString(), total_accepted: 2, total_declined: 0, calls: 2 });
      expect(days.load.slice(0, -2).every((p) => p.calls === 0)).toBe(true);

      const log = await client.call('/v1/admin/api-call-log/read-log', { where: { method_id: ['=', '/v1/probe/a'] }, limit: 2 });
      expect(log.ok).toBe(true);
      expect(log.meta).toMatchObject({ rows: 2, total: 6, summary: { total: 6 } });
      const rows = log.data as Record<string, unknown>[];
      expect(rows[0]).toMatchObject({ method_id: '/v1/probe/a', user_id: null, runtime: 10, is_error: false, is_exception: false, status: 200, status_text: 'OK' });
      expect(Date.parse(rows[0]!.started as string)).toBe(now - 10);
      const oldest = await client.call('/v1/admin/api-call-log/read-log', { where: { method_id: '/v1/probe/a' }, order_by: [['started', 'asc']], limit: 1, offset: 0 });
      expect((oldest.data as Record<string, unknown>[])[0]).toMatchObject({ runtime: 4, duration_ms: 4, is_error: true, status: 400 });
      const declined = await client.call('/v1/admin/api-call-log/read-log', { where: { method_id: '/v1/probe/a' }, offset: 6 });
      expect(declined).toMatchObject({ ok: true, data: null, meta: { total: 6 } });
      const unknown = await client.call('/v1/admin/api-call-log/read-history-stat', '/v1/probe/never');
      expect((unknown.data as Stats).load.every((p) => p.calls === 0)).toBe(true);
    }
  });

  it('serves a computed window for its refresh interval', async () => {
    const { stats } = gw.gateway.domain.callLog;
    // This gateway recomputes every millisecond of its clock; a still clock serves the cache.
    const first = await stats.snapshot('lastHour');
    const again = await stats.snapshot('lastHour');
    expect(again.lastUpdated).toEqual(first.lastUpdated);
    now += 5;
    expect((await stats.snapshot('lastHour')).lastUpdated.getTime()).toBe(now);
  });
});
