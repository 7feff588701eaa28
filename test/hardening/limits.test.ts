import { once } from 'node:events';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { INPUT_LIMITS } from '../../src/input-limits.ts';
import { DECLARED_CALL_LIMITS, DEFAULT_CALL_LIMITS, effectiveRules } from '../../src/domain/call-limits.ts';
import { gql, rootSession } from '../helpers/graphql.ts';
import { ROOT_PASSWORD, startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { httpCall, rawCall, RawWs, type HttpAnswer } from '../helpers/v1.ts';

async function setCallLimits(gw: TestGateway, token: string, limits: unknown): Promise<void> {
  const answer = await httpCall(gw, '/v1/admin/settings/update', [{ call_limits: limits }], { token });
  expect(answer.status, JSON.stringify(answer.envelope)).toBe(200);
}

describe('the declared limits table', () => {
  it('is tight for sign-in and the e-mail-sending methods, in v1 and GraphQL alike, and generous elsewhere', () => {
    for (const key of ['/v1/session/signin', 'signIn', '/v1/session/send-password-reset-email', 'sendPasswordResetEmail', '/v1/admin/settings/test-smtp']) {
      expect(DECLARED_CALL_LIMITS[key], key).toBeDefined();
      expect(effectiveRules(key, {}).perAddress!.max).toBeLessThan(DEFAULT_CALL_LIMITS.perAddress!.max);
    }
    expect(effectiveRules('/v1/profile/read', {})).toEqual(DEFAULT_CALL_LIMITS);
    // An override of one rule keeps the others.
    const changed = effectiveRules('/v1/session/signin', { '/v1/session/signin': { perAddress: { max: 5, windowSeconds: 1 } } });
    expect(changed.perAddress).toEqual({ max: 5, windowSeconds: 1 });
    expect(changed.concurrentPerCaller).toBe(DEFAULT_CALL_LIMITS.concurrentPerCaller);
  });
});

describe('per-method limits on one node (production mode)', () => {
  let gw: TestGateway;
  let root: string;

  beforeAll(async () => {
    gw = await startTestGateway('production', { env: { NODE_ENV: 'production' } });
    root = await rootSession(gw, ROOT_PASSWORD);
  });
  afterAll(async () => gw?.close());

  it('refuses a v1 method past its per-account rate with -32802, meta.retry_after and Retry-After, over both transports', async () => {
    await setCallLimits(gw, root, { '/v1/profile/read': { perAccount: { max: 3, windowSeconds: 60 } } });
    const answers: HttpAnswer[] = [];
    for (let i = 0; i < 5; i++) answers.push(await httpCall(gw, '/v1/profile/read', [], { token: root }));
    expect(answers.slice(0, 3).map((a) => a.status)).toEqual([200, 200, 200]);
    const refused = answers[3]!;
    expect(refused.status).toBe(-32802);
    expect(refused.statusText).toBe('Too many requests');
    expect(refused.httpStatus).toBe(429);
    expect(refused.meta.retry_after).toBeGreaterThanOrEqual(1);
    expect(refused.meta.retry_after).toBeLessThanOrEqual(120);
    const raw = await rawCall(gw.gateway.port, { path: '/api/v1/profile/read', headers: { authorization: `Bearer ${root}` } });
    expect(raw.status).toBe(-32802);
    expect(Number(raw.headers['retry-after'])).toBeGreaterThanOrEqual(1);

    const ws = await RawWs.open(`${gw.url.replace('http', 'ws')}/api/`, root);
    try {
      expect((await ws.call('/v1/profile/read')).status).toBe(-32802);
    } finally {
      await ws.close();
    }
    // Another method is not affected.
    expect((await httpCall(gw, '/v1/api-tokens/read', [], { token: root })).status).toBe(200);
    await setCallLimits(gw, root, {});
    expect((await httpCall(gw, '/v1/profile/read', [], { token: root })).status).toBe(200);
  });

  it('refuses a GraphQL root field past its rate with RATE_LIMITED, retryAfterMs and HTTP 429 with Retry-After', async () => {
    await setCallLimits(gw, root, { serverTime: { perAddress: { max: 2, windowSeconds: 60 } } });
    const statuses: number[] = [];
    let last: Response | undefined;
    for (let i = 0; i < 3; i++) {
      last = await fetch(gw.graphqlUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: '{ serverTime }' }) });
      statuses.push(last.status);
      if (i < 2) await last.text();
    }
    expect(statuses).toEqual([200, 200, 429]);
    expect(Number(last!.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    const body = (await last!.json()) as { data?: unknown; errors: { extensions: Record<string, unknown> }[] };
    expect(body.data).toBeUndefined();
    expect(body.errors[0]!.extensions.code).toBe('RATE_LIMITED');
    expect(body.errors[0]!.extensions.retryAfterMs).toBeGreaterThan(0);
    expect(body.errors[0]!.extensions.rule).toBe('serverTime:perAddress');
    // What Yoga serves (here a body of `application/graphql`) is refused the same way.
    const viaYoga = await fetch(gw.graphqlUrl, { method: 'POST', headers: { 'content-type': 'application/graphql' }, body: '{ serverTime }' });
    expect(viaYoga.status).toBe(429);
    expect(Number(viaYoga.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    const yogaBody = (await viaYoga.json()) as { errors: { extensions: Record<string, unknown> }[] };
    expect(yogaBody.errors[0]!.extensions).toMatchObject({ code: 'RATE_LIMITED', status: 429 });
    expect(yogaBody.errors[0]!.extensions.http).toBeUndefined();
    // Signed in, the per-account rule applies instead, which is the default.
    expect((await gql(gw, '{ serverTime }', {}, root)).status).toBe(200);
    await setCallLimits(gw, root, {});
  });

  it('caps concurrent calls per caller (the former per-node map) and gives the slots back', async () => {
    await setCallLimits(gw, root, { '/v1/profile/read': { concurrentPerCaller: 2 } });
    const answers = await Promise.all(Array.from({ length: 30 }, () => httpCall(gw, '/v1/profile/read', [], { token: root })));
    const statuses = new Set(answers.map((a) => a.status));
    expect([...statuses].every((status) => status === 200 || status === -32802)).toBe(true);
    expect(answers.filter((a) => a.status === 200).length).toBeGreaterThanOrEqual(2);
    await setCallLimits(gw, root, {});
    expect((await httpCall(gw, '/v1/profile/read', [], { token: root })).status).toBe(200);
  });

  it('validates the callLimits setting, naming what is wrong', async () => {
    const wrong = await httpCall(gw, '/v1/admin/settings/update', [{ call_limits: { '/v1/profile/read': { perAccount: { max: 0, windowSeconds: 1 } } } }], {
      token: root,
    });
    expect(wrong.status).toBe(400);
    expect(wrong.statusText).toMatch(/perAccount\.max/);
    const unknown = await gql(gw, 'mutation { updateSettings(input: { callLimits: { x: { nope: 1 } } }) { __typename ... on Error { message } } }', {}, root);
    expect(JSON.stringify(unknown.data)).toMatch(/unknown rule/);
    const read = await httpCall(gw, '/v1/admin/settings/read', [], { token: root });
    expect((read.data as Record<string, unknown>).call_limits).toEqual({});
  });

  it('answers introspection in production only when the setting allows it', async () => {
    const refused = await gql(gw, '{ __schema { queryType { name } } }');
    expect(refused.errors?.[0]?.extensions.code).toBe('INTROSPECTION_DISABLED');
    expect((await gql(gw, '{ __typename }')).status).toBe(200);
    await gql(gw, 'mutation { updateSettings(input: { graphqlIntrospection: true }) { __typename } }', {}, root);
    const allowed = await gql(gw, '{ __schema { queryType { name } } }');
    expect(allowed.data).toEqual({ __schema: { queryType: { name: 'Query' } } });
    await gql(gw, 'mutation { updateSettings(input: { graphqlIntrospection: false }) { __typename } }', {}, root);
    // No schema suggestions in production either.
    const typo = await gql(gw, '{ servrTime }');
    expect(typo.errors?.[0]?.message).toMatch(/Cannot query field "servrTime"/);
    expect(typo.errors?.[0]?.message).not.toMatch(/Did you mean/);
    // Nor on the paths Yoga serves: a server-sent event stream and a multipart request.
    const sse = await fetch(`${gw.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
      body: JSON.stringify({ query: '{ servrTime }' }),
    });
    const stream = await sse.text();
    expect(stream).toMatch(/Cannot query field \\"servrTime\\"/);
    expect(stream).not.toMatch(/Did you mean/);
    const form = new FormData();
    form.set('operations', JSON.stringify({ query: '{ servrTime }', variables: {} }));
    form.set('map', '{}');
    const multipart = await (await fetch(`${gw.url}/graphql`, { method: 'POST', body: form })).text();
    expect(multipart).toMatch(/Cannot query field/);
    expect(multipart).not.toMatch(/Did you mean/);
  });

  it('refuses documents past the directive and cost limits', async () => {
    const directives = `{ ${Array.from({ length: 60 }, () => '__typename @include(if: true)').join(' ')} }`;
    const many = await gql(gw, directives);
    expect(many.errors?.[0]?.extensions.code).toBe('QUERY_TOO_COMPLEX');
    expect(many.errors?.[0]?.message).toMatch(/directives/);
    // 29 pages of 100 users with 6 fields each: about 29 × 801, past the cost limit of 20000.
    const page = 'users(first: 100) { edges { node { id name email enabled createdAt telegramName } } }';
    const costly = await gql(gw, `{ ${Array.from({ length: 29 }, (_, i) => `p${i}: ${page}`).join(' ')} }`, {}, root);
    expect(costly.errors?.[0]?.extensions.code).toBe('QUERY_TOO_COMPLEX');
    expect(costly.errors?.[0]?.message).toMatch(/cost/);
    expect((await gql(gw, `{ ${page} }`, {}, root)).status).toBe(200);
  });

  it('refuses WebSocket upgrades past the per-address limit with 429, and accepts again once one closes', async () => {
    const url = `${gw.url.replace('http', 'ws')}/api/`;
    const open: RawWs[] = [];
    try {
      for (let i = 0; i < INPUT_LIMITS.wsConnectionsPerAddress; i++) open.push(await RawWs.open(url, null));
      await expect(RawWs.open(url, null)).rejects.toThrow(/upgrade answered 429/);
      await open.pop()!.close();
      await new Promise((resolve) => setTimeout(resolve, 100));
      open.push(await RawWs.open(url, null));
    } finally {
      await Promise.all(open.map((ws) => ws.close()));
    }
  });

  it('closes a WebSocket whose message is larger than the frame limit with 1009', async () => {
    const ws = await RawWs.open(`${gw.url.replace('http', 'ws')}/api/`, null);
    ws.ws.send('x'.repeat(INPUT_LIMITS.v1WsFrameBytes + 1));
    expect((await ws.closed).code).toBe(1009);
  });

  it('answers every path under /api/ and /v1/ with a JSON-RPC envelope, traversal-looking ones as unknown methods', async () => {
    for (const path of ['/api/v1/..\\..\\etc\\passwd', '/api/v1/../../etc/passwd', '/v1/%2e%2e/%2e%2e/etc/passwd', '/api/nothing', '/v1', '/api/v1/']) {
      const answer = await rawCall(gw.gateway.port, { path });
      expect(answer.envelope.jsonrpc, path).toBe('2.0');
      expect([-32809, 200], path).toContain(answer.status);
    }
    const nested = await rawCall(gw.gateway.port, {
      method: 'POST',
      path: '/api/v1/profile/read',
      headers: { 'content-type': 'application/json' },
      body: `${'['.repeat(100)}${']'.repeat(100)}`,
    });
    expect(nested.status).toBe(-32807);
  });

  it('answers malformed HTTP under /api/ and /v1/ with an envelope, on /graphql with a GraphQL error, elsewhere with plain JSON', async () => {
    const bigHeader = `x-filler: ${'a'.repeat(20_000)}\r\n`;
    const cases = [
      { request: `POST /api/v1/profile/read HTTP/1.1\r\nhost: x\r\ncontent-length: nope\r\n\r\n`, status: 400, kind: 'envelope' },
      { request: `GET /v1/profile/read HTTP/1.1\r\nhost: x\r\n${bigHeader}\r\n`, status: 431, kind: 'envelope' },
      { request: `POST /graphql HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n`, status: 400, kind: 'graphql' },
      { request: `GET /healthz HTTP/1.1\r\nhost: x\r\n${bigHeader}\r\n`, status: 431, kind: 'plain' },
      { request: 'THIS IS NOT HTTP\r\n\r\n', status: 400, kind: 'plain' },
    ] as const;
    for (const { request, status, kind } of cases) {
      const raw = await rawExchange(gw.gateway.port, request);
      const context = `${request.slice(0, 40)} → ${raw.slice(0, 300)}`;
      expect(raw.startsWith(`HTTP/1.1 ${status} `), context).toBe(true);
      expect(raw, context).toMatch(/content-type: application\/json/i);
      const body = JSON.parse(raw.slice(raw.indexOf('\r\n\r\n') + 4)) as Record<string, unknown>;
      if (kind === 'envelope') expect(body, context).toMatchObject({ jsonrpc: '2.0', error: { code: status, data: { exception: false, meta: {} } } });
      if (kind === 'graphql') expect(body, context).toMatchObject({ errors: [{ extensions: { code: 'BAD_REQUEST', status } }] });
      if (kind === 'plain') expect(Object.keys(body), context).toEqual(['error']);
    }
    expect((await fetch(`${gw.url}/healthz`)).status).toBe(200);
  });
});

/** Writes `request` as is on a fresh connection and returns everything the server sent until it closed. */
async function rawExchange(port: number, request: string): Promise<string> {
  const socket = net.connect(port, '127.0.0.1');
  await once(socket, 'connect');
  let raw = '';
  socket.setEncoding('latin1');
  socket.on('data', (chunk: string) => (raw += chunk));
  socket.on('error', () => {});
  socket.write(request);
  await once(socket, 'close');
  return raw;
}
