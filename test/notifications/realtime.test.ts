import { setTimeout as sleep } from 'node:timers/promises';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { notificationRecipients, notifications } from '../../src/db/schema.ts';
import { MODES, ROOT_PASSWORD, startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { createApiToken, createSignedInUser, gql, ok, rootSession, waitFor } from '../helpers/graphql.ts';
import { TcpProxy } from '../helpers/tcp-proxy.ts';
import { latestId, NOTIFICATION_ADDED, NOTIFICATIONS_CHANGED, sendNotification, sseSubscribe, wsSubscribe, type Subscriber } from '../helpers/notifications.ts';

/** notificationAdded and notificationsChanged over graphql-ws and SSE: live pushes, resume with `after`, revocation. */

type Added = { notificationAdded: { id: string; subject: string; body: string; read: boolean; createdAt: string } };
type Changed = { notificationsChanged: { unreadCount: number } };

const subjects = (events: Added[]) => events.map((event) => event.notificationAdded.subject);

describe.each(MODES)('notification subscriptions (%s)', (mode) => {
  let gw: TestGateway;
  let root: string;
  const open: Subscriber<unknown>[] = [];

  beforeAll(async () => {
    gw = await startTestGateway(mode);
    root = await rootSession(gw, ROOT_PASSWORD);
  });
  afterAll(async () => {
    await Promise.all(open.map((subscriber) => subscriber.close()));
    await gw?.close();
  });

  const ws = async <T>(query: string, variables: Record<string, unknown>, token: string | null) => {
    const subscriber = await wsSubscribe<T>(gw, query, variables, token);
    open.push(subscriber as Subscriber<unknown>);
    return subscriber;
  };

  it('pushes each new notification to its recipients only, over graphql-ws and SSE', async () => {
    const [a, b] = await Promise.all([createSignedInUser(gw, root), createSignedInUser(gw, root)]);
    const [afterA, afterB] = await Promise.all([latestId(gw, a.token), latestId(gw, b.token)]);
    const overWs = await ws<Added>(NOTIFICATION_ADDED, { after: afterA }, a.token);
    const overSse = await sseSubscribe<Added>(gw, NOTIFICATION_ADDED, { after: afterA }, a.token);
    open.push(overSse as Subscriber<unknown>);
    expect(overSse.status).toBe(200);
    const otherUser = await ws<Added>(NOTIFICATION_ADDED, { after: afterB }, b.token);

    const sent = await sendNotification(gw, root, [a.id], 'For A', 'only');
    const [event] = await overWs.waitFor(1);
    expect(event).toEqual({ notificationAdded: { id: sent.notificationId, subject: 'For A', body: 'only', read: false, createdAt: expect.any(String) } });
    expect(await overSse.waitFor(1)).toEqual([event]);

    await sendNotification(gw, root, [b.id], 'For B');
    expect(subjects(await otherUser.waitFor(1))).toEqual(['For B']);
    await sendNotification(gw, root, [a.id, b.id], 'For both');
    expect(subjects(await overWs.waitFor(2))).toEqual(['For A', 'For both']);
    expect(subjects(await overSse.waitFor(2))).toEqual(['For A', 'For both']);
    expect(subjects(await otherUser.waitFor(2))).toEqual(['For B', 'For both']);
    expect(overWs.events).toHaveLength(2);
  });

  it('resumes with `after` across a forced reconnect: nothing missed, nothing twice', async () => {
    const person = await createSignedInUser(gw, root);
    const start = await latestId(gw, person.token);
    const first = await ws<Added>(NOTIFICATION_ADDED, { after: start }, person.token);
    await sendNotification(gw, root, [person.id], 'one');
    await sendNotification(gw, root, [person.id], 'two');
    const seen = await first.waitFor(2);
    // The network drops; meanwhile more arrive.
    await first.close();
    const last = seen.at(-1)!.notificationAdded.id;
    await sendNotification(gw, root, [person.id], 'three');
    await sendNotification(gw, root, [person.id], 'four');

    const resumed = await ws<Added>(NOTIFICATION_ADDED, { after: last }, person.token);
    // Sent while the replay is still being read: it arrives once, after the replayed ones.
    await sendNotification(gw, root, [person.id], 'five');
    expect(subjects(await resumed.waitFor(3))).toEqual(['three', 'four', 'five']);
    await sendNotification(gw, root, [person.id], 'six');
    await resumed.waitFor(4);
    const all = [...seen, ...resumed.events];
    expect(subjects(all)).toEqual(['one', 'two', 'three', 'four', 'five', 'six']);
    const ids = all.map((event) => BigInt(event.notificationAdded.id));
    expect(ids).toEqual([...ids].sort((x, y) => (x < y ? -1 : 1)));

    // Resuming from the start replays everything the viewer has, oldest first, over SSE too.
    const replay = await sseSubscribe<Added>(gw, NOTIFICATION_ADDED, { after: '0' }, person.token);
    open.push(replay as Subscriber<unknown>);
    expect(subjects(await replay.waitFor(7))).toEqual(['New sign-in', 'one', 'two', 'three', 'four', 'five', 'six']);

    const invalid = await ws<Added>(NOTIFICATION_ADDED, { after: 'yesterday' }, person.token);
    await expect(invalid.waitFor(1)).rejects.toThrow(/INVALID_INPUT|after/);
  });

  it('resumes after the network drops: the retrying client re-sends the last id it saw', async () => {
    const person = await createSignedInUser(gw, root);
    const proxy = new TcpProxy({ host: '127.0.0.1', port: gw.gateway.port });
    await proxy.start();
    // graphql-ws serialises the variables again for every retry: the README's resume pattern.
    const variables = { after: await latestId(gw, person.token) };
    const received: string[] = [];
    const client = createClient({
      url: proxy.rewrite(gw.graphqlWsUrl),
      webSocketImpl: WebSocket,
      lazy: false,
      onNonLazyError: () => {},
      retryAttempts: 50,
      retryWait: () => sleep(100),
      shouldRetry: () => true,
      connectionParams: { authorization: `Bearer ${person.token}` },
    });
    try {
      client.subscribe<Added>(
        { query: NOTIFICATION_ADDED, variables },
        {
          next: ({ data }) => {
            received.push(data!.notificationAdded.subject);
            variables.after = data!.notificationAdded.id;
          },
          error: () => {},
          complete: () => {},
        },
      );
      await sleep(200);
      await sendNotification(gw, root, [person.id], 'before the drop');
      await waitFor(async () => received.length === 1, 5000);
      await proxy.stop();
      await sendNotification(gw, root, [person.id], 'while away 1');
      await sendNotification(gw, root, [person.id], 'while away 2');
      await proxy.start();
      await waitFor(async () => received.length === 3, 5000);
      await sendNotification(gw, root, [person.id], 'after the return');
      await waitFor(async () => received.length === 4, 5000);
      await sleep(100);
      expect(received).toEqual(['before the drop', 'while away 1', 'while away 2', 'after the return']);
    } finally {
      await client.dispose();
      await proxy.stop();
    }
  });

  it('fetches what a lost or late message carried before delivering the next one, so order holds', async () => {
    const person = await createSignedInUser(gw, root);
    const live = await ws<Added>(NOTIFICATION_ADDED, { after: await latestId(gw, person.token) }, person.token);
    // As if created on a node whose message was lost: committed, never published.
    const { db } = gw.gateway.database;
    const expiresAt = new Date(Date.now() + 3600_000);
    const [row] = await db.insert(notifications).values({ subject: 'unannounced', body: 'x', expiresAt }).returning();
    await db.insert(notificationRecipients).values({ notificationId: row!.id, userId: person.id, expiresAt });
    await sendNotification(gw, root, [person.id], 'announced');
    expect(subjects(await live.waitFor(2))).toEqual(['unannounced', 'announced']);
  });

  it('pushes the exact unread count at once and after every change', async () => {
    const person = await createSignedInUser(gw, root);
    const counts = await ws<Changed>(NOTIFICATIONS_CHANGED, {}, person.token);
    const overSse = await sseSubscribe<Changed>(gw, NOTIFICATIONS_CHANGED, {}, person.token);
    open.push(overSse as Subscriber<unknown>);
    const value = (events: Changed[]) => events.at(-1)!.notificationsChanged.unreadCount;
    // The sign-in notice.
    expect(value(await counts.waitFor(1))).toBe(1);
    expect(value(await overSse.waitFor(1))).toBe(1);

    const sent = await sendNotification(gw, root, [person.id], 'count me');
    expect(value(await counts.waitFor(2))).toBe(2);
    ok(await gql(gw, 'mutation($ids: [ID!]!) { markNotificationsRead(ids: $ids) { unreadCount } }', { ids: [sent.notificationId] }, person.token));
    expect(value(await counts.waitFor(3))).toBe(1);
    ok(await gql(gw, 'mutation { markAllNotificationsRead { unreadCount } }', {}, person.token));
    expect(value(await counts.waitFor(4))).toBe(0);
    ok(await gql(gw, 'mutation($ids: [ID!]!) { markNotificationsUnread(ids: $ids) { unreadCount } }', { ids: [sent.notificationId] }, person.token));
    expect(value(await counts.waitFor(5))).toBe(1);
    ok(await gql(gw, 'mutation($ids: [ID!]!) { deleteNotifications(ids: $ids) { unreadCount } }', { ids: [sent.notificationId] }, person.token));
    expect(value(await counts.waitFor(6))).toBe(0);
    expect(value(await overSse.waitFor(6))).toBe(0);
    // Changes that change nothing push nothing.
    ok(await gql(gw, 'mutation { markAllNotificationsRead { unreadCount } }', {}, person.token));
    await sendNotification(gw, root, [person.id], 'last');
    expect((await counts.waitFor(7)).map((event) => event.notificationsChanged.unreadCount)).toEqual([1, 2, 1, 0, 1, 0, 1]);
  });

  it('refuses guests, and stops a subscriber whose session or token is revoked within a second', async () => {
    const guest = await ws<Added>(NOTIFICATION_ADDED, {}, null);
    await expect(guest.waitFor(1)).rejects.toThrow(/UNAUTHENTICATED/);

    const person = await createSignedInUser(gw, root);
    const token = await createApiToken(gw, person.token);
    const bySession = await ws<Changed>(NOTIFICATIONS_CHANGED, {}, person.token);
    const byToken = await ws<Changed>(NOTIFICATIONS_CHANGED, {}, token.token);
    const sseSession = await sseSubscribe<Changed>(gw, NOTIFICATIONS_CHANGED, {}, person.token);
    open.push(sseSession as Subscriber<unknown>);
    await Promise.all([bySession.waitFor(1), byToken.waitFor(1), sseSession.waitFor(1)]);

    let started = Date.now();
    ok(await gql(gw, 'mutation { signOut { __typename } }', {}, person.token));
    expect(await bySession.closed).toBe(4403);
    await sseSession.closed;
    expect(Date.now() - started).toBeLessThan(1000);
    started = Date.now();
    ok(await gql(gw, 'mutation($id: ID!) { deleteApiToken(id: $id) { __typename } }', { id: token.id }, (await createSignedInUser(gw, root)).token));
    // Someone else's token id: nothing happens to it.
    await sendNotification(gw, root, [person.id], 'still there');
    await byToken.waitFor(2);
    ok(await gql(gw, 'mutation($id: ID!, $e: Boolean!) { setUserEnabled(id: $id, enabled: $e) { __typename } }', { id: person.id, e: false }, root));
    expect(await byToken.closed).toBe(4403);
    expect(Date.now() - started).toBeLessThan(2000);
  });
});
