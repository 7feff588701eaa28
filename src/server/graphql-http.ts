import type { IncomingMessage, ServerResponse } from 'node:http';
import { once } from 'node:events';
import { GraphQLError, type ExecutionArgs, type ExecutionResult, type GraphQLSchema } from 'graphql';
import { createYoga, type Plugin, type YogaServerInstance } from 'graphql-yoga';
import type { Domain } from '../domain/domain.ts';
import type { Principal } from '../domain/principal.ts';
import type { PrincipalWatch } from '../domain/principal-watch.ts';
import { bearerToken } from '../domain/tokens.ts';
import { graphContext, type GraphContext } from '../graph/context.ts';
import { isServiceUnavailable } from '../domain/errors.ts';
import {
  maskYogaError,
  SERVICE_UNAVAILABLE_MESSAGE,
  UNEXPECTED_ERROR_MESSAGE,
  useErrorPolicy,
  withoutSuggestions,
  withValidationCode,
} from '../graph/error-policy.ts';
import { HttpError } from '../http/http-error.ts';
import { INPUT_LIMITS } from '../input-limits.ts';
import { DEFAULT_QUERY_LIMITS, parseWithinLimits, queryLimitRules, type QueryLimits } from '../graph/query-limits.ts';
import type { Logger } from '../logger.ts';
import { DEFAULT_BODY_LIMIT, readBody } from '../http/body.ts';
import { operationResolutionError, type GraphqlExecutor } from '../graph/executor.ts';
import type { Graphiql } from './graphiql.ts';
import { GraphqlFastPath, refusalStatus, type YogaFallback } from './graphql-fast-path.ts';
import type { RequestContext, Route } from './http-server.ts';

export type GraphqlYoga = YogaServerInstance<GraphContext, GraphContext>;

export interface GraphqlHttpOptions {
  readonly schema: GraphQLSchema;
  readonly domain: Domain;
  readonly log: Logger;
  /** GraphiQL at `GET /graphql` for browsers (outside production); none when undefined. */
  readonly graphiql: Graphiql | undefined;
  readonly limits?: QueryLimits;
  /** NODE_ENV=production: validation errors carry no "Did you mean" suggestions, on Yoga's paths too. */
  readonly production?: boolean;
  readonly bodyLimit?: number;
  /** Larger limit for multipart requests that carry files. */
  readonly uploadLimit?: number;
  /** Ends SSE streams whose credential dies (as graphql-ws closes its sockets). */
  readonly watch?: PrincipalWatch;
}

/**
 * Parser token limit, the depth and alias rules, and a `status` on validation errors, for every
 * document Yoga sees (HTTP and WebSocket).
 */
function useDocumentPolicy(limits: QueryLimits, production: boolean): Plugin<GraphContext> {
  const rules = queryLimitRules(limits);
  return {
    onParse({ setParseFn }) {
      setParseFn((source, options) => parseWithinLimits(source, limits, options));
    },
    onValidate({ addValidationRule }) {
      for (const rule of rules) addValidationRule(rule);
      return ({ result, setResult }) => {
        for (const error of result) withValidationCode(error);
        if (production && result.length > 0) setResult(result.map((error: Error) => (error instanceof GraphQLError ? withoutSuggestions(error) : error)));
      };
    },
  };
}

/**
 * What Yoga still serves (SSE, multipart uploads, forms …) executes on the shared executor too:
 * compiled operations, the error policy (which Yoga's own policy plugin then finds already
 * applied) and the one record hook.
 */
function useSharedExecutor(executor: GraphqlExecutor): Plugin<GraphContext> {
  const operationOf = (args: ExecutionArgs) => executor.operation(executor.adopt(args.document), args.operationName);
  return {
    onExecute({ setExecuteFn }) {
      setExecuteFn((args) => {
        const operation = operationOf(args);
        if (!operation) return { errors: [operationResolutionError()] };
        const result = executor.execute(operation, args.contextValue as GraphContext, args.variableValues, 'graphql-http');
        return result instanceof Promise ? result.then(withHttpStatus) : withHttpStatus(result);
      });
    },
    onSubscribe({ setSubscribeFn }) {
      setSubscribeFn((args) => {
        const operation = operationOf(args);
        if (!operation) return { errors: [operationResolutionError()] };
        return executor.subscribe(operation, args.contextValue as GraphContext, args.variableValues, 'graphql-http');
      });
    },
  };
}

/**
 * An operation refused as a whole (a limit, a store that is away) gets the status and
 * `Retry-After` the fast path gives it: Yoga reads them from `extensions.http`, and leaves that
 * out of the body.
 */
function withHttpStatus(result: ExecutionResult): ExecutionResult {
  if (result.data !== undefined && result.data !== null) return result;
  const refusal = refusalStatus(result);
  if (!refusal) return result;
  return {
    ...result,
    errors: result.errors!.map(
      (error) => new GraphQLError(error.message, { nodes: error.nodes, path: error.path, extensions: { ...error.extensions, http: refusal } }),
    ),
  };
}

