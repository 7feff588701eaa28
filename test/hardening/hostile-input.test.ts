import fc from 'fast-check';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiReadSchema, parseApiRead, type ApiReadSpec } from '../../src/rpc-facade/api-read.ts';
import { V1_METHODS } from '../../src/rpc-facade/methods/index.ts';
import { recordReadSpec } from '../../src/rpc-facade/methods/shared.ts';
import { compileParams } from '../../src/rpc-facade/params.ts';
import { rootSession } from '../helpers/graphql.ts';
import { MODES, ROOT_PASSWORD, startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { assertEnvelope, mapLimit, rawRequest, RawWs, type Envelope } from '../helpers/v1.ts';

/** Codes a malformed call may get: the framework's refusals and the domain's 4xx; never a 5xx. */
function assertRefusalClass(envelope: Envelope, context: string): void {
  const code = envelope.error?.code ?? envelope.result!.status;
  expect(code >= 500 && code < 600, `${context}: ${JSON.stringify(envelope)}`).toBe(false);
}

/**
 * Every method, except those that would end or change the very credential the battery calls with
 * (signing out, setting the caller's password) and the sign-in limits' own: their parameters are
 * covered by test/v1/params.test.ts.
 */
const SPARED = new Set(['/v1/session/signin', '/v1/session/signup', '/v1/session/signout', '/v1/profile/set-password']);
const METHOD_IDS = V1_METHODS.map((method) => method.id).filter((id) => !SPARED.has(id));

/** Arbitrary JSON, and values JSON cannot quite hold (deep nesting, huge strings and arrays). */
const hostileValue = fc.oneof(
  { weight: 6, arbitrary: fc.jsonValue({ maxDepth: 4 }) },
  { weight: 1, arbitrary: fc.string({ maxLength: 20 }).map((s) => s.repeat(5000)) },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 50_000 }).map((n) => Array.from({ length: n }, (_, i) => i)) },
  { weight: 1, arbitrary: fc.integer({ min: 60, max: 800 }).map((depth) => JSON.parse(`${'['.repeat(depth)}${']'.repeat(depth)}`) as unknown) },
  { weight: 1, arbitrary: fc.constantFrom(-0, 1e308, -1e308, 2 ** 53 + 1, '\u0000', '\ud800', '../../etc/passwd', '..\\..\\etc\\passwd', "' or 1=1 --") },
);

/** Bodies that are not what they claim: broken JSON, invalid UTF-8, random bytes, envelopes with wrong fields. */
const hostileBody = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }).map((value) => JSON.stringify(value)),
  fc.array(hostileValue, { maxLength: 4 }).map((args) => JSON.stringify(args)),
  fc.record({ jsonrpc: fc.oneof(fc.constant('2.0'), fc.jsonValue()), method: fc.oneof(fc.constantFrom(...METHOD_IDS), fc.string()), params: hostileValue, id: fc.jsonValue({ maxDepth: 1 }) }).map((frame) => JSON.stringify(frame)),
  fc.string({ maxLength: 200 }),
  fc.uint8Array({ maxLength: 300 }).map((bytes) => Buffer.from(bytes).toString('latin1')),
  fc.constantFrom('{', '[', '[1,', '{"a":', '\ufeff[]', 'null', '"x"', '1e999999', '[' + '{"a":'.repeat(3000), '['.repeat(100_000)),
);

const hostilePath = fc.oneof(
  fc.constantFrom(...METHOD_IDS).map((id) => `/api${id}`),
  fc.constantFrom(...METHOD_IDS),
  fc.constantFrom('/api/v1/..\\..\\etc\\passwd', '/api/v1/../../../etc/passwd', '/v1/%2e%2e/%2e%2e/etc/passwd', '/api/%00', '/api/v1/%ff%fe', '/api//v1//x', '/api/v99/x', '/v1', '/api'),
  fc.stringMatching(/^[a-z0-9/._%-]{0,40}$/).map((tail) => `/api/${tail}`),
);

