import type { IncomingMessage, ServerResponse } from 'node:http';
import { GraphQLError, type ExecutionResult } from 'graphql';
import type { Domain } from '../domain/domain.ts';
import { bearerToken } from '../domain/tokens.ts';
import { graphContext } from '../graph/context.ts';
import { operationResolutionError, type GraphqlExecutor } from '../graph/executor.ts';
import { readBody } from '../http/body.ts';
import type { RequestContext } from './http-server.ts';

/** The two answers GraphQL over HTTP defines for a single result. */
export type ResultMediaType = 'application/graphql-response+json' | 'application/json';

const CONTENT_TYPE: Record<ResultMediaType, string> = {
  'application/graphql-response+json': 'application/graphql-response+json; charset=utf-8',
  'application/json': 'application/json; charset=utf-8',
};

/** What the request carries, after the HTTP layer: the GraphQL over HTTP parameters. */
interface Params {
  readonly query: unknown;
  readonly variables: unknown;
  readonly operationName: unknown;
  readonly extensions: unknown;
}

/**
 * How a refusal is answered. `spec` errors (no query, parse and validation errors) are
 * the ones GraphQL over HTTP lets a legacy `application/json` answer carry with 200; the others
 * keep their status whatever the media type, as graphql-yoga does.
 */
interface Refusal {
  readonly errors: readonly GraphQLError[];
  readonly status: number;
  readonly spec: boolean;
  readonly headers?: Readonly<Record<string, string>>;
}

const ALLOW_GET_POST = { allow: 'GET, POST' } as const;
const OBJECT_PARAMS = ['variables', 'extensions'] as const;

/** Hands a request the fast path does not serve to graphql-yoga, with the body already read when it was. */
export type YogaFallback = (req: IncomingMessage, res: ServerResponse, context: RequestContext, body: Buffer | undefined) => Promise<void>;

export interface FastPathOptions {
  readonly executor: GraphqlExecutor;
  readonly domain: Domain;
  readonly bodyLimit: number;
  readonly fallback: YogaFallback;
}

/** Accept headers seen, and what they choose (null: not for the fast path); clients send few distinct ones. */
const ACCEPT_CACHE_SIZE = 256;
const ACCEPT_CACHE_KEY_LENGTH = 256;

/**
 * GraphQL over HTTP for the common requests, on node:http itself: a POST of `application/json`
 * or a GET, asking for a single JSON result. The answers are the ones graphql-yoga gives for the
 * same requests (status, media type, error bodies), through the shared executor. Anything else
 * (GraphiQL, SSE, multipart, batches, subscriptions, other methods or media types) goes to Yoga.
 */
export class GraphqlFastPath {
  readonly #executor: GraphqlExecutor;
  readonly #domain: Domain;
  readonly #bodyLimit: number;
  readonly #fallback: YogaFallback;
  readonly #accepts = new Map<string, ResultMediaType | null>();

  constructor(options: FastPathOptions) {
    this.#executor = options.executor;
    this.#domain = options.domain;
    this.#bodyLimit = options.bodyLimit;
    this.#fallback = options.fallback;
  }

