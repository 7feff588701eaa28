import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ROOT_PASSWORD, startTestGateway, type Mode, type TestGateway } from './gateway.ts';
import { createSignedInUser, rootSession, waitFor } from './graphql.ts';
import { sendNotification } from './notifications.ts';
import { apiUrl, RawWs, RecordingProxy, TRANSPORTS, type Transport } from './v1.ts';
import type { ClientResult, V1Client } from './v1-conformance.ts';

/**
 * `notifications/*` and the `notifications` event with a published v1 client. Like the
 * conformance suite, it imports no client: 7.x and 6.x clash on a global in one process, so each
 * has its own test file that passes its client in.
 */
export interface NotificationsClientKit {
  readonly version: string;
  create(url: string, token: string | null): V1Client;
}

type Row = { id: string; date: string; subject: string; body: string; read: boolean };

/** The published clients reconnect forever; switching reconnection off and changing the token ends them. */
async function closeClient(client: V1Client): Promise<void> {
  Object.assign(client, { connect: async () => {}, _connectWebSocket: async () => {} });
  client.token = client.token ? null : 'closing';
  await waitFor(async () => !client.isConnected, 5000);
}

export function defineNotificationsV1Suite(kit: NotificationsClientKit, mode: Mode): void {
  describe(`v1 notifications with the published client ${kit.version} (${mode})`, () => {
    let gw: TestGateway;
    let root: string;
    let proxy: RecordingProxy;
    const opened: V1Client[] = [];
    const raws: RawWs[] = [];

    beforeAll(async () => {
      gw = await startTestGateway(mode);
      root = await rootSession(gw, ROOT_PASSWORD);
      proxy = new RecordingProxy(gw.gateway.port);
      await proxy.start();
    });
    afterEach(async () => {
      await Promise.all(opened.splice(0).map(closeClient));
      await Promise.all(raws.splice(0).map((raw) => raw.close()));
    });
    afterAll(async () => {
      await proxy?.close();
      await gw?.close();
    });

    const expectOk = (result: ClientResult) => expect({ ok: result.ok, status: result.status }, JSON.stringify(result)).toEqual({ ok: true, status: 200 });

    describe.each(TRANSPORTS)('over %s', (transport: Transport) => {
      const connect = (token: string | null): V1Client => {
        const client = kit.create(apiUrl(proxy, transport), token);
        opened.push(client);
        return client;
      };

      it('reads, marks and deletes only the caller’s notifications (protocol.md §4.5)', async () => {
        const [person, other] = await Promise.all([createSignedInUser(gw, root), createSignedInUser(gw, root)]);
        const client = connect(person.token);
        const first = (await sendNotification(gw, root, [person.id, other.id], 'first', 'one')).notificationId!;
        const second = (await sendNotification(gw, root, [person.id], 'second', 'two')).notificationId!;
        const foreign = (await sendNotification(gw, root, [other.id], 'not yours')).notificationId!;

        const all = await client.call('/v1/notifications/read');
        expectOk(all);
        const rows = all.data as Row[];
        expect(rows.map((row) => row.subject)).toEqual(['second', 'first', 'New sign-in']);
        expect(rows[0]).toEqual({ id: second, date: expect.any(String), subject: 'second', body: 'two', read: false });
        expect(all.meta).toEqual({ rows: 3, total: 3, summary: { total: 3 } });

        const page = await client.call('/v1/notifications/read', { order_by: [['date', 'asc']], limit: 1, offset: 1 });
        expect((page.data as Row[]).map((row) => row.id)).toEqual([first]);
        expect(page.meta).toMatchObject({ rows: 1, total: 3 });
        expect(((await client.call('/v1/notifications/read', { order_by: 'id' })).data as Row[]).map((row) => row.subject)).toEqual(['New sign-in', 'first', 'second']);
        expect((await client.call('/v1/notifications/read', { id: first })).data).toMatchObject({ id: first, subject: 'first' });
        expect((await client.call('/v1/notifications/read', { id: foreign })).data).toBeNull();
        expect((await client.call('/v1/notifications/read', { where: { id: foreign } })).data).toBeNull();

        const marked = await client.call('/v1/notifications/mark-read', [first, Number(second), foreign]);
        expectOk(marked);
        expect(marked.meta.rows).toBe(2);
        const unread = await client.call('/v1/notifications/read', { where: { read: ['=', false] } });
        expect((unread.data as Row[]).map((row) => row.subject)).toEqual(['New sign-in']);
        expect((await client.call('/v1/notifications/mark-unread', [second])).meta.rows).toBe(1);
        // No argument (or null): all of the caller's.
        expect((await client.call('/v1/notifications/mark-read')).meta.rows).toBe(2);
        expect((await client.call('/v1/notifications/mark-unread', null)).meta.rows).toBe(3);
        expect((await client.call('/v1/notifications/delete', [first])).meta.rows).toBe(1);
        expect(((await client.call('/v1/notifications/read')).data as Row[]).map((row) => row.subject)).toEqual(['second', 'New sign-in']);
        const refused = await client.call('/v1/notifications/mark-read', []);
        expect({ ok: refused.ok, status: refused.status }).toEqual({ ok: false, status: -32808 });
        expect((await client.call('/v1/notifications/read', { where: { subject: 'x' } })).status).toBe(-32808);
        expect((await client.call('/v1/notifications/delete')).meta.rows).toBe(2);
        expect((await client.call('/v1/notifications/read')).data).toBeNull();

        // The other recipient keeps the shared notification, untouched.
        const theirs = await connect(other.token).call('/v1/notifications/read');
        expect((theirs.data as Row[]).filter((row) => row.id === first)).toEqual([expect.objectContaining({ id: first, read: false })]);
        const guest = await connect(null).call('/v1/notifications/read');
        expectOk(guest);
        expect(guest.data).toBeNull();
        expect((await connect(null).call('/v1/notifications/mark-read', [first])).meta.rows).toBe(0);
      });

      if (transport === 'ws') {
        it('pushes /publish ["notifications"] to the recipients’ subscribed connections only (protocol.md §1.6)', async () => {
          const [person, other] = await Promise.all([createSignedInUser(gw, root), createSignedInUser(gw, root)]);
          const before = proxy.upgrades.length;
          const client = connect(person.token);
          const received: unknown[][] = [];
          client.on('notifications', (...args: unknown[]) => received.push(args));
          expectOk(await client.call('/v1/test/test'));
          await waitFor(async () => subscribedSince(proxy, before, person.token), 5000);
          expectOk(await client.call('/v1/test/test'));
          const unsubscribed = await RawWs.open(apiUrl(gw, 'ws'), person.token);
          const otherUser = await RawWs.open(apiUrl(gw, 'ws'), other.token);
          raws.push(unsubscribed, otherUser);
          await otherUser.subscribe('notifications');

          await sendNotification(gw, root, [person.id], 'ping');
          await waitFor(async () => received.length > 0, 5000);
          expect(received).toEqual([[]]);
          await unsubscribed.call('/v1/test/test');
          await otherUser.call('/v1/test/test');
          expect(unsubscribed.publishes()).toEqual([]);
          expect(otherUser.publishes()).toEqual([]);

          await sendNotification(gw, root, [other.id, person.id], 'both');
          expect(await otherUser.next((frame) => (frame as { method?: string }).method === '/publish')).toEqual({ jsonrpc: '2.0', method: '/publish', params: ['notifications'] });
          await waitFor(async () => received.length > 1, 5000);
          expect(received).toEqual([[], []]);
          // The listener's reload: the new one is there.
          expect(((await client.call('/v1/notifications/read')).data as Row[])[0]!.subject).toBe('both');
        });
      }
    });
  });
}

function subscribedSince(proxy: RecordingProxy, since: number, token: string): boolean {
  return proxy.upgrades.slice(since).some(
    (upgrade) =>
      (upgrade.headers['sec-websocket-protocol'] ?? '').includes(token) &&
      RecordingProxy.clientMessages(upgrade).some((message) => JSON.stringify((message as { params?: unknown }).params) === '[["notifications"]]'),
  );
}
