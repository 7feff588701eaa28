import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Domain } from '../domain/domain.ts';
import { bearerToken } from '../domain/tokens.ts';
import { readBody } from '../http/body.ts';
import { HttpError } from '../http/http-error.ts';
import { collapseSlashes, pathOf } from '../http/url-path.ts';
import type { Principal } from '../domain/principal.ts';
import type { ClientInfo } from '../domain/client-info.ts';
import type { Logger } from '../logger.ts';
import type { Call, Dispatcher } from './dispatcher.ts';
import { BUILTIN_METHODS, isRpcEnvelope, rpcRequestOf } from './json-rpc.ts';
import { isServiceUnavailable } from '../domain/errors.ts';
import { INPUT_LIMITS, jsonDepthExceeds } from '../input-limits.ts';
import { envelope, failure, httpStatusOf, INTERNAL_ERROR, ok, retryAfterHeader, RpcCode, SERVICE_UNAVAILABLE, type V1Result } from './result.ts';
import { receiveUpload, uploadArgs, UploadError } from './upload.ts';

export const V1_BODY_LIMIT = INPUT_LIMITS.v1BodyBytes;

/** What the server knows of a request before the facade sees it. */
export interface RequestInfo {
  readonly requestId: string;
  readonly client: ClientInfo;
  /** A logger bound to the request id (created on first use). */
  readonly log: Logger;
}

/** JSON is UTF-8: malformed bytes are a decoding error (-32807), not U+FFFD in someone's password. */
const UTF8 = new TextDecoder('utf-8', { fatal: true });

/** What a request path addresses: a method, the envelope endpoint (`/api/`), a built-in, or nothing. */
export type V1Target =
  | { readonly kind: 'method'; readonly id: string }
  | { readonly kind: 'envelope' }
  | { readonly kind: 'builtin'; readonly name: string }
  | { readonly kind: 'none' };

/**
 * Maps `/api/v1/x/y`, `/api//v1/x/y` (old browser uploads) and `/v1/x/y` to the method id
 * `/v1/x/y`. Dot segments never address a method.
 */
export function v1Target(pathname: string): V1Target {
  let path = collapseSlashes(pathname);
  if (path === '/api' || path.startsWith('/api/')) path = path.slice(4);
  if (path.length > 1 && path.endsWith('/')) path = path.slice(0, -1);
  if (path === '' || path === '/') return { kind: 'envelope' };
  if (BUILTIN_METHODS.has(path)) return { kind: 'builtin', name: path };
  if (!path.startsWith('/v') || (path.includes('/.') && path.split('/').some((segment) => segment === '.' || segment === '..'))) {
    return { kind: 'none' };
  }
  return { kind: 'method', id: path };
}

/** Everything under `/api/` and `/v1/` is answered by the facade, so every answer there is a JSON-RPC envelope. */
export function isV1Path(pathname: string): boolean {
  const path = collapseSlashes(pathname);
  return path === '/api' || path.startsWith('/api/') || path === '/v1' || path.startsWith('/v1/');
}

const CORS_HEADERS = {
  'access-control-allow-origin': '*',
  'access-control-allow-methods': 'GET, POST, OPTIONS',
  'access-control-allow-headers': 'Authorization, Content-Type, X-API-Void-Call, API-Call-Void',
  'access-control-max-age': '86400',
};

/**
 * v1 over HTTP: POST with a JSON array (or a JSON-RPC envelope, or multipart for uploads), GET
 * without a body; the answer is always a JSON-RPC 2.0 envelope with `Content-Type: application/json`,
 * and the status line never carries 204.
 */
export class V1HttpEndpoint {
  readonly name = 'api';
  readonly #dispatcher: Dispatcher;
  readonly #domain: Domain;
  readonly #bodyLimit: number;

  /**
   * What escaped `handle` (the server calls this): still an envelope, 503-class when a store is
   * away (credentials are resolved before the dispatcher runs), 500 otherwise.
   */
  fail(_req: IncomingMessage, res: ServerResponse, error: unknown): boolean {
    if (res.headersSent) return false;
    send(res, isServiceUnavailable(error) ? SERVICE_UNAVAILABLE : INTERNAL_ERROR);
    return true;
  }

  /** Malformed HTTP under `/api/` and `/v1/` (the server answers it): still an envelope. */
  protocolError(status: number, message: string): { contentType: string; body: string } {
    return { contentType: 'application/json; charset=utf-8', body: envelope(failure(status, message)) };
  }

  constructor(options: { dispatcher: Dispatcher; domain: Domain; bodyLimit?: number }) {
    this.#dispatcher = options.dispatcher;
    this.#domain = options.domain;
    this.#bodyLimit = options.bodyLimit ?? V1_BODY_LIMIT;
  }

