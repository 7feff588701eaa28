import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { RedisStats } from '../../src/kv/redis-stats.ts';
import type { StatsStore } from '../../src/kv/stats.ts';
import { bucketStart } from '../../src/kv/stats.ts';
import { startTwoNodes, type TwoNodes } from '../helpers/cluster.ts';
import { ROOT_PASSWORD, startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { gql, rootSession } from '../helpers/graphql.ts';
import { TEST_REDIS_URL } from '../helpers/services.ts';
import { TcpProxy } from '../helpers/tcp-proxy.ts';
import { httpCall } from '../helpers/v1.ts';

const METHOD = '/v1/test/test';
const FLUSHED = { timeout: 8000, interval: 100 };

async function callMany(node: { url: string }, count: number, arg: string): Promise<void> {
  const answers = await Promise.all(Array.from({ length: count }, () => httpCall(node, METHOD, [arg])));
  expect(answers.every((answer) => answer.status === 200)).toBe(true);
}

async function loggedCalls(node: { url: string }, token: string, methodId = METHOD): Promise<number> {
  const result = await gql<{ apiCallLog: { totalCount: number } }>(node, 'query($m: String) { apiCallLog(filter: { methodId: $m }) { totalCount } }', { m: methodId }, token);
  return result.data?.apiCallLog.totalCount ?? -1;
}

describe('two gateway processes of one deployment', () => {
  let nodes: TwoNodes;
  let redis: Redis;
  let stats: StatsStore;
  let root: string;

  beforeAll(async () => {
    nodes = await startTwoNodes();
    redis = new Redis(TEST_REDIS_URL);
    stats = new RedisStats(redis, nodes.redisPrefix);
    root = await rootSession(nodes.b, ROOT_PASSWORD);
  }, 60_000);
  afterAll(async () => {
    redis?.disconnect();
    await nodes?.stop();
  });

  async function accepted(): Promise<{ minute: number; tenMinutes: number }> {
    const now = Date.now();
    const sum = async (resolution: 'minute' | 'tenMinutes', span: number) => {
      const buckets = (await stats.read([METHOD], resolution, now - span, bucketStart(now, resolution), now)).get(METHOD)!;
      return [...buckets.values()].reduce((total, counts) => total + counts.accepted, 0);
    };
    return { minute: await sum('minute', 3_600_000), tenMinutes: await sum('tenMinutes', 3_600_000) };
  }

  it('sum their calls into the same buckets, exactly', async () => {
    await callMany(nodes.a, 30, 'a');
    await callMany(nodes.b, 20, 'b');
    await vi.waitFor(async () => expect(await accepted()).toEqual({ minute: 50, tenMinutes: 50 }), FLUSHED);
    // The declared keys carry the method as hash tag and a TTL.
    const keys = await redis.keys(`${nodes.redisPrefix}stats:v1:{${METHOD}}:*`);
    expect(keys.length).toBeGreaterThanOrEqual(2);
    for (const key of keys) expect(await redis.pttl(key)).toBeGreaterThan(0);
  });

  it('lose no served call on SIGTERM: the last flush runs on the way out', async () => {
    const before = await accepted();
    await callMany(nodes.a, 25, 'before-term');
    // Stopped at once: the calls are still in the buffer (flushed every second).
    const stopped = await nodes.a.stop('SIGTERM');
    expect(stopped.code).toBe(0);
    await vi.waitFor(async () => expect(await loggedCalls(nodes.b, root)).toBe(50 + 25), FLUSHED);
    expect((await accepted()).minute).toBe(before.minute + 25);
  });
});

describe('when Redis goes away (production mode, Redis through a proxy)', () => {
  const target = new URL(TEST_REDIS_URL);
  const proxy = new TcpProxy({ host: target.hostname, port: Number(target.port || 6379) });
  let gw: TestGateway;
  let root: string;

  beforeAll(async () => {
    await proxy.start();
    gw = await startTestGateway('production', { redisUrl: proxy.rewrite(TEST_REDIS_URL), callLog: { flushIntervalMs: 100, statsRefreshMs: { lastHour: 1 } } });
    root = await rootSession(gw, ROOT_PASSWORD);
  }, 60_000);
  afterAll(async () => {
    await gw?.close();
    await proxy.stop();
  });

  const statsStore = () => gw.gateway.kv.stats;
  async function accepted(): Promise<number> {
    const now = Date.now();
    const series = (await statsStore().read([METHOD], 'minute', now - 3_600_000, bucketStart(now, 'minute'), now)).get(METHOD)!;
    return [...series.values()].reduce((total, counts) => total + counts.accepted, 0);
  }

  it('keeps serving calls, writes the log rows, and counts the calls once Redis is back', async () => {
    await callMany(gw, 5, 'up');
    await vi.waitFor(async () => expect(await accepted()).toBe(5), FLUSHED);
    await proxy.stop();
    await callMany(gw, 7, 'down');
    await vi.waitFor(async () => expect(await loggedCalls(gw, root)).toBe(12), FLUSHED);
    await expect(accepted()).rejects.toThrow();
    await proxy.start();
    await callMany(gw, 3, 'back');
    // Counts kept while Redis was away are written when it is back: nothing lost, nothing twice.
    await vi.waitFor(async () => expect(await accepted()).toBe(15), { timeout: 15_000, interval: 100 });
    expect(await loggedCalls(gw, root)).toBe(15);
  });
});
