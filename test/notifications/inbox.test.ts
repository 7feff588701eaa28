import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eq, inArray, sql } from 'drizzle-orm';
import { notificationRecipients, notifications, users } from '../../src/db/schema.ts';
import { purgeExpiredNotifications } from '../../src/workers/notification-retention.ts';
import { MODES, ROOT_PASSWORD, startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { createApiToken, createSignedInUser, gql, ok, rootSession, signIn, uniqueUsername } from '../helpers/graphql.ts';
import { inbox, latestId, SendNotification, sendNotification } from '../helpers/notifications.ts';

/** The inbox over GraphQL: sending, per-recipient state, isolation, security events, fan-out and retention. */

const MARK_READ = 'mutation($ids: [ID!]!) { markNotificationsRead(ids: $ids) { changedCount unreadCount } }';
const MARK_UNREAD = 'mutation($ids: [ID!]!) { markNotificationsUnread(ids: $ids) { changedCount unreadCount } }';
const DELETE = 'mutation($ids: [ID!]!) { deleteNotifications(ids: $ids) { changedCount unreadCount } }';
const MARK_ALL = 'mutation { markAllNotificationsRead { changedCount unreadCount } }';

type Change = { changedCount: number; unreadCount: number };
const change = async (gw: TestGateway, query: string, token: string, ids?: string[]) =>
  Object.values(ok(await gql<Record<string, Change>>(gw, query, ids ? { ids } : {}, token)))[0]!;

describe.each(MODES)('notifications inbox (%s)', (mode) => {
  let gw: TestGateway;
  let root: string;

  beforeAll(async () => {
    gw = await startTestGateway(mode);
    root = await rootSession(gw, ROOT_PASSWORD);
  });
  afterAll(() => gw?.close());

  it('sends to the users that exist, reports the rest, and keeps each recipient’s state apart', async () => {
    const [a, b, c] = await Promise.all([createSignedInUser(gw, root), createSignedInUser(gw, root), createSignedInUser(gw, root)]);
    const sent = await sendNotification(gw, root, [a.id, b.id, a.id, '987654321', 'not-an-id'], 'Maintenance', 'Tonight at ten');
    expect(sent).toEqual({ recipients: 2, unknownUserIds: ['987654321', 'not-an-id'], notificationId: expect.stringMatching(/^\d+$/) });
    const id = sent.notificationId!;

    const ofA = await inbox(gw, a.token);
    const item = ofA.items.find((candidate) => candidate.id === id)!;
    expect(item).toMatchObject({ subject: 'Maintenance', body: 'Tonight at ten', read: false });
    // Retention: 30 days after creation by default.
    expect(Date.parse(item.expiresAt!) - Date.parse(item.createdAt)).toBeCloseTo(30 * 24 * 3600 * 1000, -4);
    expect((await inbox(gw, c.token)).items.map((candidate) => candidate.id)).not.toContain(id);

    // Nobody reads, marks or deletes another user's notifications.
    expect(await change(gw, MARK_READ, c.token, [id])).toEqual({ changedCount: 0, unreadCount: (await inbox(gw, c.token)).unreadCount });
    expect(await change(gw, DELETE, c.token, [id])).toMatchObject({ changedCount: 0 });
    expect((await inbox(gw, c.token, { id })).items).toEqual([]);
    expect((await inbox(gw, a.token, { id })).items).toMatchObject([{ id, read: false }]);

    const unreadBefore = (await inbox(gw, a.token)).unreadCount;
    expect(await change(gw, MARK_READ, a.token, [id, id, 'junk', '0'])).toEqual({ changedCount: 1, unreadCount: unreadBefore - 1 });
    expect(await change(gw, MARK_READ, a.token, [id])).toEqual({ changedCount: 0, unreadCount: unreadBefore - 1 });
    expect((await inbox(gw, a.token, { read: true })).items.map((x) => x.id)).toEqual([id]);
    expect((await inbox(gw, b.token, { id })).items).toMatchObject([{ id, read: false }]);
    expect(await change(gw, MARK_UNREAD, a.token, [id])).toEqual({ changedCount: 1, unreadCount: unreadBefore });

    expect(await change(gw, DELETE, a.token, [id])).toEqual({ changedCount: 1, unreadCount: unreadBefore - 1 });
    expect((await inbox(gw, a.token, { id })).items).toEqual([]);
    // The row stays for the other recipient.
    expect((await inbox(gw, b.token, { id })).items).toMatchObject([{ id }]);

    const all = await change(gw, MARK_ALL, b.token);
    expect(all.unreadCount).toBe(0);
    expect(all.changedCount).toBeGreaterThan(0);
    expect((await inbox(gw, b.token)).items.every((x) => x.read)).toBe(true);
  });

  it('pages newest first with totalCount and unreadCount, and refuses guests and bad input', async () => {
    const person = await createSignedInUser(gw, root);
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await sendNotification(gw, root, [person.id], `n${i}`)).notificationId!);
    const page = ok(await gql<{ notifications: { totalCount: number; unreadCount: number; edges: { node: { id: string } }[]; pageInfo: { hasNextPage: boolean } } }>(
      gw,
      '{ notifications(first: 2) { totalCount unreadCount edges { node { id } } pageInfo { hasNextPage } } }',
      {},
      person.token,
    )).notifications;
    // Three sent plus the sign-in notice.
    expect(page.totalCount).toBe(4);
    expect(page.unreadCount).toBe(4);
    expect(page.edges.map(({ node }) => node.id)).toEqual([ids[2], ids[1]]);
    expect(page.pageInfo.hasNextPage).toBe(true);
    const oldest = ok(await gql<{ notifications: { edges: { node: { id: string } }[] } }>(
      gw,
      '{ notifications(first: 1, orderBy: [{ field: ID, direction: ASC }]) { edges { node { id } } } }',
      {},
      person.token,
    )).notifications;
    expect(BigInt(oldest.edges[0]!.node.id) < BigInt(ids[0]!)).toBe(true);

    const guest = await gql(gw, '{ notifications { totalCount } }', {});
    expect(guest.errors?.map((error) => error.extensions.code)).toEqual(['UNAUTHENTICATED']);
    const plain = await gql(gw, SendNotification, { input: { userIds: [person.id], subject: 'x', body: 'y' } }, person.token);
    expect(plain.errors?.map((error) => error.extensions.code)).toEqual(['FORBIDDEN']);

    const refusals = [
      { userIds: [person.id], subject: '   ', body: 'y' },
      { userIds: [], subject: 'x', body: 'y' },
      { userIds: [person.id], subject: 'x', body: 'y', expiresAt: new Date(Date.now() - 1000).toISOString() },
      { userIds: [person.id], subject: 'x'.repeat(256), body: 'y' },
    ];
    for (const input of refusals) {
      const result = ok(await gql(gw, SendNotification, { input }, root)).sendNotification;
      expect(result.__typename, JSON.stringify(input)).toBe('ValidationError');
    }
    // Nobody to receive it: nothing is created.
    expect(await sendNotification(gw, root, ['987654321'])).toEqual({ recipients: 0, unknownUserIds: ['987654321'], notificationId: null });
  });

  it('tells users about security events on their accounts', async () => {
    const person = await createSignedInUser(gw, root, { password: 'security-password' });
    const subjects = async () => (await inbox(gw, person.token)).items.map((item) => item.subject);
    expect(await subjects()).toEqual(['New sign-in']);
    const second = await signIn(gw, person.name, 'security-password');

    await createApiToken(gw, person.token, 'cli');
    ok(await gql(gw, 'mutation { setEmail(email: "changed@example.com") { __typename } }', {}, person.token));
    ok(await gql(gw, 'mutation { changePassword(password: "another-password") { __typename } }', {}, person.token));
    // The password change ended the other session; sign in again for the admin to end.
    const third = await signIn(gw, person.name, 'another-password');
    ok(await gql(gw, 'mutation($id: ID!) { deleteUserSessions(id: $id) { __typename } }', { id: person.id }, root));
    ok(await gql(gw, 'mutation($id: ID!) { setUserEnabled(id: $id, enabled: false) { __typename } }', { id: person.id }, root));
    ok(await gql(gw, 'mutation($id: ID!) { setUserEnabled(id: $id, enabled: true) { __typename } }', { id: person.id }, root));
    expect(second.token).not.toBe(third.token);

    const fresh = await signIn(gw, person.name, 'another-password');
    const items = (await inbox(gw, fresh.token)).items;
    expect(items.map((item) => item.subject)).toEqual([
      'New sign-in',
      'Account enabled again',
      'Signed out by an administrator',
      'New sign-in',
      'Password changed',
      'E-mail address changed',
      'API token created',
      'New sign-in',
      'New sign-in',
    ]);
    expect(items.find((item) => item.subject === 'API token created')!.body).toContain('"cli"');
    expect(items.find((item) => item.subject === 'E-mail address changed')!.body).toContain('changed@example.com');
    expect(items[0]!.body).toContain('127.0.0.1');
  });

  it('fans one notification out to 1,000 users in batched inserts', async () => {
    const { db } = gw.gateway.database;
    const rows = Array.from({ length: 1000 }, () => ({ name: uniqueUsername('fan') }));
    const created = await db.insert(users).values(rows).returning({ id: users.id });
    const ids = created.map(({ id }) => id);
    const sent = await sendNotification(gw, root, [...ids, '987654321'], 'To everyone');
    expect(sent.recipients).toBe(1000);
    expect(sent.unknownUserIds).toEqual(['987654321']);
    const [row] = await db
      .select({ total: sql<number>`count(*)::int`, unread: sql<number>`count(*) filter (where not ${notificationRecipients.read})::int` })
      .from(notificationRecipients)
      .where(eq(notificationRecipients.notificationId, sent.notificationId!));
    expect(row).toEqual({ total: 1000, unread: 1000 });
    await db.delete(users).where(inArray(users.id, ids));
    // Deleting users takes their recipient rows with them.
    expect((await db.select().from(notificationRecipients).where(eq(notificationRecipients.notificationId, sent.notificationId!))).length).toBe(0);
  });

  it('keeps notifications for the retention setting, hides expired ones and purges them in batches', async () => {
    const person = await createSignedInUser(gw, root);
    const other = await createSignedInUser(gw, root);
    ok(await gql(gw, 'mutation { updateSettings(input: { notificationRetentionDays: 5 }) { __typename } }', {}, root));
    const short = await sendNotification(gw, root, [person.id, other.id], 'Short-lived');
    ok(await gql(gw, 'mutation { updateSettings(input: { notificationRetentionDays: 30 }) { __typename } }', {}, root));
    const explicit = new Date(Date.now() + 3 * 24 * 3600 * 1000);
    const given = await sendNotification(gw, root, [person.id], 'Given expiry', 'x', explicit.toISOString());
    const items = (await inbox(gw, person.token)).items;
    const shortItem = items.find((item) => item.id === short.notificationId)!;
    expect(Date.parse(shortItem.expiresAt!) - Date.parse(shortItem.createdAt)).toBeCloseTo(5 * 24 * 3600 * 1000, -4);
    expect(items.find((item) => item.id === given.notificationId)!.expiresAt).toBe(explicit.toISOString());

    // Time passes for the short-lived one.
    const { db } = gw.gateway.database;
    const past = new Date(Date.now() - 1000);
    await db.update(notifications).set({ expiresAt: past }).where(eq(notifications.id, short.notificationId!));
    await db.update(notificationRecipients).set({ expiresAt: past }).where(eq(notificationRecipients.notificationId, short.notificationId!));
    const after = await inbox(gw, person.token);
    expect(after.items.map((item) => item.id)).not.toContain(short.notificationId);
    expect(after.unreadCount).toBe(after.items.filter((item) => !item.read).length);

    const removed = await purgeExpiredNotifications(db, new Date(), { notificationsPerRound: 1, recipientsPerStatement: 1 });
    expect(removed).toBeGreaterThanOrEqual(3);
    expect(await db.select().from(notifications).where(eq(notifications.id, short.notificationId!))).toEqual([]);
    expect(await db.select().from(notificationRecipients).where(eq(notificationRecipients.notificationId, short.notificationId!))).toEqual([]);
    expect((await inbox(gw, person.token)).items.map((item) => item.id)).toContain(given.notificationId);
    expect(await purgeExpiredNotifications(db)).toBe(0);
    expect(await latestId(gw, person.token)).toBe(given.notificationId);
  });
});