  async handle(req: IncomingMessage, res: ServerResponse, context: RequestInfo): Promise<void> {
    const method = req.method ?? 'GET';
    if (method === 'OPTIONS') {
      res.writeHead(200, { ...CORS_HEADERS, 'content-length': '0' });
      res.end();
      return;
    }
    const target = v1Target(pathOf(req.url));
    // HEAD is refused too: it would run the method (sign out, say) without showing the answer.
    if (method !== 'GET' && method !== 'POST') {
      req.resume();
      return send(res, failure(RpcCode.httpMethodNotAllowed));
    }
    const contentType = (req.headers['content-type'] ?? '').toLowerCase();
    if (/^multipart\/form-data/.test(contentType)) return this.#upload(req, res, context, target);
    if (contentType !== '' && !/^application\/json\b/.test(contentType)) {
      req.resume();
      return send(res, failure(RpcCode.unsupportedContentType));
    }

    let args: unknown[] = [];
    let methodId = target.kind === 'method' ? target.id : target.kind === 'builtin' ? target.name : null;
    let id: string | number | null | undefined;
    let isVoid = voidHeader(req);
    if (method === 'POST') {
      let body: Buffer;
      try {
        body = await readBody(req, this.#bodyLimit);
      } catch (error) {
        if (!(error instanceof HttpError)) throw error;
        const result = error.status === 413 ? failure(413, 'Request body is too large') : failure(RpcCode.decodeError);
        return send(res, result, undefined, { connection: 'close' });
      }
      if (body.length > 0) {
        let parsed: unknown;
        try {
          parsed = JSON.parse(UTF8.decode(body));
        } catch {
          return send(res, failure(RpcCode.decodeError));
        }
        if (jsonDepthExceeds(parsed)) return send(res, failure(RpcCode.decodeError, `JSON is nested deeper than ${INPUT_LIMITS.jsonDepth} levels`));
        if (isRpcEnvelope(parsed)) {
          const rpc = rpcRequestOf(parsed);
          methodId = rpc.method ?? '';
          args = rpc.args;
          id = rpc.id;
          isVoid ||= rpc.notification;
        } else {
          args = Array.isArray(parsed) ? parsed : [parsed];
        }
      }
    }
    if (methodId === null || methodId === '') return send(res, failure(RpcCode.methodNotFound), id);
    const token = bearerToken(req.headers.authorization);
    const principal = this.#domain.auth.cached(token) ?? (await this.#domain.auth.resolve(token));
    let result: V1Result;
    if (BUILTIN_METHODS.has(methodId)) {
      // Events are WebSocket business; over HTTP they are accepted and dropped, as the original server did.
      result = ok();
    } else {
      result = await this.#dispatcher.call(normalizeMethodId(methodId), args, new HttpCall(principal, context, false));
    }
    send(res, isVoid ? ok() : result, id);
  }

  async #upload(req: IncomingMessage, res: ServerResponse, context: RequestInfo, target: V1Target): Promise<void> {
    const compiled = target.kind === 'method' ? this.#dispatcher.lookup(target.id) : undefined;
    const principal = await this.#domain.auth.resolve(bearerToken(req.headers.authorization));
    const call = new HttpCall(principal, context, true);
    // Unknown method, permission or "not an upload method" are answered before reading the body.
    if (!compiled?.method.upload) {
      req.resume();
      const result = await this.#dispatcher.call(target.kind === 'method' ? target.id : '', [], call);
      return send(res, result, undefined, { connection: 'close' });
    }
    let received;
    try {
      received = await receiveUpload(req, compiled.method.upload.maxBytes);
    } catch (error) {
      if (error instanceof UploadError) return send(res, failure(error.code), undefined, { connection: 'close' });
      throw error;
    }
    try {
      const result = await this.#dispatcher.call(compiled.method.id, uploadArgs(received.parts, compiled.method.params), call);
      send(res, result);
    } finally {
      await received.cleanup();
    }
  }
}

/** The call description; the request logger is only created if something logs. */
class HttpCall implements Call {
  readonly transport = 'http' as const;
  readonly principal: Principal;
  readonly upload: boolean;
  readonly #request: RequestInfo;

  constructor(principal: Principal, request: RequestInfo, upload: boolean) {
    this.principal = principal;
    this.upload = upload;
    this.#request = request;
  }

  get client(): ClientInfo {
    return this.#request.client;
  }

  get requestId(): string {
    return this.#request.requestId;
  }

  get log(): Logger {
    return this.#request.log;
  }
}

function normalizeMethodId(id: string): string {
  const collapsed = collapseSlashes(id);
  return collapsed.startsWith('/') ? collapsed : `/v1/${collapsed}`;
}

function voidHeader(req: IncomingMessage): boolean {
  const value = req.headers['x-api-void-call'] ?? req.headers['api-call-void'];
  return value === 'true' || value === '1';
}

function send(res: ServerResponse, result: V1Result, id?: string | number | null, headers: Record<string, string> = {}): void {
  const body = envelope(result, id);
  res.writeHead(result.httpStatus ?? httpStatusOf(result.status), {
    ...headers,
    ...retryAfterHeader(result),
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'access-control-allow-origin': '*',
  });
  res.end(body);
}
