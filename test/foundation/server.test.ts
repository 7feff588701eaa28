import { once } from 'node:events';
import net from 'node:net';
import { getIntrospectionQuery } from 'graphql';
import { createClient as createHttpClient } from 'graphql-http';
import { createClient as createWsClient } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { MODES, startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { gqlWs } from '../helpers/graphql.ts';

/** Generated request ids: a per-process random prefix and a counter. */
const GENERATED_ID = /^[A-Za-z0-9_-]{8}-[0-9a-z]+$/;
const GRAPHQL_RESPONSE = 'application/graphql-response+json';
const TICKS = 'subscription { ticks(intervalMs: 20, count: 3) { sequence at } }';

interface GraphqlError {
  message: string;
  extensions: { code: string; status: number };
}
interface Answer {
  status: number;
  contentType: string;
  body: { data?: unknown; errors?: GraphqlError[]; error?: string; requestId?: string };
}

/** Parses the Prometheus text format into `name{labels}` → value. */
function parseMetrics(text: string): Map<string, { labels: Record<string, string>; value: number }[]> {
  const metrics = new Map<string, { labels: Record<string, string>; value: number }[]>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match) throw new Error(`not a Prometheus sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const [, name, value] of (match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[name!] = value!;
    const samples = metrics.get(match[1]!) ?? [];
    samples.push({ labels, value: Number(match[3]) });
    metrics.set(match[1]!, samples);
  }
  return metrics;
}

function sample(metrics: ReturnType<typeof parseMetrics>, name: string, labels: Record<string, string>): number {
  const found = (metrics.get(name) ?? []).find((s) => Object.entries(labels).every(([key, value]) => s.labels[key] === value));
  return found?.value ?? 0;
}

describe.each(MODES)('gateway HTTP server (%s)', (mode) => {
  let gw: TestGateway;

  beforeAll(async () => {
    gw = await startTestGateway(mode);
  });
  afterAll(() => gw?.close());

  async function metrics() {
    const res = await fetch(`${gw.url}/metrics`);
    expect(res.status).toBe(200);
    return { contentType: res.headers.get('content-type') ?? '', text: await res.text() };
  }

  async function postGraphql(body: string | object, headers: Record<string, string> = {}): Promise<Answer> {
    const res = await fetch(gw.graphqlUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: GRAPHQL_RESPONSE, ...headers },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
    return answerOf(res);
  }

  async function answerOf(res: Response): Promise<Answer> {
    const contentType = res.headers.get('content-type') ?? '';
    const text = await res.text();
    let body: Answer['body'];
    try {
      body = JSON.parse(text) as Answer['body'];
    } catch {
      throw new Error(`${res.status} answer is not JSON (${contentType}): ${text.slice(0, 200)}`);
    }
    return { status: res.status, contentType, body };
  }

  /** Bad input gets a JSON answer with a 4xx status and `errors[].extensions.{code,status}`. */
  function expectGraphqlRefusal(answer: Answer, code: string | RegExp): GraphqlError {
    expect(answer.status).toBe(400);
    expect(answer.contentType).toMatch(/json/);
    expect(answer.body.data).toBeUndefined();
    expect(answer.body.errors).toHaveLength(1);
    const [error] = answer.body.errors!;
    expect(typeof error!.message).toBe('string');
    expect(error!.extensions.code).toMatch(code);
    expect(error!.extensions.status).toBe(400);
    return error!;
  }

  it('answers /healthz with 200 JSON', async () => {
    const res = await fetch(`${gw.url}/healthz`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await res.json()).toEqual({ status: 'ok' });
  });

  it('answers /readyz with 200 once the database and Redis (or their substitutes) answer', async () => {
    const res = await fetch(`${gw.url}/readyz`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { status: string; checks: unknown; backends: { database: string; redis: string } };
    expect(body.status).toBe('ready');
    expect(body.checks).toEqual({ database: 'ok', redis: 'ok' });
    if (mode === 'embedded') {
      expect(body.backends).toEqual({ database: expect.stringMatching(/^pglite/), redis: 'in-process' });
    } else {
      expect(body.backends.database).toMatch(/^postgres:\/\/127\.0\.0\.1:5432\/gw_test_/);
      expect(body.backends.redis).toMatch(/^redis:\/\/127\.0\.0\.1:6379/);
    }
  });

  it('exposes Prometheus metrics that count the requests it answered', async () => {
    const before = parseMetrics((await metrics()).text);
    for (let i = 0; i < 3; i++) expect((await fetch(`${gw.url}/healthz`)).status).toBe(200);
    expect((await fetch(`${gw.url}/no-such-page`)).status).toBe(404);
    const { contentType, text } = await metrics();
    expect(contentType).toMatch(/^text\/plain/);
    expect(text).toContain('# TYPE gateway_http_requests_total counter');
    expect(text).toContain('# TYPE gateway_http_request_duration_seconds histogram');
    expect(text).toContain('# TYPE nodejs_eventloop_lag_seconds gauge');
    expect(text).toContain('# TYPE gateway_db_pool_max_connections gauge');
    const after = parseMetrics(text);

    const healthz = { route: 'healthz', method: 'GET', status: '200' };
    expect(sample(after, 'gateway_http_requests_total', healthz) - sample(before, 'gateway_http_requests_total', healthz)).toBe(3);
    const notFound = { route: 'not_found', method: 'GET', status: '404' };
    expect(sample(after, 'gateway_http_requests_total', notFound) - sample(before, 'gateway_http_requests_total', notFound)).toBe(1);
    const durations = 'gateway_http_request_duration_seconds_count';
    expect(sample(after, durations, { route: 'healthz' }) - sample(before, durations, { route: 'healthz' })).toBe(3);
    const inf = { route: 'healthz', le: '+Inf' };
    expect(sample(after, 'gateway_http_request_duration_seconds_bucket', inf) - sample(before, 'gateway_http_request_duration_seconds_bucket', inf)).toBe(3);
    expect(after.get('nodejs_eventloop_lag_seconds')?.[0]?.value).toBeGreaterThanOrEqual(0);
    expect(sample(after, 'gateway_db_pool_max_connections', {})).toBe(mode === 'embedded' ? 1 : 10);
    if (mode === 'production') expect(sample(after, 'gateway_redis_connected', {})).toBe(1);
    else expect(after.has('gateway_redis_connected')).toBe(false);
  });

  it('answers a GraphQL query through the graphql-http client', async () => {
    const client = createHttpClient({ url: gw.graphqlUrl, fetchFn: fetch });
    try {
      const result = await new Promise<unknown>((resolve, reject) => {
        let last: unknown;
        client.subscribe(
          { query: '{ serverTime }' },
          { next: (value) => (last = value), error: reject, complete: () => resolve(last) },
        );
      });
      const { data } = result as { data: { serverTime: string } };
      expect(Math.abs(Date.parse(data.serverTime) - Date.now())).toBeLessThan(60_000);
    } finally {
      client.dispose();
    }
  });

  it('streams a subscription over graphql-ws until it completes', async () => {
    const client = createWsClient({ url: gw.graphqlWsUrl, webSocketImpl: WebSocket, retryAttempts: 0, lazy: true });
    try {
      const sequences: number[] = [];
      for await (const result of client.iterate<{ ticks: { sequence: number; at: string } }>({ query: TICKS })) {
        expect(result.errors).toBeUndefined();
        sequences.push(result.data!.ticks.sequence);
        expect(Number.isNaN(Date.parse(result.data!.ticks.at))).toBe(false);
      }
      expect(sequences).toEqual([1, 2, 3]);
    } finally {
      await client.dispose();
    }
  });

  it('streams a subscription over SSE', async () => {
    const res = await fetch(gw.graphqlUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
      body: JSON.stringify({ query: TICKS }),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const events = (await res.text())
      .split('\n\n')
      .map((block) => block.trim())
      .filter((block) => block.startsWith('event:'))
      .map((block) => {
        const [, event] = /^event: (\w+)/.exec(block)!;
        const data = /^data: ?(.*)$/m.exec(block)?.[1] ?? '';
        return { event, data: data === '' ? null : (JSON.parse(data) as { data: { ticks: { sequence: number } } }) };
      });
    expect(events.map((e) => e.event)).toEqual(['next', 'next', 'next', 'complete']);
    expect(events.slice(0, 3).map((e) => e.data?.data.ticks.sequence)).toEqual([1, 2, 3]);
  });

  it('echoes a given x-request-id and generates one otherwise', async () => {
    const given = await fetch(`${gw.url}/healthz`, { headers: { 'x-request-id': 'client-req.42:a_b' } });
    expect(given.headers.get('x-request-id')).toBe('client-req.42:a_b');

    const generated = await fetch(`${gw.url}/healthz`);
    expect(generated.headers.get('x-request-id')).toMatch(GENERATED_ID);
    const another = await fetch(`${gw.url}/healthz`);
    expect(another.headers.get('x-request-id')).not.toBe(generated.headers.get('x-request-id'));

    // Every kind of answer carries it: GraphQL on the fast path and on Yoga (SSE), v1, errors, not found.
    const headers = { 'x-request-id': 'every-answer', 'content-type': 'application/json' };
    const answers = [
      await fetch(gw.graphqlUrl, { method: 'POST', headers, body: JSON.stringify({ query: '{ __typename }' }) }),
      await fetch(gw.graphqlUrl, { method: 'POST', headers, body: '{ not json' }),
      await fetch(gw.graphqlUrl, { method: 'POST', headers: { ...headers, accept: 'text/event-stream' }, body: JSON.stringify({ query: '{ __typename }' }) }),
      await fetch(`${gw.url}/api/v1/test/test`, { method: 'POST', headers, body: '[]' }),
      await fetch(`${gw.url}/no/such/path`, { headers }),
    ];
    for (const answer of answers) {
      await answer.arrayBuffer();
      expect(answer.headers.get('x-request-id'), `${answer.url} ${answer.status}`).toBe('every-answer');
    }

    // Ids that could forge log lines or bloat them are replaced.
    for (const bad of ['has spaces', 'x'.repeat(65), 'quote"s']) {
      const res = await fetch(`${gw.url}/healthz`, { headers: { 'x-request-id': bad } });
      expect(res.headers.get('x-request-id')).toMatch(GENERATED_ID);
    }

    const graphql = await fetch(gw.graphqlUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-request-id': 'gql-1' },
      body: JSON.stringify({ query: '{ serverTime }' }),
    });
    expect(graphql.headers.get('x-request-id')).toBe('gql-1');
  });

  it('answers unknown paths with 404 JSON carrying the request id', async () => {
    for (const path of ['/nope', '/graphql/extra', '/healthz/', '/']) {
      const res = await fetch(`${gw.url}${path}`, { headers: { 'x-request-id': 'lost-1' } });
      expect(res.status).toBe(404);
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
      expect(await res.json()).toEqual({ error: 'Not found', requestId: 'lost-1' });
    }
  });

  describe('bad input', () => {
    it('refuses a body that is not JSON', async () => {
      expectGraphqlRefusal(await postGraphql('{not json'), 'BAD_REQUEST');
      // With a plain JSON accept header the status may be 200 (GraphQL over HTTP), never 5xx.
      const legacy = await postGraphql('{not json', { accept: 'application/json' });
      expect(legacy.status).toBeLessThan(500);
      expect(legacy.body.errors?.[0]?.extensions.code).toBe('BAD_REQUEST');
    });

    it.each([
      ['a query that is not a string', { query: 42 }],
      ['no query at all', { variables: {} }],
      ['a batch', [{ query: '{ serverTime }' }]],
      ['variables that are not an object', { query: '{ serverTime }', variables: 'x' }],
    ])('refuses %s', async (_name, body) => {
      expectGraphqlRefusal(await postGraphql(body), 'BAD_REQUEST');
    });

    it('refuses a body over 2 MiB with 413, announced or not', async () => {
      const big = JSON.stringify({ query: `{ serverTime } # ${'x'.repeat(2 * 1024 * 1024)}` });
      const announced = await answerOf(
        await fetch(gw.graphqlUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: big }),
      );
      expect(announced.status).toBe(413);
      expect(announced.body.error).toMatch(/larger than 2097152 bytes/);
      expect(announced.body.requestId).toMatch(GENERATED_ID);

      // Chunked, without a Content-Length: refused once it grows past the limit.
      const chunk = new TextEncoder().encode('x'.repeat(256 * 1024));
      let sent = 0;
      const stream = new ReadableStream<Uint8Array>({
        pull(controller) {
          if (sent++ < 12) controller.enqueue(chunk);
          else controller.close();
        },
      });
      const chunked = await answerOf(
        await fetch(gw.graphqlUrl, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: stream,
          duplex: 'half',
        } as RequestInit),
      );
      expect(chunked.status).toBe(413);
      expect(chunked.body.error).toMatch(/larger than 2097152 bytes/);
    });

    // __type is level 1, fields 2, type 3, then one level per ofType, and `name` one more.
    const deep = (ofTypes: number) => `{ __type(name: "Query") { fields { type { ${'ofType { '.repeat(ofTypes)}name${' }'.repeat(ofTypes)} } } } }`;
    // __schema is level 1, types 2, fields 3, args 4, type 5, then one level per ofType, and `name` one more.
    const deepSchema = (ofTypes: number) =>
      `{ __schema { types { fields { args { type { ${'ofType { '.repeat(ofTypes)}name${' }'.repeat(ofTypes)} } } } } } }`;
    const aliased = (n: number) => `{ ${Array.from({ length: n }, (_, i) => `a${i}: serverTime`).join(' ')} }`;
    // `$v0: Int` is 4 tokens: 1500 of them are 6000 tokens, refused by the parser before any validation.
    const manyTokens = `query Q(${Array.from({ length: 1500 }, (_, i) => `$v${i}: Int`).join(' ')}) { serverTime }`;

    it('refuses a query nested deeper than 12 levels', async () => {
      const atLimit = await postGraphql({ query: deep(8) });
      expect(atLimit.status).toBe(200);
      expect(atLimit.body.errors).toBeUndefined();
      const error = expectGraphqlRefusal(await postGraphql({ query: deep(9) }), 'QUERY_TOO_COMPLEX');
      expect(error.message).toMatch(/deeper than 12/);
      // Fragments do not hide depth, and do not add any either.
      const viaFragment = (ofTypes: number) =>
        `{ __type(name: "Query") { ...Fields } } fragment Fields on __Type { fields { ...Type } } fragment Type on __Field { type { ${'ofType { '.repeat(ofTypes)}name${' }'.repeat(ofTypes)} } }`;
      expect((await postGraphql({ query: viaFragment(8) })).body.errors).toBeUndefined();
      expectGraphqlRefusal(await postGraphql({ query: viaFragment(9) }), 'QUERY_TOO_COMPLEX');
    });

    it('lets the standard introspection query through, and bounds introspection at 15 levels', async () => {
      // GraphiQL asks with an ofType chain nine deep: 15 levels.
      const standard = await postGraphql({ query: getIntrospectionQuery() });
      expect(standard.body.errors).toBeUndefined();
      expect((standard.body.data as { __schema: { types: unknown[] } }).__schema.types.length).toBeGreaterThan(10);
      expect((await postGraphql({ query: deepSchema(9) })).body.errors).toBeUndefined();
      const error = expectGraphqlRefusal(await postGraphql({ query: deepSchema(10) }), 'QUERY_TOO_COMPLEX');
      expect(error.message).toMatch(/Introspection is nested deeper than 15/);
    });

    it('refuses a query with more than 30 aliases', async () => {
      const atLimit = await postGraphql({ query: aliased(30) });
      expect(atLimit.status).toBe(200);
      expect(Object.keys(atLimit.body.data as object)).toHaveLength(30);
      const error = expectGraphqlRefusal(await postGraphql({ query: aliased(31) }), 'QUERY_TOO_COMPLEX');
      expect(error.message).toMatch(/more than 30 aliases/);
      // A fragment's aliases count each time it is spread; aliases of __typename count too.
      const fragment = `fragment Sixteen on Query { ${Array.from({ length: 16 }, (_, i) => `t${i}: __typename`).join(' ')} }`;
      expect((await postGraphql({ query: `{ ...Sixteen } ${fragment}` })).body.errors).toBeUndefined();
      expectGraphqlRefusal(await postGraphql({ query: `{ ...Sixteen ...Sixteen } ${fragment}` }), 'QUERY_TOO_COMPLEX');
    });

    it('refuses a document with more than 5000 tokens', async () => {
      const error = expectGraphqlRefusal(await postGraphql({ query: manyTokens }), 'GRAPHQL_PARSE_FAILED');
      expect(error.message).toMatch(/5000 tokens/);
    });

    it('applies the same limits over graphql-ws and SSE', async () => {
      const codes = (errors: readonly GraphqlError[] | undefined) =>
        errors?.map((error) => ({ code: error.extensions.code, status: error.extensions.status }));
      const overWs = async (query: string) => (await gqlWs(gw, query)).flatMap((result) => result.errors ?? []);
      expect(codes(await overWs(deep(9)))).toEqual([{ code: 'QUERY_TOO_COMPLEX', status: 400 }]);
      expect(codes(await overWs(aliased(31)))).toEqual([{ code: 'QUERY_TOO_COMPLEX', status: 400 }]);
      const [tooLong] = await overWs(manyTokens);
      expect(codes([tooLong!])).toEqual([{ code: 'GRAPHQL_PARSE_FAILED', status: 400 }]);
      expect(tooLong!.message).toMatch(/5000 tokens/);
      expect(await overWs(deep(8))).toEqual([]);

      for (const query of [deep(9), aliased(31)]) {
        const res = await fetch(gw.graphqlUrl, {
          method: 'POST',
          headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
          body: JSON.stringify({ query }),
        });
        const text = await res.text();
        expect(text).toContain('"code":"QUERY_TOO_COMPLEX"');
        expect(text).not.toContain('"data"');
      }
    });

    it('refuses an invalid document with a validation error', async () => {
      const error = expectGraphqlRefusal(await postGraphql({ query: '{ noSuchField }' }), 'GRAPHQL_VALIDATION_FAILED');
      expect(error.message).toMatch(/noSuchField/);
      expectGraphqlRefusal(await postGraphql({ query: '{ serverTime' }), 'GRAPHQL_PARSE_FAILED');
      expectGraphqlRefusal(
        await postGraphql({ query: 'subscription { ticks(intervalMs: "fast") { sequence } }' }),
        'GRAPHQL_VALIDATION_FAILED',
      );
    });

    it('answers a malformed HTTP request with 400 JSON', async () => {
      const url = new URL(gw.url);
      const socket = net.connect(Number(url.port), url.hostname);
      await once(socket, 'connect');
      socket.end('THIS IS NOT HTTP\r\n\r\n');
      let raw = '';
      socket.setEncoding('utf8');
      socket.on('data', (chunk: string) => (raw += chunk));
      await once(socket, 'close');
      expect(raw).toMatch(/^HTTP\/1\.1 400 /);
      expect(raw).toMatch(/content-type: application\/json/i);
      expect(JSON.parse(raw.slice(raw.indexOf('\r\n\r\n') + 4))).toEqual({ error: 'Malformed HTTP request' });
    });

    it('rejects a WebSocket upgrade to an unknown path and keeps serving', async () => {
      const ws = new WebSocket(`${gw.url.replace('http', 'ws')}/not-a-socket`, 'graphql-transport-ws');
      const status = await new Promise<number>((resolve, reject) => {
        ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
        ws.on('open', () => reject(new Error('the upgrade was accepted')));
        ws.on('error', () => {});
      });
      expect(status).toBe(404);
      ws.terminate();
    });

    it('is still healthy and has answered no request with a 5xx', async () => {
      expect((await fetch(`${gw.url}/healthz`)).status).toBe(200);
      const answered = parseMetrics((await metrics()).text).get('gateway_http_requests_total') ?? [];
      expect(answered.length).toBeGreaterThan(0);
      expect(answered.filter((s) => s.labels.status!.startsWith('5'))).toEqual([]);
      // And the WebSocket endpoint still works.
      const client = createWsClient({ url: gw.graphqlWsUrl, webSocketImpl: WebSocket, retryAttempts: 0 });
      try {
        const sequences: number[] = [];
        for await (const result of client.iterate<{ ticks: { sequence: number } }>({ query: TICKS })) {
          sequences.push(result.data!.ticks.sequence);
        }
        expect(sequences).toEqual([1, 2, 3]);
      } finally {
        await client.dispose();
      }
    });
  });
});
