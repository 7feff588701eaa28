import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { KV_KINDS, openKvNodes, type KvNodes } from '../helpers/kv.ts';

const key = (name: string) => `${name}:${randomUUID()}`;

describe.each(KV_KINDS)('Counters contract (%s)', (kind) => {
  let nodes: KvNodes;
  beforeAll(async () => {
    nodes = await openKvNodes(kind);
  });
  afterAll(() => nodes?.close());

  it('starts a counter at the first increment and reports the time left in its window', async () => {
    const name = key('first');
    const first = await nodes.a.counters.increment(name, 60_000);
    expect(first.count).toBe(1);
    expect(first.resetInMs).toBeGreaterThan(0);
    expect(first.resetInMs).toBeLessThanOrEqual(60_000);
    const second = await nodes.a.counters.increment(name, 60_000, 5);
    expect(second.count).toBe(6);
    // The window does not move with later increments.
    expect(second.resetInMs).toBeLessThanOrEqual(first.resetInMs);
    expect(second.resetInMs).toBeGreaterThan(0);
  });

  it('increments atomically under concurrency', async () => {
    const name = key('parallel');
    const results = await Promise.all(
      Array.from({ length: 200 }, (_, i) => (i % 2 === 0 ? nodes.a : nodes.b).counters.increment(name, 60_000)),
    );
    // Every increment saw a different value: 1 … 200, none lost, none repeated.
    expect(results.map((r) => r.count).sort((x, y) => x - y)).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
    for (const result of results) {
      expect(result.resetInMs).toBeGreaterThan(0);
      expect(result.resetInMs).toBeLessThanOrEqual(60_000);
    }
    expect((await nodes.a.counters.peek(name))?.count).toBe(200);
  });

  it('forgets a counter when its window ends and starts a new window at the next increment', async () => {
    const name = key('window');
    await nodes.a.counters.increment(name, 200);
    const state = await nodes.a.counters.increment(name, 200);
    expect(state.count).toBe(2);
    expect(state.resetInMs).toBeLessThanOrEqual(200);
    await vi.waitFor(async () => expect(await nodes.a.counters.peek(name)).toBeNull(), { timeout: 3000, interval: 25 });
    const fresh = await nodes.a.counters.increment(name, 60_000);
    expect(fresh.count).toBe(1);
    expect(fresh.resetInMs).toBeGreaterThan(200);
  });

  it('peeks without changing the counter, and resets it', async () => {
    const name = key('peek');
    expect(await nodes.a.counters.peek(name)).toBeNull();
    await nodes.a.counters.increment(name, 60_000, 3);
    const peeked = await nodes.a.counters.peek(name);
    expect(peeked?.count).toBe(3);
    expect(peeked?.resetInMs).toBeGreaterThan(0);
    expect(peeked?.resetInMs).toBeLessThanOrEqual(60_000);
    expect((await nodes.a.counters.peek(name))?.count).toBe(3);
    await nodes.a.counters.reset(name);
    expect(await nodes.a.counters.peek(name)).toBeNull();
    await nodes.a.counters.reset(name); // resetting a missing counter is harmless
    expect((await nodes.a.counters.increment(name, 60_000)).count).toBe(1);
  });

  it('gives back counts without moving the window, never below zero, never creating a counter', async () => {
    const name = key('give-back');
    expect(await nodes.a.counters.decrement(name)).toBeNull();
    expect(await nodes.a.counters.peek(name)).toBeNull();
    const started = await nodes.a.counters.increment(name, 60_000, 3);
    const given = await nodes.b.counters.decrement(name);
    expect(given?.count).toBe(2);
    expect(given?.resetInMs).toBeGreaterThan(0);
    expect(given?.resetInMs).toBeLessThanOrEqual(started.resetInMs);
    expect((await nodes.a.counters.decrement(name, 5))?.count).toBe(0);
    expect((await nodes.a.counters.increment(name, 60_000))).toMatchObject({ count: 1 });
    // Still the first window: the give-backs did not start a new one.
    expect((await nodes.a.counters.peek(name))!.resetInMs).toBeLessThanOrEqual(started.resetInMs);
  });

  it('gives back atomically while others count', async () => {
    const name = key('give-back-parallel');
    await nodes.a.counters.increment(name, 60_000, 100);
    await Promise.all(
      Array.from({ length: 100 }, (_, i) => {
        const node = i % 4 < 2 ? nodes.a : nodes.b;
        return i % 2 === 0 ? node.counters.increment(name, 60_000) : node.counters.decrement(name);
      }),
    );
    expect((await nodes.a.counters.peek(name))?.count).toBe(100);
  });

  it('lets at most the limit through when every attempt counts itself before it is judged', async () => {
    const name = key('take');
    const limit = 10;
    const admitted = await Promise.all(
      Array.from({ length: 40 }, async (_, i) => {
        const node = i % 2 === 0 ? nodes.a : nodes.b;
        const state = await node.counters.increment(name, 60_000);
        if (state.count <= limit) return true;
        await node.counters.decrement(name);
        return false;
      }),
    );
    expect(admitted.filter(Boolean)).toHaveLength(limit);
    expect((await nodes.a.counters.peek(name))?.count).toBe(limit);
  });

  it('moves the end of a live window, sooner or later, on every node', async () => {
    const name = key('expire');
    expect(await nodes.a.counters.expireIn(name, 60_000)).toBe(false);
    expect(await nodes.a.counters.peek(name)).toBeNull();
    await nodes.a.counters.increment(name, 200, 4);
    expect(await nodes.b.counters.expireIn(name, 120_000)).toBe(true);
    const longer = await nodes.a.counters.peek(name);
    expect(longer?.count).toBe(4);
    expect(longer?.resetInMs).toBeGreaterThan(60_000);
    expect(longer?.resetInMs).toBeLessThanOrEqual(120_000);
    expect(await nodes.a.counters.expireIn(name, 150)).toBe(true);
    expect((await nodes.b.counters.peek(name))?.resetInMs).toBeLessThanOrEqual(150);
    await vi.waitFor(async () => expect(await nodes.b.counters.peek(name)).toBeNull(), { timeout: 3000, interval: 25 });
    expect((await nodes.a.counters.increment(name, 60_000)).count).toBe(1);
  });

  it('moves the end of a window only closer when asked to', async () => {
    const name = key('sooner');
    expect(await nodes.a.counters.expireIn(name, 1000, { sooner: true })).toBe(false);
    await nodes.a.counters.increment(name, 60_000, 2);
    expect(await nodes.b.counters.expireIn(name, 120_000, { sooner: true })).toBe(true);
    expect((await nodes.a.counters.peek(name))?.resetInMs).toBeLessThanOrEqual(60_000);
    expect(await nodes.b.counters.expireIn(name, 30_000, { sooner: true })).toBe(true);
    const closer = await nodes.a.counters.peek(name);
    expect(closer?.count).toBe(2);
    expect(closer?.resetInMs).toBeLessThanOrEqual(30_000);
    expect(closer?.resetInMs).toBeGreaterThan(20_000);
  });

  it('keeps counters with different keys apart', async () => {
    const one = key('one');
    const two = key('two');
    await nodes.a.counters.increment(one, 60_000, 7);
    expect((await nodes.a.counters.increment(two, 60_000)).count).toBe(1);
    expect((await nodes.a.counters.peek(one))?.count).toBe(7);
  });

  it('shares counters between the nodes of a deployment', async () => {
    const name = key('shared');
    await nodes.a.counters.increment(name, 60_000);
    await nodes.a.counters.increment(name, 60_000, 2);
    const onB = await nodes.b.counters.increment(name, 60_000);
    expect(onB.count).toBe(4);
    expect((await nodes.a.counters.peek(name))?.count).toBe(4);
    await nodes.b.counters.reset(name);
    expect(await nodes.a.counters.peek(name)).toBeNull();
  });
});
