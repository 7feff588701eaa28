import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { InvalidatingCache } from '../../src/kv/cache.ts';
import { openKv, type Kv } from '../../src/kv/kv.ts';
import { subscribeInbox, type Inbox } from '../helpers/kv.ts';
import { createRedisPrefix, TEST_REDIS_URL } from '../helpers/services.ts';
import { TcpProxy } from '../helpers/tcp-proxy.ts';

const LONG = { ttlMs: 60_000, tags: ['user:1'] };
const SOON = { timeout: 3000, interval: 20 };
/** ioredis retries with a growing delay (at most 2 s), so reconnecting can take a few seconds. */
const RECONNECT = { timeout: 10_000, interval: 50 };

/**
 * A node whose Redis connection goes through a proxy that the test stops and starts, and a
 * second node of the same deployment connected to Redis directly.
 */
describe('Redis roles when the connection to Redis is lost (Redis implementation)', () => {
  const target = new URL(TEST_REDIS_URL);
  const proxy = new TcpProxy({ host: target.hostname, port: Number(target.port || 6379) });
  let redisPrefix: Awaited<ReturnType<typeof createRedisPrefix>>;
  let node: Kv;
  let other: Kv;
  let cache: InvalidatingCache<string>;
  let otherCache: InvalidatingCache<string>;
  let events: Inbox;
  const connectionChanges: boolean[] = [];
  const redisErrors: Error[] = [];

  beforeAll(async () => {
    redisPrefix = await createRedisPrefix();
    // openKv waits for its first connection, so the proxy must listen first.
    await proxy.start();
    node = await openKv({
      redisUrl: proxy.rewrite(TEST_REDIS_URL),
      keyPrefix: redisPrefix.prefix,
      onRedisError: (error) => redisErrors.push(error),
    });
    other = await openKv({ redisUrl: TEST_REDIS_URL, keyPrefix: redisPrefix.prefix });
    cache = new InvalidatingCache<string>(node.pubsub, 'auth');
    otherCache = new InvalidatingCache<string>(other.pubsub, 'auth');
    await Promise.all([cache.start(), otherCache.start()]);
    events = await subscribeInbox(node.pubsub, 'events');
    node.pubsub.onConnectionChange((connected) => connectionChanges.push(connected));
  });

  afterAll(async () => {
    await Promise.allSettled([cache?.close(), otherCache?.close()]);
    await Promise.allSettled([node?.close(), other?.close()]);
    await proxy.stop();
    await redisPrefix?.clear();
  });

  it('works through the proxy while it runs', async () => {
    expect(node.pubsub.connected).toBe(true);
    await node.ping();
    cache.set('principal', 'alice', LONG);
    expect(cache.get('principal')).toBe('alice');
    await other.pubsub.publish('events', 'first');
    await vi.waitFor(() => expect(events.messages).toEqual(['first']), SOON);
    await node.counters.increment('shared', 60_000);
    expect((await other.counters.peek('shared'))?.count).toBe(1);
  });

  it('degrades when Redis goes away: not connected, cache emptied and untrusted, counters local, ping failing', async () => {
    otherCache.set('seen-elsewhere', 'stale soon', { ttlMs: 60_000, tags: ['user:offline'] });
    await proxy.stop();

    await vi.waitFor(() => expect(node.pubsub.connected).toBe(false), SOON);
    expect(connectionChanges).toEqual([false]);

    expect(cache.size).toBe(0);
    expect(cache.get('principal')).toBeUndefined();
    expect(cache.trusted).toBe(false);
    cache.set('principal', 'alice', LONG);
    expect(cache.get('principal')).toBeUndefined();
    expect(cache.size).toBe(0);

    // Counters answer from this node's memory instead of throwing.
    const first = await node.counters.increment('while-down', 60_000);
    const second = await node.counters.increment('while-down', 60_000);
    expect(first.count).toBe(1);
    expect(second.count).toBe(2);
    expect(second.resetInMs).toBeGreaterThan(0);
    expect(second.resetInMs).toBeLessThanOrEqual(60_000);
    expect((await node.counters.peek('while-down'))?.count).toBe(2);
    expect(redisErrors.length).toBeGreaterThan(0);

    await expect(node.ping()).rejects.toThrow(/Redis/);

    // An invalidation made now cannot be published yet; it must go out once Redis is back.
    await expect(cache.invalidate(['user:offline'])).resolves.toBeUndefined();
  });

  it('recovers when Redis comes back: resubscribes, delivers new messages, answers ping', async () => {
    const delivered = new Promise<void>((resolve) => {
      const stop = node.pubsub.onConnectionChange((connected) => {
        if (!connected) return;
        stop();
        // Published the moment the node reports itself connected: it must arrive.
        void other.pubsub.publish('events', 'right after reconnect').then(() => resolve());
      });
    });
    await proxy.start(); // same port as before

    await vi.waitFor(() => expect(node.pubsub.connected).toBe(true), RECONNECT);
    await delivered;
    await vi.waitFor(() => expect(events.messages).toEqual(['first', 'right after reconnect']), SOON);
    expect(connectionChanges).toEqual([false, true]);

    await other.pubsub.publish('events', 'later');
    await vi.waitFor(() => expect(events.messages).toEqual(['first', 'right after reconnect', 'later']), SOON);

    await vi.waitFor(() => node.ping(), RECONNECT);

    // The invalidation made while Redis was away reached the other node.
    await vi.waitFor(() => expect(otherCache.get('seen-elsewhere')).toBeUndefined(), RECONNECT);

    expect(cache.trusted).toBe(true);
    cache.set('principal', 'alice again', LONG);
    expect(cache.get('principal')).toBe('alice again');

    // Counters are shared through Redis again.
    await vi.waitFor(async () => {
      await other.counters.reset('after');
      await other.counters.increment('after', 60_000);
      expect((await node.counters.increment('after', 60_000)).count).toBe(2);
    }, RECONNECT);
  });
});
