import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTwoNodes, type TwoNodes } from '../helpers/cluster.ts';
import { ROOT_PASSWORD } from '../helpers/gateway.ts';
import { createSignedInUser, gql, ok, rootSession } from '../helpers/graphql.ts';
import { latestId, NOTIFICATION_ADDED, NOTIFICATIONS_CHANGED, sendNotification, wsSubscribe, type Subscriber } from '../helpers/notifications.ts';
import { apiUrl, RawWs } from '../helpers/v1.ts';

/** Two gateway processes on one PostgreSQL and one Redis: what one node creates, the other's subscribers get. */

type Added = { notificationAdded: { id: string; subject: string } };
type Changed = { notificationsChanged: { unreadCount: number } };

describe('notifications across two gateway processes', () => {
  let nodes: TwoNodes;
  let root: string;
  const open: Subscriber<unknown>[] = [];
  const raws: RawWs[] = [];

  beforeAll(async () => {
    nodes = await startTwoNodes();
    root = await rootSession(nodes.a, ROOT_PASSWORD);
  });
  afterAll(async () => {
    await Promise.all([...open.map((subscriber) => subscriber.close()), ...raws.map((raw) => raw.close())]);
    await nodes?.stop();
  });

  it('delivers to subscribers on the other node: graphql-ws, counts and the v1 event; revocation reaches them too', async () => {
    const person = await createSignedInUser(nodes.a, root);
    const after = await latestId(nodes.b, person.token);
    const added = await wsSubscribe<Added>(nodes.b, NOTIFICATION_ADDED, { after }, person.token);
    const counts = await wsSubscribe<Changed>(nodes.b, NOTIFICATIONS_CHANGED, {}, person.token);
    open.push(added as Subscriber<unknown>, counts as Subscriber<unknown>);
    const v1 = await RawWs.open(apiUrl(nodes.b, 'ws'), person.token);
    raws.push(v1);
    await v1.subscribe('notifications');
    expect((await counts.waitFor(1))[0]!.notificationsChanged.unreadCount).toBe(1);

    const sent = await sendNotification(nodes.a, root, [person.id], 'from node A');
    expect(await added.waitFor(1)).toEqual([{ notificationAdded: expect.objectContaining({ id: sent.notificationId, subject: 'from node A' }) }]);
    expect(await v1.next((frame) => (frame as { method?: string }).method === '/publish')).toEqual({ jsonrpc: '2.0', method: '/publish', params: ['notifications'] });
    await counts.waitFor(2);
    ok(await gql(nodes.a, 'mutation { markAllNotificationsRead { unreadCount } }', {}, person.token));
    await counts.waitFor(3);
    expect(counts.events.map((event) => event.notificationsChanged.unreadCount)).toEqual([1, 2, 0]);

    // Sent alternately from both nodes: the subscriber on B gets each once, in id order.
    for (let i = 0; i < 6; i++) await sendNotification(i % 2 ? nodes.b : nodes.a, root, [person.id], `n${i}`);
    const events = await added.waitFor(7);
    expect(events.map((event) => event.notificationAdded.subject)).toEqual(['from node A', 'n0', 'n1', 'n2', 'n3', 'n4', 'n5']);

    const started = Date.now();
    ok(await gql(nodes.a, 'mutation { signOut { __typename } }', {}, person.token));
    expect(await added.closed).toBe(4403);
    expect(await v1.closed).toEqual({ code: 4000, reason: 'Signed out' });
    expect(Date.now() - started).toBeLessThan(1000);
  });
});
