import type { IncomingMessage } from 'node:http';
import { serverAudits } from 'graphql-http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { graphContext } from '../../src/graph/context.ts';
import { buildSchema } from '../../src/graph/schema.ts';
import { createLogger } from '../../src/logger.ts';
import { bearerToken } from '../../src/domain/tokens.ts';
import { GUEST } from '../../src/domain/principal.ts';
import { GraphqlExecutor, type OperationRecord } from '../../src/graph/executor.ts';
import { GraphqlFastPath } from '../../src/server/graphql-fast-path.ts';
import { createGraphqlYoga, type GraphqlYoga } from '../../src/server/graphql-http.ts';
import { MODES, ROOT_PASSWORD, startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { rootSession } from '../helpers/graphql.ts';

const JSON_TYPE = 'application/json';
const GRAPHQL_RESPONSE = 'application/graphql-response+json';

interface Answer {
  readonly status: number;
  readonly contentType: string | null;
  readonly allow: string | null;
  readonly body: string;
}

async function answerOf(response: Response): Promise<Answer> {
  return {
    status: response.status,
    contentType: response.headers.get('content-type'),
    allow: response.headers.get('allow'),
    body: await response.text(),
  };
}

/** A request to /graphql: a query string (for GET) and fetch's init. */
type Probe = readonly [name: string, search: string, init: RequestInit];

const post = (accept: string | undefined, body: unknown, extra: Record<string, string> = {}): RequestInit => ({
  method: 'POST',
  headers: { 'content-type': JSON_TYPE, ...(accept ? { accept } : {}), ...extra },
  body: typeof body === 'string' ? body : JSON.stringify(body),
});
const get = (accept: string | undefined, extra: Record<string, string> = {}): RequestInit => ({
  method: 'GET',
  headers: { ...(accept ? { accept } : {}), ...extra },
});
const search = (params: Record<string, string>) => `?${new URLSearchParams(params).toString()}`;

const VIEWER = '{ viewer { user { id name } permissions } }';
const TWO_OPERATIONS = 'query A { __typename } query B { serverTime }';
const BAD_VARIABLE = 'query($n: Int!) { suggestUsers(search: "a", first: $n) { id } }';
const aliased = (n: number) => `{ ${Array.from({ length: n }, (_, i) => `a${i}: __typename`).join(' ')} }`;

/** Requests the fast path serves, for each accept header a client sends; each must be answered as graphql-yoga answers it. */
function probes(token: string): Probe[] {
  const auth = { authorization: `Bearer ${token}` };
  const list: Probe[] = [];
  for (const accept of [undefined, '*/*', JSON_TYPE, GRAPHQL_RESPONSE, `${GRAPHQL_RESPONSE}; charset=utf-8, ${JSON_TYPE}; charset=utf-8`, `${JSON_TYPE}, ${GRAPHQL_RESPONSE}`]) {
    const at = accept ?? 'no accept';
    list.push(
      [`${at}: a query`, '', post(accept, { query: '{ __typename }' })],
      [`${at}: an authenticated query`, '', post(accept, { query: VIEWER }, auth)],
      [`${at}: a refused field`, '', post(accept, { query: '{ users { totalCount } }' })],
      [`${at}: a typed error`, '', post(accept, { query: 'mutation { signIn(input: { username: "root", password: "wrong" }) { __typename ... on Error { message code status } } }' })],
      [`${at}: a named operation of two`, '', post(accept, { query: TWO_OPERATIONS, operationName: 'A' })],
      [`${at}: two operations and no name`, '', post(accept, { query: TWO_OPERATIONS })],
      [`${at}: an unknown operation name`, '', post(accept, { query: TWO_OPERATIONS, operationName: 'C' })],
      [`${at}: an operation name that is not a string`, '', post(accept, { query: '{ __typename }', operationName: 7 })],
      [`${at}: a parse error`, '', post(accept, { query: '{ serverTime' })],
      [`${at}: a validation error`, '', post(accept, { query: '{ noSuchField }' })],
      [`${at}: a query over the alias limit`, '', post(accept, { query: aliased(31) })],
      [`${at}: a variable that does not coerce`, '', post(accept, { query: BAD_VARIABLE, variables: { n: 'many' } })],
      [`${at}: a missing variable`, '', post(accept, { query: BAD_VARIABLE })],
      [`${at}: no query`, '', post(accept, { variables: {} })],
      [`${at}: a query that is not a string`, '', post(accept, { query: 42 })],
      [`${at}: variables that are not an object`, '', post(accept, { query: '{ __typename }', variables: [1] })],
      [`${at}: extensions that are not an object`, '', post(accept, { query: '{ __typename }', extensions: 'x' })],
      [`${at}: an unknown parameter`, '', post(accept, { query: '{ __typename }', queryId: 'x' })],
      [`${at}: null parameters`, '', post(accept, { query: '{ __typename }', variables: null, operationName: null, extensions: null })],
      [`${at}: a body that is null`, '', post(accept, 'null')],
      [`${at}: a body that is a number`, '', post(accept, '12')],
      [`${at}: a GET query`, search({ query: '{ __typename }' }), get(accept)],
      [`${at}: a GET query with variables`, search({ query: 'query($n: Int) { suggestUsers(search: "a", first: $n) { id } }', variables: '{"n":1}' }), get(accept, auth)],
      [`${at}: a GET mutation`, search({ query: 'mutation { signOut { __typename } }' }), get(accept)],
      [`${at}: a GET mutation that does not validate`, search({ query: 'mutation { noSuchField }' }), get(accept)],
      [`${at}: a GET without a query`, '', get(accept)],
    );
  }
  return list;
}

describe('which requests take the fast path', () => {
  const fast = new GraphqlFastPath({
    executor: new GraphqlExecutor({ schema: buildSchema() }),
    domain: undefined as never,
    bodyLimit: 1024,
    fallback: async () => {},
  });
  const request = (method: string, headers: Record<string, string>) => ({ method, headers }) as unknown as IncomingMessage;

  it.each([
    ['POST', { 'content-type': JSON_TYPE }, JSON_TYPE],
    ['POST', { 'content-type': 'application/json; charset=utf-8', accept: '*/*' }, JSON_TYPE],
    ['POST', { 'content-type': JSON_TYPE, accept: GRAPHQL_RESPONSE }, GRAPHQL_RESPONSE],
    ['POST', { 'content-type': JSON_TYPE, accept: `${GRAPHQL_RESPONSE};q=0.9, ${JSON_TYPE}` }, GRAPHQL_RESPONSE],
    ['POST', { 'content-type': JSON_TYPE, accept: `${JSON_TYPE}, ${GRAPHQL_RESPONSE}` }, JSON_TYPE],
    ['POST', { 'content-type': JSON_TYPE, accept: `application/xml, ${GRAPHQL_RESPONSE}; charset=utf-8` }, GRAPHQL_RESPONSE],
    ['GET', { accept: GRAPHQL_RESPONSE }, GRAPHQL_RESPONSE],
    ['GET', {}, JSON_TYPE],
  ])('%s %j: %s', (method, headers, expected) => {
    expect(fast.mediaTypeFor(request(method, headers))).toBe(expected);
  });

  it.each([
    ['GET', { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' }],
    ['POST', { 'content-type': JSON_TYPE, accept: 'text/event-stream' }],
    ['POST', { 'content-type': JSON_TYPE, accept: `multipart/mixed, ${JSON_TYPE}` }],
    ['POST', { 'content-type': JSON_TYPE, accept: 'application/xml' }],
    ['POST', { 'content-type': JSON_TYPE, accept: `${JSON_TYPE}; charset=latin1` }],
    ['POST', { 'content-type': 'application/json; charset=latin1' }],
    ['POST', { 'content-type': 'multipart/form-data; boundary=x' }],
    ['POST', { 'content-type': 'application/graphql' }],
    ['POST', {}],
    ['PUT', { 'content-type': JSON_TYPE }],
    ['HEAD', {}],
  ])('leaves %s %j to graphql-yoga', (method, headers) => {
    expect(fast.mediaTypeFor(request(method, headers))).toBeUndefined();
  });
});

describe('what graphql-yoga serves', () => {
  it('runs on the shared executor, so it is recorded like the rest', async () => {
    const records: OperationRecord[] = [];
    const executor = new GraphqlExecutor({ schema: buildSchema(), record: (record) => records.push(record) });
    const { log } = createLogger('silent');
    const yoga = createGraphqlYoga({ schema: buildSchema(), domain: undefined as never, log, graphiql: undefined }, executor);
    const context = graphContext({ principal: GUEST, domain: undefined as never, requestId: 'r', log: () => log, client: { address: '127.0.0.1', userAgent: null } });
    const form = await yoga.fetch(
      new Request('http://localhost/graphql', {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', accept: GRAPHQL_RESPONSE },
        body: new URLSearchParams({ query: 'query Form { __typename }' }).toString(),
      }),
      context,
    );
    expect(await form.json()).toEqual({ data: { __typename: 'Query' } });
    const sse = await yoga.fetch(
      new Request('http://localhost/graphql', {
        method: 'POST',
        headers: { 'content-type': JSON_TYPE, accept: 'text/event-stream' },
        body: JSON.stringify({ query: 'query Sse { users { totalCount } }' }),
      }),
      context,
    );
    expect(await sse.text()).toContain('"code":"UNAUTHENTICATED"');
    expect(records.map(({ source, name, ok }) => ({ source, name, ok }))).toEqual([
      { source: 'graphql-http', name: 'Form', ok: true },
      { source: 'graphql-http', name: 'Sse', ok: false },
    ]);
  });
});

describe.each(MODES)('GraphQL over HTTP (%s)', (mode) => {
  let gw: TestGateway;
  let yoga: GraphqlYoga;
  let token: string;

  beforeAll(async () => {
    gw = await startTestGateway(mode);
    token = await rootSession(gw, ROOT_PASSWORD);
    const { log } = createLogger('silent');
    yoga = createGraphqlYoga({ schema: buildSchema(), domain: gw.gateway.domain, log, graphiql: undefined });
  });
  afterAll(() => gw?.close());

  /** What graphql-yoga alone answers to the same request, with the same request context. */
  async function yogaAnswer(url: string, init: RequestInit): Promise<Answer> {
    const headers = new Headers(init.headers);
    const principal = await gw.gateway.domain.auth.resolve(bearerToken(headers.get('authorization') ?? undefined));
    const context = graphContext({
      principal,
      domain: gw.gateway.domain,
      requestId: 'reference',
      log: () => createLogger('silent').log,
      client: { address: '127.0.0.1', userAgent: null },
    });
    return answerOf(await yoga.fetch(new Request(url, init), context));
  }

  describe('graphql-http audits', () => {
    // Every audit passes, the SHOULDs and MAYs too (README: GraphQL over HTTP).
    for (const audit of serverAudits({ url: () => gw.graphqlUrl })) {
      it(`${audit.id}: ${audit.name}`, async () => {
        const result = await audit.fn();
        expect(result.status === 'ok' ? 'ok' : `${result.status}: ${result.reason}`).toBe('ok');
      });
    }
  });

  it('answers the common requests byte for byte as graphql-yoga does', async () => {
    const differences: string[] = [];
    for (const [name, query, init] of probes(token)) {
      const url = `${gw.graphqlUrl}${query}`;
      const served = await answerOf(await fetch(url, init));
      const reference = await yogaAnswer(url, init);
      if (JSON.stringify(served) !== JSON.stringify(reference)) {
        differences.push(`${name}:\n  served    ${JSON.stringify(served)}\n  reference ${JSON.stringify(reference)}`);
      }
    }
    expect(differences.join('\n')).toBe('');
  });

  it('refuses a body that is not JSON with 400 under either media type', async () => {
    for (const accept of [JSON_TYPE, GRAPHQL_RESPONSE]) {
      const answer = await answerOf(await fetch(gw.graphqlUrl, post(accept, '{"query": ')));
      expect(answer.status).toBe(400);
      expect(answer.contentType).toBe(`${accept}; charset=utf-8`);
      expect(JSON.parse(answer.body)).toEqual({ errors: [{ message: 'POST body sent invalid JSON.', extensions: { code: 'BAD_REQUEST', status: 400 } }] });
    }
  });

  it('refuses GET variables that are not JSON with 400', async () => {
    const answer = await answerOf(await fetch(`${gw.graphqlUrl}${search({ query: '{ __typename }', variables: '{n' })}`, get(GRAPHQL_RESPONSE)));
    expect(answer.status).toBe(400);
    expect(JSON.parse(answer.body)).toEqual({ errors: [{ message: 'Variables are invalid JSON.', extensions: { code: 'BAD_REQUEST', status: 400 } }] });
  });

  it('leaves batches, subscriptions, other methods and media types to graphql-yoga', async () => {
    const batch = await answerOf(await fetch(gw.graphqlUrl, post(GRAPHQL_RESPONSE, [{ query: '{ __typename }' }])));
    expect(batch.status).toBe(400);
    expect(JSON.parse(batch.body).errors[0].message).toBe('Batching is not supported.');

    const subscription = await fetch(gw.graphqlUrl, post(GRAPHQL_RESPONSE, { query: 'subscription { ticks(count: 1) { sequence } }' }));
    expect(subscription.status).toBe(406);
    expect(subscription.headers.get('accept')).toBe('text/event-stream');

    const put = await answerOf(await fetch(gw.graphqlUrl, { ...post(GRAPHQL_RESPONSE, { query: '{ __typename }' }), method: 'PUT' }));
    expect(put.status).toBe(405);
    expect(put.allow).toBe('GET, POST');

    const text = await fetch(gw.graphqlUrl, post(GRAPHQL_RESPONSE, { query: '{ __typename }' }, { 'content-type': 'text/plain' }));
    expect(text.status).toBe(415);

    const xml = await fetch(gw.graphqlUrl, post('application/xml', { query: '{ __typename }' }));
    expect(xml.status).toBe(406);

    // Form posts are Yoga's too.
    const form = await fetch(gw.graphqlUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: GRAPHQL_RESPONSE },
      body: new URLSearchParams({ query: '{ __typename }' }).toString(),
    });
    expect(form.status).toBe(200);
    expect(await form.json()).toEqual({ data: { __typename: 'Query' } });
  });
});