describe.each(MODES)('hostile input (%s mode)', (mode) => {
  let gw: TestGateway;
  let root: string;

  beforeAll(async () => {
    gw = await startTestGateway(mode);
    root = await rootSession(gw, ROOT_PASSWORD);
  });
  afterAll(async () => gw?.close());

  async function healthy(): Promise<void> {
    expect((await fetch(`${gw.url}/healthz`)).status).toBe(200);
    const answer = await fetch(`${gw.url}/api/v1/profile/read`, { headers: { authorization: `Bearer ${root}` } });
    expect(answer.status).toBe(200);
  }

  it('answers thousands of malformed v1 HTTP requests with well-formed envelopes, never a 5xx', { timeout: 60_000 }, async () => {
    const requests = fc.sample(
      fc.record({
        path: hostilePath,
        method: fc.constantFrom('POST', 'POST', 'POST', 'GET', 'PUT', 'DELETE', 'PATCH'),
        contentType: fc.constantFrom('application/json', 'application/json; charset=utf-8', 'text/plain', 'application/x-www-form-urlencoded', ''),
        body: hostileBody,
        signedIn: fc.boolean(),
      }),
      { numRuns: 1200, seed: 13 },
    );
    await mapLimit(requests, 16, async (request) => {
      const headers: Record<string, string> = {};
      if (request.contentType) headers['content-type'] = request.contentType;
      if (request.signedIn) headers.authorization = `Bearer ${root}`;
      const answer = await rawRequest(gw.gateway.port, { method: request.method, path: request.path, headers, body: request.method === 'GET' ? undefined : request.body });
      const context = `${request.method} ${request.path} ${request.body.slice(0, 80)}`;
      expect(answer.status, context).toBeLessThan(500);
      expect(answer.headers['content-type'], context).toMatch(/^application\/json/);
      assertRefusalClass(assertEnvelope(JSON.parse(answer.text), context), context);
    });
    await healthy();
  });

  it('answers malformed v1 WebSocket frames on one connection, which stays open', { timeout: 60_000 }, async () => {
    const ws = await RawWs.open(`${gw.url.replace('http', 'ws')}/api/`, root);
    try {
      const frames = fc.sample(fc.record({ method: fc.constantFrom(...METHOD_IDS), params: hostileValue }), { numRuns: 150, seed: 7 });
      for (const frame of frames) {
        const answer = await ws.call(frame.method, frame.params);
        assertRefusalClass(answer.envelope, `${frame.method} ${JSON.stringify(frame.params).slice(0, 80)}`);
      }
      for (const text of fc.sample(hostileBody, { numRuns: 150, seed: 8 })) ws.ws.send(text);
      // The message rate's burst is used up by now: wait for it to refill.
      await new Promise((resolve) => setTimeout(resolve, 2100));
      // Still open and answering after all of it.
      expect((await ws.call('/v1/profile/read')).status).toBe(200);
      expect(ws.isOpen).toBe(true);
    } finally {
      await ws.close();
    }
    await healthy();
  });

  it('holds a WebSocket to its message rate with -32802 answers, keeping the connection', { timeout: 30_000 }, async () => {
    const ws = await RawWs.open(`${gw.url.replace('http', 'ws')}/api/`, root, { paced: false });
    try {
      const answers = await Promise.all(Array.from({ length: 400 }, () => ws.call('/v1/profile/read')));
      const refused = answers.filter((answer) => answer.status === -32802);
      expect(refused.length).toBeGreaterThan(0);
      expect(refused.every((answer) => Number(answer.meta.retry_after) >= 1)).toBe(true);
      await new Promise((resolve) => setTimeout(resolve, 1100));
      expect((await ws.call('/v1/profile/read')).status).toBe(200);
    } finally {
      await ws.close();
    }
  });

  it('answers thousands of malformed GraphQL requests with GraphQL errors that carry a code, never a 5xx', { timeout: 60_000 }, async () => {
    const queries = fc.oneof(
      fc.string({ maxLength: 100 }),
      fc.constantFrom('{', '{ viewer ', 'query { '.repeat(200), '{ a: __typename '.repeat(40) + '}'.repeat(40), `{ ${'users { edges { node { id } } } '.repeat(50)} }`),
      fc.constantFrom('{ users(first: -1) { totalCount } }', '{ users(first: 1e9) { totalCount } }', '{ user(id: "x") { id } }', 'mutation { signIn(input: {}) { __typename } }'),
      fc.stringMatching(/^[{}() a-zA-Z_:$@!,.0-9"]{0,120}$/),
    );
    const requests = fc.sample(
      fc.record({
        body: fc.oneof(
          fc.record({ query: fc.oneof(queries, fc.jsonValue()), variables: fc.oneof(fc.constant(undefined), fc.jsonValue({ maxDepth: 3 })), operationName: fc.oneof(fc.constant(undefined), fc.jsonValue({ maxDepth: 1 })) }).map((body) => JSON.stringify(body)),
          hostileBody,
        ),
        contentType: fc.constantFrom('application/json', 'application/graphql-response+json', 'text/plain', 'application/json; charset=latin1'),
        signedIn: fc.boolean(),
      }),
      { numRuns: 1000, seed: 11 },
    );
    await mapLimit(requests, 16, async (request) => {
      const headers: Record<string, string> = { 'content-type': request.contentType, accept: 'application/graphql-response+json, application/json' };
      if (request.signedIn) headers.authorization = `Bearer ${root}`;
      const answer = await rawRequest(gw.gateway.port, { method: 'POST', path: '/graphql', headers, body: request.body });
      const context = `${answer.status} ${request.body.slice(0, 100)} → ${answer.text.slice(0, 200)}`;
      expect(answer.status, context).toBeLessThan(500);
      // Yoga answers a media type it does not take with an empty 415, as GraphQL over HTTP allows.
      if (answer.text === '') {
        expect(answer.status, context).toBe(415);
        return;
      }
      const body = JSON.parse(answer.text) as { errors?: { extensions?: { code?: string } }[] };
      for (const error of body.errors ?? []) {
        expect(typeof error.extensions?.code, context).toBe('string');
        expect(error.extensions?.code, context).not.toBe('INTERNAL_SERVER_ERROR');
      }
    });
    await healthy();
  });

  it('answers malformed graphql-ws messages without crashing the server', { timeout: 30_000 }, async () => {
    for (const messages of fc.sample(fc.array(hostileBody, { minLength: 1, maxLength: 5 }), { numRuns: 40, seed: 5 })) {
      const ws = new WebSocket(`${gw.url.replace('http', 'ws')}/graphql`, 'graphql-transport-ws');
      await new Promise((resolve, reject) => {
        ws.once('open', resolve);
        ws.once('error', reject);
      });
      const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
      ws.send(JSON.stringify({ type: 'connection_init' }));
      for (const message of messages) ws.send(message);
      ws.send(JSON.stringify({ type: 'subscribe', id: 'x', payload: { query: '{ serverTime }' } }));
      const code = await Promise.race([closed, new Promise<number>((resolve) => setTimeout(() => resolve(0), 300))]);
      // graphql-ws closes for protocol errors with 4400-class codes; never 1011 (a server error).
      expect(code).not.toBe(1011);
      ws.terminate();
    }
    await healthy();
  });
});

describe('properties of parameter validation and apiRead options', () => {
  const spec: ApiReadSpec = recordReadSpec([['id', 'asc']]);
  const validate = compileParams([{ name: 'options', required: false, schema: apiReadSchema(spec) }]);

  it('apiRead options: either refused by the schema with a message, or parsed into a bounded query', () => {
    const options = fc.oneof(
      fc.jsonValue({ maxDepth: 4 }),
      fc.record(
        {
          where: fc.dictionary(fc.constantFrom('id', 'search', 'name', 'x'), fc.oneof(fc.jsonValue({ maxDepth: 2 }), fc.tuple(fc.constantFrom('=', 'like', '<', '!='), fc.jsonValue({ maxDepth: 1 })))),
          order_by: fc.oneof(fc.jsonValue({ maxDepth: 2 }), fc.array(fc.tuple(fc.constantFrom('id', 'name', 'created', 'x'), fc.constantFrom('asc', 'desc', 'up')))),
          offset: fc.oneof(fc.integer(), fc.double(), fc.string()),
          limit: fc.oneof(fc.integer(), fc.double(), fc.constant(null)),
          id: fc.jsonValue({ maxDepth: 1 }),
        },
        { requiredKeys: [] },
      ),
    );
    fc.assert(
      fc.property(options, (value) => {
        const problem = validate([value]);
        if (problem !== null) {
          expect(typeof problem).toBe('string');
          expect(problem.length).toBeGreaterThan(0);
          return;
        }
        const query = parseApiRead(value, spec);
        expect(query.limit).toBeGreaterThanOrEqual(1);
        expect(query.limit).toBeLessThanOrEqual(100);
        expect(Number.isInteger(query.offset) && query.offset >= 0).toBe(true);
        for (const [field, direction] of query.order) {
          expect(typeof field).toBe('string');
          expect(['asc', 'desc']).toContain(direction);
        }
      }),
      { numRuns: 3000, seed: 42 },
    );
  });

  it('every method: any arguments are accepted or refused with a message, never a throw', () => {
    const validators = V1_METHODS.map((method) => ({ id: method.id, validate: compileParams(method.params) }));
    fc.assert(
      fc.property(fc.constantFrom(...validators), fc.array(hostileValue, { maxLength: 4 }), ({ validate: check }, args) => {
        const problem = check(args);
        expect(problem === null || (typeof problem === 'string' && problem.length > 0)).toBe(true);
      }),
      { numRuns: 2000, seed: 43 },
    );
  });
});
