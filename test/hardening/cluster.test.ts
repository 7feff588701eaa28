import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster, type Cluster } from '../helpers/cluster.ts';
import { ROOT_PASSWORD } from '../helpers/gateway.ts';
import { createSignedInUser } from '../helpers/graphql.ts';
import { NOTIFICATION_ADDED, NOTIFICATIONS_CHANGED, sendNotification, wsSubscribe } from '../helpers/notifications.ts';
import { httpCall, type HttpAnswer } from '../helpers/v1.ts';

/** A change on one node must apply on the others within this time. */
const PROPAGATION_MS = 1000;

describe('three gateway processes on one PostgreSQL and one Redis', () => {
  let cluster: Cluster;
  let root: string;

  const node = (i: number) => ({ url: cluster.nodes[i % cluster.nodes.length]!.url });

  async function signIn(i: number): Promise<string> {
    const answer = await httpCall(node(i), '/v1/session/signin', [{ username: 'root', password: ROOT_PASSWORD }]);
    expect(answer.status, JSON.stringify(answer.envelope)).toBe(200);
    return (answer.data as { token: string }).token;
  }

  async function setCallLimits(i: number, limits: unknown): Promise<void> {
    const answer = await httpCall(node(i), '/v1/admin/settings/update', [{ call_limits: limits }], { token: root });
    expect(answer.status, JSON.stringify(answer.envelope)).toBe(200);
  }

  beforeAll(async () => {
    cluster = await startCluster(3);
    root = await signIn(0);
  }, 90_000);

  afterAll(async () => {
    const stopped = await cluster?.stop();
    for (const exit of stopped ?? []) expect(exit.code).toBe(0);
  }, 30_000);

  it('holds a limit across the nodes (three nodes do not get three times the budget), set on one node and applied on the others within a second', async () => {
    await setCallLimits(0, { '/v1/profile/read': { perAccount: { max: 12, windowSeconds: 60 } } });
    await sleep(PROPAGATION_MS);
    const answers: HttpAnswer[] = [];
    for (let round = 0; round < 12; round++) {
      answers.push(...(await Promise.all([0, 1, 2].map((i) => httpCall(node(i), '/v1/profile/read', [], { token: root })))));
    }
    const served = answers.filter((answer) => answer.status === 200).length;
    const refused = answers.filter((answer) => answer.status === -32802);
    expect(served).toBe(12);
    expect(refused.length).toBe(24);
    expect(refused.every((answer) => answer.httpStatus === 429 && Number(answer.meta.retry_after) >= 1)).toBe(true);
    // Every node refused some: the budget is the cluster's, not each node's.
    const byNode = [0, 1, 2].map((i) => answers.filter((answer, index) => index % 3 === i && answer.status === -32802).length);
    expect(byNode.every((count) => count > 0)).toBe(true);

    // Raised on another node: the third serves again within a second.
    await setCallLimits(1, { '/v1/profile/read': { perAccount: { max: 1000, windowSeconds: 60 } } });
    await sleep(PROPAGATION_MS);
    expect((await httpCall(node(2), '/v1/profile/read', [], { token: root })).status).toBe(200);
    await setCallLimits(2, {});
  });

  it('applies a lowered limit on the other nodes within a second', async () => {
    const started = Date.now();
    await setCallLimits(2, { '/v1/api-tokens/read': { perAccount: { max: 1, windowSeconds: 60 } } });
    await sleep(PROPAGATION_MS - (Date.now() - started) > 0 ? PROPAGATION_MS - (Date.now() - started) : 0);
    const first = await httpCall(node(0), '/v1/api-tokens/read', [], { token: root });
    const second = await httpCall(node(1), '/v1/api-tokens/read', [], { token: root });
    expect([first.status, second.status]).toEqual([200, -32802]);
    await setCallLimits(0, {});
  });

  it('revokes a session on every node', async () => {
    const session = await signIn(1);
    for (const i of [0, 1, 2]) expect((await httpCall(node(i), '/v1/profile/read', [], { token: session })).status).toBe(200);
    const signedOut = await httpCall(node(2), '/v1/session/signout', [], { token: session });
    expect(signedOut.status).toBe(200);
    await sleep(PROPAGATION_MS);
    for (const i of [0, 1]) expect((await httpCall(node(i), '/v1/profile/read', [], { token: session })).status).toBe(-32801);
  });

  it('delivers a notification sent on one node to subscribers on the others, once each', async () => {
    const user = await createSignedInUser(node(0), root);
    const added = await Promise.all([1, 2].map((i) => wsSubscribe<{ notificationAdded: { subject: string } }>(node(i), NOTIFICATION_ADDED, {}, user.token)));
    const changed = await wsSubscribe<{ notificationsChanged: { unreadCount: number } }>(node(2), NOTIFICATIONS_CHANGED, {}, user.token);
    try {
      await sendNotification(node(0), root, [user.id], 'Across the cluster', 'Sent on node 0');
      for (const subscriber of added) {
        const [event] = await subscriber.waitFor(1);
        expect(event!.notificationAdded.subject).toBe('Across the cluster');
      }
      await until(() => changed.events.some((event) => event.notificationsChanged.unreadCount >= 1), 5000);
      await sleep(300);
      expect(added.map((subscriber) => subscriber.events.length)).toEqual([1, 1]);
    } finally {
      await Promise.all([...added, changed].map((subscriber) => subscriber.close()));
    }
  });
});

async function until(check: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms`);
    await sleep(20);
  }
}