/** Yoga with the gateway's limits and error policy; with `executor`, it executes on the shared one. */
export function createGraphqlYoga(options: GraphqlHttpOptions, executor?: GraphqlExecutor): GraphqlYoga {
  return createYoga<GraphContext, GraphContext>({
    schema: options.schema,
    graphqlEndpoint: '/graphql',
    landingPage: false,
    graphiql: options.graphiql ? { title: 'Identity gateway' } : false,
    ...(options.graphiql && { renderGraphiQL: options.graphiql.renderPage.bind(options.graphiql) }),
    batching: false,
    logging: {
      debug: (...args) => options.log.debug({ yoga: args.map(String) }, 'graphql-yoga'),
      info: (...args) => options.log.info({ yoga: args.map(String) }, 'graphql-yoga'),
      warn: (...args) => options.log.warn({ yoga: args.map(String) }, 'graphql-yoga'),
      error: (...args) => options.log.error({ yoga: args.map(String) }, 'graphql-yoga'),
    },
    // The error policy plugin shapes execution errors; maskYogaError handles the rest.
    maskedErrors: { maskError: maskYogaError },
    plugins: [useDocumentPolicy(options.limits ?? DEFAULT_QUERY_LIMITS, options.production ?? false), useErrorPolicy(), ...(executor ? [useSharedExecutor(executor)] : [])],
  });
}

/**
 * `/graphql` over HTTP. The common requests (a JSON POST or a GET, for a single JSON result) take
 * the fast path on node:http and the shared executor; the rest go to Yoga as fetch Requests, with
 * the body read under the same size limits.
 */
export function graphqlRoute(yoga: GraphqlYoga, executor: GraphqlExecutor, options: GraphqlHttpOptions): Route {
  const bodyLimit = options.bodyLimit ?? DEFAULT_BODY_LIMIT;
  const uploadLimit = options.uploadLimit ?? INPUT_LIMITS.uploadBytes;
  const viaYoga: YogaFallback = async (req, res, context, given) => {
    const method = req.method ?? 'GET';
    const hasBody = method !== 'GET' && method !== 'HEAD';
    const multipart = /^multipart\/form-data/i.test(req.headers['content-type'] ?? '');
    const body = given ?? (hasBody ? await readBody(req, multipart ? uploadLimit : bodyLimit) : undefined);
    const token = bearerToken(req.headers.authorization);
    const resolvedAt = options.domain.auth.epoch;
    const principal = await options.domain.auth.resolve(token);
    const abort = new AbortController();
    res.once('close', () => abort.abort());
    if (options.watch && token && principal.kind !== 'guest' && /text\/event-stream/i.test(req.headers.accept ?? '')) {
      watchStream(options, token, principal, resolvedAt, res);
    }
    const request = new Request(`http://${req.headers.host ?? 'localhost'}${req.url ?? '/graphql'}`, {
      method,
      headers: headersOf(req),
      body: body && body.length > 0 ? (body as Uint8Array<ArrayBuffer>) : hasBody ? '' : undefined,
      signal: abort.signal,
    });
    const serverContext = graphContext({
      principal,
      domain: options.domain,
      requestId: context.requestId,
      log: context,
      client: context.client,
    });
    const response = await yoga.fetch(request, serverContext);
    res.statusCode = response.status;
    response.headers.forEach((value, name) => res.setHeader(name, value));
    if (!response.body) {
      res.end();
      return;
    }
    await streamBody(response.body, res);
  };
  const fast = new GraphqlFastPath({ executor, domain: options.domain, bodyLimit, fallback: viaYoga });
  return {
    name: 'graphql',
    fail(_req, res, error) {
      if (res.headersSent || error instanceof HttpError) return false;
      // Credentials are resolved before execution: a store that is away is still a GraphQL answer.
      const unavailable = isServiceUnavailable(error);
      const payload = JSON.stringify({
        errors: [
          unavailable
            ? { message: SERVICE_UNAVAILABLE_MESSAGE, extensions: { code: 'SERVICE_UNAVAILABLE', status: 503 } }
            : { message: UNEXPECTED_ERROR_MESSAGE, extensions: { code: 'INTERNAL_SERVER_ERROR', status: 500 } },
        ],
      });
      res.writeHead(unavailable ? 503 : 500, {
        'content-type': 'application/json; charset=utf-8',
        'content-length': Buffer.byteLength(payload),
        ...(unavailable ? { 'retry-after': '1' } : {}),
      });
      res.end(payload);
      return true;
    },
    protocolError(status, message) {
      return { contentType: 'application/json; charset=utf-8', body: JSON.stringify({ errors: [{ message, extensions: { code: 'BAD_REQUEST', status } }] }) };
    },
    handle(req: IncomingMessage, res: ServerResponse, context: RequestContext) {
      const mediaType = fast.mediaTypeFor(req);
      return mediaType ? fast.handle(req, res, context, mediaType) : viaYoga(req, res, context, undefined);
    },
  };
}

/** An SSE stream (a subscription) ends when the credential it was opened with stops being valid. */
function watchStream(options: GraphqlHttpOptions, token: string, principal: Principal, resolvedAt: number, res: ServerResponse): void {
  const stop = options.watch!.watch(
    principal,
    () => {
      options.domain.auth.resolveDetailed(token).then(
        ({ principal: now }) => {
          if (now.kind !== 'guest') return;
          stop();
          res.destroy();
        },
        (err: unknown) => options.log.warn({ err }, 'could not re-authenticate an SSE stream'),
      );
    },
    resolvedAt,
  );
  res.once('close', stop);
}

/** Copies a fetch body to the response, honouring back-pressure; stops when the client goes away. */
async function streamBody(body: ReadableStream<Uint8Array>, res: ServerResponse): Promise<void> {
  const reader = body.getReader();
  const cancel = () => void reader.cancel().catch(() => {});
  res.once('close', cancel);
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (!res.write(value)) await once(res, 'drain');
    }
    res.end();
  } catch {
    // The client went away mid-stream (an SSE subscription, most often); nothing to answer.
    res.destroy();
  } finally {
    res.off('close', cancel);
  }
}

function headersOf(req: IncomingMessage): Headers {
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined) continue;
    if (Array.isArray(value)) for (const item of value) headers.append(name, item);
    else headers.set(name, value);
  }
  return headers;
}