  /** The media type of the answer when the fast path serves this request; undefined for Yoga. Cheap: method and headers only. */
  mediaTypeFor(req: IncomingMessage): ResultMediaType | undefined {
    const method = req.method;
    if (method === 'POST') {
      if (!isJsonContentType(req.headers['content-type'])) return undefined;
    } else if (method !== 'GET') {
      return undefined;
    }
    const accept = req.headers.accept;
    if (accept === undefined || accept === '' || accept === '*/*') return 'application/json';
    let chosen = this.#accepts.get(accept);
    if (chosen === undefined) {
      chosen = resultMediaTypeOf(accept);
      if (this.#accepts.size < ACCEPT_CACHE_SIZE && accept.length <= ACCEPT_CACHE_KEY_LENGTH) this.#accepts.set(accept, chosen);
    }
    return chosen ?? undefined;
  }

  async handle(req: IncomingMessage, res: ServerResponse, context: RequestContext, mediaType: ResultMediaType): Promise<void> {
    const get = req.method === 'GET';
    let params: Params;
    let body: Buffer | undefined;
    if (get) {
      const parsed = paramsOfQueryString(req.url ?? '');
      if (parsed instanceof GraphQLError) return send(res, mediaType, refused(parsed, 400, false));
      params = parsed;
    } else {
      body = await readBody(req, this.#bodyLimit);
      const parsed = paramsOfBody(body);
      if (parsed === BATCH) return this.#fallback(req, res, context, body);
      if ('errors' in parsed) return send(res, mediaType, parsed);
      params = parsed;
    }
    const invalid = checkParams(params);
    if (invalid) return send(res, mediaType, invalid);

    const executor = this.#executor;
    const prepared = executor.prepare(params.query as string);
    if (prepared.parseFailed) return send(res, mediaType, { errors: prepared.errors, status: 400, spec: true });
    const { operationName } = params;
    const operation =
      operationName === undefined || operationName === null || typeof operationName === 'string'
        ? executor.operation(prepared, operationName)
        : undefined;
    if (!operation) return send(res, mediaType, refused(operationResolutionError(), 400, false));
    if (get && operation.kind === 'mutation') {
      const error = new GraphQLError('Can only perform a mutation operation from a POST request.', {
        extensions: { code: 'BAD_REQUEST', status: 400 },
      });
      return send(res, mediaType, { errors: [error], status: 405, spec: false, headers: { allow: 'POST' } });
    }
    if (prepared.errors.length > 0) return send(res, mediaType, { errors: prepared.errors, status: 400, spec: true });
    // A subscription over plain HTTP is Yoga's: it answers 406, pointing at SSE.
    if (operation.kind === 'subscription') return this.#fallback(req, res, context, body);

    const token = bearerToken(req.headers.authorization);
    const auth = this.#domain.auth;
    const principal = auth.cached(token) ?? (await auth.resolve(token));
    const graphqlContext = graphContext({
      principal,
      domain: this.#domain,
      requestId: context.requestId,
      log: context,
      client: context.client,
    });
    const executed = executor.execute(operation, graphqlContext, params.variables as Record<string, unknown> | null | undefined, 'graphql-http');
    const result = executed instanceof Promise ? await executed : executed;
    const payload = serializeResult(result);
    const refusal = result.data === null || result.data === undefined ? refusalStatus(result) : undefined;
    // A result without data is a request error (variables that do not coerce, say).
    const status = refusal?.status ?? ('data' in result && result.data !== undefined ? 200 : result.errors?.some(isInternal) ? 500 : 400);
    res.writeHead(status, { ...refusal?.headers, 'content-type': CONTENT_TYPE[mediaType], 'content-length': Buffer.byteLength(payload) });
    res.end(payload);
  }
}

/** `application/json`, as Yoga recognises it (the first of a list; parameters allowed, so long as the charset is UTF-8). */
function isJsonContentType(contentType: string | undefined): boolean {
  if (contentType === 'application/json') return true;
  if (contentType === undefined || !contentType.startsWith('application/json;')) return false;
  const first = contentType.split(',')[0]!.toLowerCase().replace(/\s/g, '');
  return !first.includes('charset=') || first.includes('charset=utf-8');
}

/**
 * The result media type an Accept header chooses, the way Yoga reads it: the first acceptable entry
 * wins (q-values are not weighed), `*` ranges choose `application/json`, entries with another
 * charset than UTF-8 do not count. Null when the request is Yoga's: it asks for SSE, multipart or
 * a page, or for nothing GraphQL over HTTP answers with (Yoga's 406).
 */
export function resultMediaTypeOf(accept: string): ResultMediaType | null {
  let chosen: ResultMediaType | null = null;
  for (const entry of accept.replace(/\s/g, '').toLowerCase().split(',')) {
    const [type, ...params] = entry.split(';');
    const charset = params.find((param) => param.includes('charset='));
    if (charset !== undefined && charset !== 'charset=utf-8') continue;
    if (type === 'text/event-stream' || type === 'multipart/mixed' || type === 'text/html') return null;
    if (chosen !== null) continue;
    if (type === 'application/graphql-response+json') chosen = 'application/graphql-response+json';
    else if (type === 'application/json' || type === '*/*' || type === 'application/*') chosen = 'application/json';
  }
  return chosen;
}

const BATCH = Symbol('batch');

function badRequest(message: string): GraphQLError {
  return new GraphQLError(message, { extensions: { code: 'BAD_REQUEST', status: 400 } });
}

function refused(error: GraphQLError, status: number, spec: boolean, headers?: Readonly<Record<string, string>>): Refusal {
  return { errors: [error], status, spec, headers };
}

function isParamName(key: string): boolean {
  return key === 'query' || key === 'variables' || key === 'operationName' || key === 'extensions';
}

function paramsOfBody(body: Buffer): Params | Refusal | typeof BATCH {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    // 400 whatever the media type: GraphQL over HTTP recommends it even for application/json (Yoga says 200).
    return refused(badRequest('POST body sent invalid JSON.'), 400, false);
  }
  if (parsed === null || typeof parsed !== 'object') {
    return refused(badRequest(`POST body is expected to be object but received ${parsed === null ? 'null' : typeof parsed}`), 400, false);
  }
  if (Array.isArray(parsed)) return BATCH;
  const params = parsed as Record<string, unknown>;
  for (const key in params) {
    if (!isParamName(key) && params[key] !== null && params[key] !== undefined) {
      return refused(badRequest(`Unexpected parameter "${key}" in the request body.`), 400, false);
    }
  }
  return params as unknown as Params;
}

function paramsOfQueryString(url: string): Params | GraphQLError {
  const at = url.indexOf('?');
  const search = new URLSearchParams(at === -1 ? '' : url.slice(at + 1));
  const variables = jsonParam(search.get('variables'), 'Variables');
  if (variables instanceof GraphQLError) return variables;
  const extensions = jsonParam(search.get('extensions'), 'Extensions');
  if (extensions instanceof GraphQLError) return extensions;
  return {
    query: search.get('query') || undefined,
    operationName: search.get('operationName') || undefined,
    variables,
    extensions,
  };
}

function jsonParam(text: string | null, name: string): unknown {
  if (!text) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return badRequest(`${name} are invalid JSON.`);
  }
}

