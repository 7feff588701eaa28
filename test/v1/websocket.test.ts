import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { MODES, ROOT_PASSWORD, startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { createSignedInUser, rootSession, waitFor } from '../helpers/graphql.ts';
import { apiUrl, httpCall, RawWs } from '../helpers/v1.ts';

/**
 * The v1 WebSocket transport seen by a hand-written client: the handshake, ids and void calls,
 * server pings and dead peers, and which connections `/publish` events reach.
 */

type Frame = Record<string, unknown>;

describe.each(MODES)('v1 over WebSocket, by hand (%s)', (mode) => {
  let gw: TestGateway;
  let root: string;
  const raws: RawWs[] = [];

  beforeAll(async () => {
    gw = await startTestGateway(mode, { v1PingIntervalMs: 200 });
    root = await rootSession(gw, ROOT_PASSWORD);
  });
  afterEach(async () => {
    await Promise.all(raws.splice(0).map((raw) => raw.close()));
  });
  afterAll(() => gw?.close());

  const open = async (token: string | null = null, options: Parameters<typeof RawWs.open>[2] = {}, url = apiUrl(gw, 'ws')) => {
    const raw = await RawWs.open(url, token, options);
    raws.push(raw);
    return raw;
  };

  it('selects jsonrpc_2.0 for guests, tokens and bad tokens alike; a bad token is a guest', async () => {
    const person = await createSignedInUser(gw, root);
    const guest = await open();
    const user = await open(person.token);
    const garbage = await open('not-a-token');
    for (const raw of [guest, user, garbage]) expect(raw.protocol).toBe('jsonrpc_2.0');
    expect((await user.call('/v1/profile/read')).data).toMatchObject({ id: person.id });
    expect((await garbage.call('/v1/test/test')).status).toBe(200);
    expect(await garbage.call('/v1/profile/read')).toMatchObject({ status: -32801, statusText: 'Insufficient permissions to call API method' });
    expect((await guest.call('/v1/session/signin')).status).toBe(401);
  });

  it('accepts the upgrade at /api without the slash and with ?locale=', async () => {
    const bare = await open(null, {}, `${gw.url.replace('http', 'ws')}/api`);
    const localized = await open(null, {}, `${apiUrl(gw, 'ws')}?locale=de`);
    expect((await bare.call('/v1/test/test')).status).toBe(200);
    expect((await localized.call('/v1/test/test')).status).toBe(200);
  });

  it('answers each call with its own id (numbers and strings), void calls not at all', async () => {
    const raw = await open();
    raw.send(JSON.stringify({ jsonrpc: '2.0', method: '/v1/test/test', params: ['a'], id: 'abc' }));
    raw.send(JSON.stringify({ jsonrpc: '2.0', method: '/v1/test/test', params: ['void'] }));
    raw.send(JSON.stringify({ jsonrpc: '2.0', method: '/v1/nope/nope', params: [] }));
    raw.send(JSON.stringify({ jsonrpc: '2.0', method: '/v1/test/test', params: [], id: 41, signal: {} }));
    await raw.next((frame) => (frame as Frame).id === 41);
    await raw.call('/v1/test/test');
    const answers = raw.frames as Frame[];
    // Answers may come out of order; each id exactly once, nothing for the void calls.
    expect(answers.map((frame) => String(frame.id)).sort()).toEqual(['1', '41', 'abc']);
    expect(answers.every((frame) => (frame.result as Frame).status === 200)).toBe(true);
  });

  it('answers a null id with a null id, as over HTTP: only a missing id makes a void call', async () => {
    const raw = await open();
    const call = { jsonrpc: '2.0', method: '/v1/test/test', params: [], id: null };
    raw.send(JSON.stringify(call));
    expect(await raw.next((frame) => 'id' in (frame as Frame))).toMatchObject({ id: null, result: { status: 200 } });
    const overHttp = await fetch(apiUrl(gw, 'http'), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(call) });
    expect(await overHttp.json()).toMatchObject({ id: null, result: { status: 200 } });
  });

  it('answers /subscribe, /unsubscribe, /publish and /ping calls with ids, and never answers them as void calls', async () => {
    const raw = await open();
    for (const method of ['/subscribe', '/unsubscribe', '/publish', '/abort', '/ping', '/healthcheck']) {
      raw.notify(method, method === '/publish' ? ['client-event', { k: 1 }] : [['x']]);
      const answer = await raw.call(method, method === '/publish' ? ['client-event'] : [['x']]);
      expect(answer.status, method).toBe(200);
    }
    expect(raw.frames).toHaveLength(6);
  });

  it('pings every connection at the configured interval', async () => {
    const raw = await open();
    await waitFor(async () => raw.pings >= 3, 5000);
    expect(raw.isOpen).toBe(true);
    expect((await raw.call('/v1/test/test')).status).toBe(200);
  });

  it('drops a connection that misses two pongs; one that answers stays', async () => {
    const answering = await open();
    const silent = await open(null, { autoPong: false });
    const closed = await silent.closed;
    expect(closed.code).toBe(1006);
    expect(silent.pings).toBeGreaterThanOrEqual(2);
    expect(answering.isOpen).toBe(true);
    expect((await answering.call('/v1/test/test')).status).toBe(200);
  });

  it('delivers an event to the subscribed connections of its targets only', async () => {
    const admin = await createSignedInUser(gw, root, { permissions: ['admin'] });
    const person = await createSignedInUser(gw, root);
    const other = await createSignedInUser(gw, root);
    const connections = {
      guest: await open(),
      user: await open(person.token),
      admin: await open(admin.token),
      root: await open(root),
      other: await open(other.token),
    };
    const unsubscribed = await open(person.token);
    for (const raw of Object.values(connections)) await raw.subscribe('targeted', 'sentinel');
    await unsubscribed.subscribe('sentinel-only');

    const expected: Record<string, (keyof typeof connections)[]> = {
      '*': ['guest', 'user', 'admin', 'root', 'other'],
      guest: ['guest'],
      user: ['user', 'admin', 'root', 'other'],
      root: ['root'],
      [`user:${person.id}`]: ['user'],
      'permission:admin': ['admin', 'root'],
      'permission:nobody': [],
    };
    for (const target of Object.keys(expected)) {
      await gw.gateway.v1Events.publish({ targets: [target], name: 'targeted', args: [target] });
    }
    await gw.gateway.v1Events.publish({ targets: ['user', 'guest'], name: 'not-subscribed', args: [] });
    await gw.gateway.v1Events.publish({ targets: ['*'], name: 'sentinel', args: [] });
    // Events arrive in order, so once the sentinel is everywhere, everything before it is too.
    for (const raw of Object.values(connections)) await raw.next((frame) => (frame as Frame).method === '/publish' && (frame as { params: unknown[] }).params[0] === 'sentinel');
    await unsubscribed.call('/v1/test/test');

    for (const [target, receivers] of Object.entries(expected)) {
      const got = Object.entries(connections)
        .filter(([, raw]) => raw.publishes().some((params) => params[0] === 'targeted' && params[1] === target))
        .map(([name]) => name);
      expect(got, `target ${target}`).toEqual(receivers);
    }
    for (const raw of Object.values(connections)) {
      expect(raw.publishes().every((params) => params[0] === 'targeted' || params[0] === 'sentinel')).toBe(true);
    }
    expect(unsubscribed.frames.filter((frame) => (frame as Frame).method !== undefined)).toEqual([]);
  });

  it('stops delivering an event after /unsubscribe', async () => {
    const person = await createSignedInUser(gw, root);
    const raw = await open(person.token);
    await raw.subscribe('news', 'sentinel');
    await gw.gateway.v1Events.publish({ targets: [`user:${person.id}`], name: 'news', args: [1] });
    await raw.next((frame) => (frame as Frame).method === '/publish');
    raw.notify('/unsubscribe', [['news']]);
    await raw.call('/v1/test/test');
    await gw.gateway.v1Events.publish({ targets: [`user:${person.id}`], name: 'news', args: [2] });
    await gw.gateway.v1Events.publish({ targets: [`user:${person.id}`], name: 'sentinel', args: [] });
    await raw.next((frame) => (frame as { params?: unknown[] }).params?.[0] === 'sentinel');
    expect(raw.publishes()).toEqual([['news', 1], ['sentinel']]);
  });

  it('follows permission changes on an open connection (targets and calls) and sends sessionReload', async () => {
    const person = await createSignedInUser(gw, root);
    const raw = await open(person.token);
    await raw.subscribe('admins');
    expect((await raw.call('/v1/admin/users/read')).status).toBe(-32801);
    const granted = await httpCall(gw, '/v1/admin/users/update-permissions', [person.id, { admin: true }], { token: root });
    expect(granted.status).toBe(200);
    await raw.next((frame) => (frame as { params?: unknown[] }).params?.[0] === 'sessionReload');
    expect((await raw.call('/v1/admin/users/read')).status).toBe(200);
    await gw.gateway.v1Events.publish({ targets: ['permission:admin'], name: 'admins', args: [] });
    await raw.next((frame) => (frame as { params?: unknown[] }).params?.[0] === 'admins');
  });

  it('reads its own writes on the same connection', async () => {
    const person = await createSignedInUser(gw, root);
    const raw = await open(person.token);
    for (let round = 0; round < 10; round++) {
      const email = `round${round}_${person.name}@example.com`;
      expect((await raw.call('/v1/profile/set-email', [email])).status).toBe(200);
      expect((await raw.call('/v1/profile/read')).data).toMatchObject({ email });
      const telegram = `tg_round${round}_${person.id}`;
      expect((await raw.call('/v1/profile/set-telegram-username', [telegram])).status).toBe(200);
      expect((await raw.call('/v1/profile/read')).data).toMatchObject({ telegram_name: telegram });
      expect((await raw.call('/v1/profile/set-telegram-username', [null])).status).toBe(200);
      expect((await raw.call('/v1/profile/read')).data).toMatchObject({ telegram_name: null });
    }
  });
});
