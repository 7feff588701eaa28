import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { InvalidatingCache } from '../../src/kv/cache.ts';
import type { PubSub } from '../../src/kv/pubsub.ts';
import { KV_KINDS, openKvNodes, uniqueChannel, type KvNodes } from '../helpers/kv.ts';

const WITHIN_ONE_SECOND = { timeout: 1000, interval: 10 };
const LONG = { ttlMs: 60_000, tags: [] as string[] };

describe.each(KV_KINDS)('InvalidatingCache over %s pub/sub', (kind) => {
  let nodes: KvNodes;
  const open: InvalidatingCache<unknown>[] = [];

  /** One cache on each node, on a channel of their own. */
  async function cachePair(options: { maxEntries?: number } = {}) {
    const channel = uniqueChannel('cache');
    const start = async (pubsub: PubSub) => {
      const cache = new InvalidatingCache<string>(pubsub, channel, options);
      await cache.start();
      open.push(cache as InvalidatingCache<unknown>);
      return cache;
    };
    return { onA: await start(nodes.a.pubsub), onB: await start(nodes.b.pubsub) };
  }

  beforeAll(async () => {
    nodes = await openKvNodes(kind);
  });
  afterEach(async () => {
    await Promise.all(open.splice(0).map((cache) => cache.close()));
  });
  afterAll(() => nodes?.close());

  it('stores and returns values, each node its own', async () => {
    const { onA, onB } = await cachePair();
    expect(onA.trusted).toBe(true);
    expect(onA.get('missing')).toBeUndefined();
    onA.set('k', 'value', { ttlMs: 60_000, tags: ['user:1'] });
    expect(onA.get('k')).toBe('value');
    expect(onA.size).toBe(1);
    expect(onB.get('k')).toBeUndefined();
    onA.set('k', 'replaced', LONG);
    expect(onA.get('k')).toBe('replaced');
    expect(onA.size).toBe(1);
    onA.delete('k');
    expect(onA.get('k')).toBeUndefined();
    expect(onA.size).toBe(0);
  });

  it('drops entries when their time to live has passed, and never stores a non-positive one', async () => {
    const { onA } = await cachePair();
    onA.set('short', 'soon gone', { ttlMs: 50, tags: [] });
    onA.set('long', 'stays', LONG);
    onA.set('zero', 'never', { ttlMs: 0, tags: [] });
    expect(onA.get('short')).toBe('soon gone');
    expect(onA.get('zero')).toBeUndefined();
    await vi.waitFor(() => expect(onA.get('short')).toBeUndefined(), { timeout: 2000, interval: 10 });
    expect(onA.get('long')).toBe('stays');
    expect(onA.size).toBe(1);
  });

  it('drops the tagged entries on every node when one node invalidates a tag', async () => {
    const { onA, onB } = await cachePair();
    for (const cache of [onA, onB]) {
      cache.set('user-1', 'one', { ttlMs: 60_000, tags: ['user:1'] });
      cache.set('user-1-token', 'token', { ttlMs: 60_000, tags: ['token:9', 'user:1'] });
      cache.set('user-2', 'two', { ttlMs: 60_000, tags: ['user:2'] });
    }
    const invalidated = onA.invalidate(['user:1']);
    // The node that invalidates drops its entries at once.
    expect(onA.get('user-1')).toBeUndefined();
    expect(onA.get('user-1-token')).toBeUndefined();
    await invalidated;
    await vi.waitFor(() => {
      expect(onB.get('user-1')).toBeUndefined();
      expect(onB.get('user-1-token')).toBeUndefined();
    }, WITHIN_ONE_SECOND);
    expect(onA.get('user-2')).toBe('two');
    expect(onB.get('user-2')).toBe('two');
    expect(onB.size).toBe(1);
  });

  it('ignores a value loaded before an invalidation arrived (stale epoch)', async () => {
    const { onA, onB } = await cachePair();
    const localEpoch = onA.epoch;
    await onA.invalidate(['user:1']);
    onA.set('loaded-before-local', 'stale', LONG, localEpoch);
    expect(onA.get('loaded-before-local')).toBeUndefined();

    const remoteEpoch = onB.epoch;
    await onA.invalidate(['user:1']);
    await vi.waitFor(() => expect(onB.epoch).not.toBe(remoteEpoch), WITHIN_ONE_SECOND);
    onB.set('loaded-before-remote', 'stale', LONG, remoteEpoch);
    expect(onB.get('loaded-before-remote')).toBeUndefined();

    onB.set('loaded-now', 'fresh', LONG, onB.epoch);
    expect(onB.get('loaded-now')).toBe('fresh');

    const beforeClear = onB.epoch;
    onB.clear();
    expect(onB.size).toBe(0);
    onB.set('loaded-before-clear', 'stale', LONG, beforeClear);
    expect(onB.get('loaded-before-clear')).toBeUndefined();
  });

  it('tells its listeners about local and remote invalidations, once each', async () => {
    const { onA, onB } = await cachePair();
    const heardOnA: (readonly string[])[] = [];
    const heardOnB: (readonly string[])[] = [];
    onA.onInvalidate((tags) => heardOnA.push(tags));
    const stopB = onB.onInvalidate((tags) => heardOnB.push(tags));

    await onA.invalidate(['user:1', 'token:2']);
    expect(heardOnA).toEqual([['user:1', 'token:2']]);
    await vi.waitFor(() => expect(heardOnB).toEqual([['user:1', 'token:2']]), WITHIN_ONE_SECOND);

    // A's own message comes back to A before B's marker does: it must not be heard twice.
    await onB.invalidate(['marker']);
    await vi.waitFor(() => expect(heardOnA).toEqual([['user:1', 'token:2'], ['marker']]), WITHIN_ONE_SECOND);
    expect(heardOnB).toEqual([['user:1', 'token:2'], ['marker']]);

    stopB();
    await onA.invalidate(['user:3']);
    await onB.invalidate(['marker-2']);
    await vi.waitFor(() => expect(heardOnA.at(-1)).toEqual(['marker-2']), WITHIN_ONE_SECOND);
    expect(heardOnB).toEqual([['user:1', 'token:2'], ['marker']]);
  });

  it('evicts the oldest entry beyond maxEntries', async () => {
    const { onA } = await cachePair({ maxEntries: 3 });
    onA.set('a', 'A', { ttlMs: 60_000, tags: ['t:a'] });
    onA.set('b', 'B', LONG);
    onA.set('c', 'C', LONG);
    onA.set('b', 'B2', LONG); // replacing an entry is not growth
    expect(onA.size).toBe(3);
    expect(onA.get('a')).toBe('A');
    onA.set('d', 'D', LONG);
    expect(onA.size).toBe(3);
    expect(onA.get('a')).toBeUndefined();
    expect([onA.get('b'), onA.get('c'), onA.get('d')]).toEqual(['B2', 'C', 'D']);
    // The evicted entry's tag no longer points anywhere.
    onA.set('e', 'E', LONG);
    await onA.invalidate(['t:a']);
    expect(onA.size).toBe(3);
  });
});
