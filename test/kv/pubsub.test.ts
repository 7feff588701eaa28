import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { openKv } from '../../src/kv/kv.ts';
import { KV_KINDS, openKvNodes, subscribeInbox, uniqueChannel, type KvNodes } from '../helpers/kv.ts';
import { createRedisPrefix, TEST_REDIS_URL } from '../helpers/services.ts';

const DELIVERY = { timeout: 2000, interval: 10 };

describe.each(KV_KINDS)('PubSub contract (%s)', (kind) => {
  let nodes: KvNodes;
  beforeAll(async () => {
    nodes = await openKvNodes(kind);
  });
  afterAll(() => nodes?.close());

  it('is connected once open', () => {
    expect(nodes.a.pubsub.connected).toBe(true);
    expect(nodes.b.pubsub.connected).toBe(true);
  });

  it('delivers a message published on one node to the subscribers on both, once each', async () => {
    const channel = uniqueChannel('both');
    const onA = await subscribeInbox(nodes.a.pubsub, channel);
    const onB = await subscribeInbox(nodes.b.pubsub, channel);
    await nodes.a.pubsub.publish(channel, { n: 1 });
    await nodes.a.pubsub.publish(channel, { n: 2 });
    await vi.waitFor(() => {
      expect(onA.messages).toEqual([{ n: 1 }, { n: 2 }]);
      expect(onB.messages).toEqual([{ n: 1 }, { n: 2 }]);
    }, DELIVERY);
    await onA.unsubscribe();
    await onB.unsubscribe();
  });

  it('round-trips JSON values as copies', async () => {
    const channel = uniqueChannel('json');
    const inbox = await subscribeInbox(nodes.b.pubsub, channel);
    const values: unknown[] = [
      { id: '100', nested: { list: [1, 'two', null, true, { deep: -3.5 }] }, empty: {} },
      'plain text with "quotes", \\ and ünïcödé 🚀',
      42,
      0,
      false,
      null,
      [],
      [1, [2, [3]]],
    ];
    const sent = values[0] as { nested: unknown };
    for (const value of values) await nodes.a.pubsub.publish(channel, value);
    await vi.waitFor(() => expect(inbox.messages).toEqual(values), DELIVERY);
    expect(inbox.messages[0]).not.toBe(sent);
    await inbox.unsubscribe();
  });

  it('stops delivering to a listener after it unsubscribes, and only to that listener', async () => {
    const channel = uniqueChannel('unsubscribe');
    const marker = uniqueChannel('marker');
    const kept = await subscribeInbox(nodes.b.pubsub, channel);
    const dropped = await subscribeInbox(nodes.b.pubsub, channel);
    const gone = await subscribeInbox(nodes.a.pubsub, channel);
    const markers = await subscribeInbox(nodes.a.pubsub, marker);

    await nodes.a.pubsub.publish(channel, 'before');
    await vi.waitFor(() => expect(dropped.messages).toEqual(['before']), DELIVERY);
    await dropped.unsubscribe();
    await dropped.unsubscribe(); // a second call is harmless
    await gone.unsubscribe(); // node A has no listener left on the channel

    await nodes.b.pubsub.publish(channel, 'after');
    // Delivery is ordered per subscriber connection: once the marker is in, "after" would be too.
    await nodes.b.pubsub.publish(marker, 'marker');
    await vi.waitFor(() => {
      expect(kept.messages).toEqual(['before', 'after']);
      expect(markers.messages).toEqual(['marker']);
    }, DELIVERY);
    expect(dropped.messages).toEqual(['before']);
    expect(gone.messages).toEqual(['before']);

    // Subscribing again after the last listener left works.
    const again = await subscribeInbox(nodes.a.pubsub, channel);
    await nodes.b.pubsub.publish(channel, 'again');
    await vi.waitFor(() => expect(again.messages).toEqual(['again']), DELIVERY);
    for (const inbox of [kept, again, markers]) await inbox.unsubscribe();
  });

  it('delivers to a listener as soon as its subscribe resolves, even while another subscribe of the channel is pending', async () => {
    const channel = uniqueChannel('pending');
    const first: unknown[] = [];
    const second: unknown[] = [];
    const firstSubscribed = nodes.b.pubsub.subscribe(channel, (message) => first.push(message));
    const unsubscribeSecond = await nodes.b.pubsub.subscribe(channel, (message) => second.push(message));
    await nodes.a.pubsub.publish(channel, 'right away');
    await vi.waitFor(() => expect(second).toEqual(['right away']), DELIVERY);
    expect(first).toEqual(['right away']);
    await (await firstSubscribed)();
    await unsubscribeSecond();
  });

  it('keeps channels apart', async () => {
    const first = uniqueChannel('first');
    const second = uniqueChannel('second');
    const onFirst = await subscribeInbox(nodes.b.pubsub, first);
    const onSecond = await subscribeInbox(nodes.b.pubsub, second);
    await nodes.a.pubsub.publish(second, 'to second');
    await nodes.a.pubsub.publish(first, 'to first');
    await nodes.a.pubsub.publish(uniqueChannel('nobody'), 'to nobody');
    await nodes.a.pubsub.publish(second, 'second again');
    await vi.waitFor(() => expect(onSecond.messages).toEqual(['to second', 'second again']), DELIVERY);
    expect(onFirst.messages).toEqual(['to first']);
    await onFirst.unsubscribe();
    await onSecond.unsubscribe();
  });

  it('delivers nothing to a node once it is closed', async () => {
    const channel = uniqueChannel('closed');
    const third = await nodes.open();
    const onThird = await subscribeInbox(third.pubsub, channel);
    const survivor = await subscribeInbox(nodes.b.pubsub, channel);
    await nodes.a.pubsub.publish(channel, 'before close');
    await vi.waitFor(() => expect(onThird.messages).toEqual(['before close']), DELIVERY);
    await third.close();
    await nodes.a.pubsub.publish(channel, 'after close');
    await vi.waitFor(() => expect(survivor.messages).toEqual(['before close', 'after close']), DELIVERY);
    expect(onThird.messages).toEqual(['before close']);
    await survivor.unsubscribe();
  });
});

describe('PubSub on one Redis with two key prefixes', () => {
  it('never lets one deployment see the other one’s messages', async () => {
    const [first, second] = await Promise.all([createRedisPrefix(), createRedisPrefix()]);
    const x = await openKv({ redisUrl: TEST_REDIS_URL, keyPrefix: first.prefix });
    const y = await openKv({ redisUrl: TEST_REDIS_URL, keyPrefix: second.prefix });
    try {
      const onX = await subscribeInbox(x.pubsub, 'events');
      const onY = await subscribeInbox(y.pubsub, 'events');
      await x.pubsub.publish('events', 'x1');
      await y.pubsub.publish('events', 'y1');
      // Redis handled y1 before these markers, so a leaked y1 would reach X before its marker (and x1 before Y's).
      await x.pubsub.publish('events', 'x-marker');
      await y.pubsub.publish('events', 'y-marker');
      await vi.waitFor(() => {
        expect(onX.messages).toEqual(['x1', 'x-marker']);
        expect(onY.messages).toEqual(['y1', 'y-marker']);
      }, DELIVERY);
    } finally {
      await Promise.all([x.close(), y.close()]);
      await Promise.all([first.clear(), second.clear()]);
    }
  });
});