function typeName(value: unknown): string {
  return value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value;
}

/** graphql-yoga's checks of the parameters, in its order and words. */
function checkParams(params: Params): Refusal | undefined {
  if (params.query === undefined || params.query === null) {
    return refused(badRequest('Must provide query string.'), 400, true, ALLOW_GET_POST);
  }
  if (typeof params.query !== 'string') {
    return refused(badRequest(`Expected "query" param to be a string, but given ${typeName(params.query)}.`), 400, false, ALLOW_GET_POST);
  }
  for (const name of OBJECT_PARAMS) {
    const type = typeName(params[name]);
    if (type !== 'object' && type !== 'null' && type !== 'undefined') {
      return refused(badRequest(`Expected "${name}" param to be empty or an object, but given ${type}.`), 400, false, ALLOW_GET_POST);
    }
  }
  return undefined;
}

/**
 * The HTTP answer of an operation refused as a whole: 429 with `Retry-After` for a limit, 503 for
 * a store that is away (every error of the result says so); undefined for anything else.
 */
export function refusalStatus(result: ExecutionResult): { status: number; headers: Record<string, string> } | undefined {
  const errors = result.errors;
  if (!errors?.length) return undefined;
  const [first] = errors;
  const code = first!.extensions?.code;
  if (code === 'RATE_LIMITED') {
    return { status: 429, headers: { 'retry-after': String(first!.extensions.retryAfterSeconds ?? 1) } };
  }
  if (code === 'SERVICE_UNAVAILABLE' && errors.every((error) => error.extensions?.code === 'SERVICE_UNAVAILABLE')) {
    return { status: 503, headers: { 'retry-after': '1' } };
  }
  return undefined;
}

function isInternal(error: GraphQLError): boolean {
  return error.extensions.code === 'INTERNAL_SERVER_ERROR';
}

/** The result as Yoga writes it: errors first, then data (when there is any), then extensions. */
function serializeResult(result: ExecutionResult): string {
  if (!result.errors?.length && result.extensions === undefined) return JSON.stringify({ data: result.data });
  const ordered: { errors?: unknown; data?: unknown; extensions?: unknown } = {};
  if (result.errors?.length) ordered.errors = result.errors;
  if ('data' in result) ordered.data = result.data;
  if (result.extensions !== undefined) ordered.extensions = result.extensions;
  return JSON.stringify(ordered);
}

function send(res: ServerResponse, mediaType: ResultMediaType, refusal: Refusal): void {
  const payload = JSON.stringify({ errors: refusal.errors });
  const status = refusal.spec && mediaType === 'application/json' ? 200 : refusal.status;
  res.writeHead(status, {
    ...refusal.headers,
    'content-type': CONTENT_TYPE[mediaType],
    'content-length': Buffer.byteLength(payload),
  });
  res.end(payload);
}
