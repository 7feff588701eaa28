import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createServer, ServerResponse, type IncomingMessage, type OutgoingHttpHeader, type OutgoingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ClientInfo } from '../domain/client-info.ts';
import { clientAddress } from '../http/client-address.ts';
import { TRUST_NOBODY, type TrustProxy } from '../trust-proxy.ts';
import type { Logger } from '../logger.ts';
import { HttpError } from '../http/http-error.ts';
import { pathOf } from '../http/url-path.ts';
import { ConnectionsPerAddress } from '../input-limits.ts';
import type { Metrics } from './metrics.ts';

/** Per-request facts every handler gets: its id (logged on every line) and who is calling. */
export class RequestContext {
  readonly requestId: string;
  readonly client: ClientInfo;
  readonly #baseLog: Logger;
  #log: Logger | undefined;

  constructor(requestId: string, client: ClientInfo, log: Logger) {
    this.requestId = requestId;
    this.client = client;
    this.#baseLog = log;
  }

  /** A logger bound to the request id, created on first use. */
  get log(): Logger {
    this.#log ??= this.#baseLog.child({ reqId: this.requestId });
    return this.#log;
  }
}

/**
 * A response that carries what its request's accounting needs, so that one listener shared by all
 * responses does the accounting on 'close' (no closure per request).
 */
class GatewayResponse extends ServerResponse<IncomingMessage> {
  context: RequestContext | undefined = undefined;
  started = 0;
  routeName = '';
  path = '';

  /**
   * Adds `x-request-id` to the head. Given with the other headers of `writeHead`, it keeps Node on
   * its fast path, which a header set earlier with `setHeader` would leave.
   */
  override writeHead(
    statusCode: number,
    messageOrHeaders?: string | OutgoingHttpHeaders | OutgoingHttpHeader[],
    headers?: OutgoingHttpHeaders | OutgoingHttpHeader[],
  ): this {
    const requestId = this.context?.requestId;
    if (requestId === undefined || this.headersSent) return super.writeHead(statusCode, messageOrHeaders as string, headers);
    const given = typeof messageOrHeaders === 'string' ? headers : messageOrHeaders;
    if (given !== undefined && !Array.isArray(given)) {
      const withId = { ...given, 'x-request-id': requestId };
      return typeof messageOrHeaders === 'string' ? super.writeHead(statusCode, messageOrHeaders, withId) : super.writeHead(statusCode, withId);
    }
    if (!this.hasHeader('x-request-id')) this.setHeader('x-request-id', requestId);
    return super.writeHead(statusCode, messageOrHeaders as string, headers);
  }
}

export interface Route {
  /** The `route` label of the request metrics. */
  readonly name: string;
  handle(req: IncomingMessage, res: ServerResponse, context: RequestContext): Promise<void> | void;
  /**
   * Answers what escaped `handle` in the route's own protocol (a JSON-RPC envelope, a GraphQL
   * error); true when it answered. Errors are logged by the server either way.
   */
  fail?(req: IncomingMessage, res: ServerResponse, error: unknown, context: RequestContext): boolean;
  /**
   * The body of a refusal made before any request exists (malformed HTTP whose request line still
   * named this route's path), in the route's own protocol.
   */
  protocolError?(status: number, message: string): { contentType: string; body: string };
}

export interface UpgradeRoute {
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, context: RequestContext): void;
}

export interface HttpServerOptions {
  readonly log: Logger;
  readonly metrics: Metrics;
  readonly route: (path: string) => Route | undefined;
  readonly upgradeRoute: (path: string) => UpgradeRoute | undefined;
  /** Proxies allowed to name the client in forwarding headers (default: none). */
  readonly trustProxy?: TrustProxy;
}

const REQUEST_ID = /^[\w.:-]{1,64}$/;
const REQUEST_LINE = /^[A-Z]{1,16} (\/[^ \r\n]{0,8192}) HTTP\/1\.[01]\r?\n/;

/** The path of the request line at the start of a packet the HTTP parser refused, when there is one. */
function requestPathOf(packet: unknown): string | undefined {
  if (!Buffer.isBuffer(packet)) return undefined;
  const line = REQUEST_LINE.exec(packet.subarray(0, 8300).toString('latin1'));
  return line ? pathOf(line[1]) : undefined;
}

/** Unique per process start; request ids are this prefix and a counter, cheaper than a UUID per request. */
const ID_PREFIX = randomBytes(6).toString('base64url');
let lastId = 0;

/** The caller's `x-request-id` when it is a sane token, otherwise a new id unique across nodes and restarts. */
export function requestIdOf(req: IncomingMessage): string {
  const given = req.headers['x-request-id'];
  return typeof given === 'string' && REQUEST_ID.test(given) ? given : `${ID_PREFIX}-${(++lastId).toString(36)}`;
}

/** The caller: its address (behind trusted proxies, the one they forwarded for) and user agent. */
export function clientOf(req: IncomingMessage, trust: TrustProxy): ClientInfo {
  return { address: clientAddress(req.socket.remoteAddress, req.headers, trust), userAgent: req.headers['user-agent'] ?? null };
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const payload = JSON.stringify(body);
  res.writeHead(status, {
    ...headers,
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(payload),
  });
  res.end(payload);
}

/**
 * The one node:http server of a gateway: request ids, routing, metrics, error answers that never
 * leak internals, WebSocket upgrades dispatched by path, and a graceful close.
 */
export class GatewayHttpServer {
  readonly server: Server<typeof IncomingMessage, typeof GatewayResponse>;
  readonly #options: HttpServerOptions;
  readonly #trust: TrustProxy;
  readonly #closed: (this: GatewayResponse) => void;
  #inFlight = 0;
  #closing = false;
  readonly #websocketsPerAddress = new ConnectionsPerAddress();

  constructor(options: HttpServerOptions) {
    this.#options = options;
    this.#trust = options.trustProxy ?? TRUST_NOBODY;
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- the shared listener's `this` is the response
    const gateway = this;
    this.#closed = function (this: GatewayResponse) {
      gateway.#finished(this);
    };
    this.server = createServer(
      { requestTimeout: 60_000, headersTimeout: 15_000, keepAliveTimeout: 5_000, ServerResponse: GatewayResponse },
      (req, res) => {
        void this.#handle(req, res as GatewayResponse);
      },
    );
    this.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => this.#upgrade(req, socket, head));
    this.server.on('clientError', (error: NodeJS.ErrnoException, socket: Duplex) => {
      if (!socket.writable || error.code === 'ECONNRESET') {
        socket.destroy();
        return;
      }
      const status = error.code === 'HPE_HEADER_OVERFLOW' ? 431 : 400;
      const message = status === 431 ? 'Request headers are too large' : 'Malformed HTTP request';
      const path = requestPathOf((error as { rawPacket?: unknown }).rawPacket);
      const answer = (path !== undefined && this.#options.route(path)?.protocolError?.(status, message)) || {
        contentType: 'application/json; charset=utf-8',
        body: JSON.stringify({ error: message }),
      };
      socket.end(
        `HTTP/1.1 ${status} ${status === 431 ? 'Request Header Fields Too Large' : 'Bad Request'}\r\n` +
          `content-type: ${answer.contentType}\r\ncontent-length: ${Buffer.byteLength(answer.body)}\r\nconnection: close\r\n\r\n${answer.body}`,
      );
    });
  }

  get closing(): boolean {
    return this.#closing;
  }

  async listen(port: number, host: string): Promise<AddressInfo> {
    this.server.listen(port, host);
    await once(this.server, 'listening');
    return this.server.address() as AddressInfo;
  }

  /**
   * Stops accepting connections, lets in-flight requests finish (closing idle keep-alive sockets
   * as they free up) and destroys whatever is still open when the deadline passes.
   */
  async close(deadline: number): Promise<void> {
    this.#closing = true;
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeIdleConnections();
    while (this.#inFlight > 0 && Date.now() < deadline) {
      await sleep(20);
      this.server.closeIdleConnections();
    }
    this.server.closeAllConnections();
    await closed;
  }

  async #handle(req: IncomingMessage, res: GatewayResponse): Promise<void> {
    res.started = performance.now();
    const context = new RequestContext(requestIdOf(req), clientOf(req, this.#trust), this.#options.log);
    const path = pathOf(req.url);
    const route = this.#options.route(path);
    res.context = context;
    res.path = path;
    res.routeName = route?.name ?? 'not_found';
    this.#inFlight++;
    if (this.#closing) res.setHeader('connection', 'close');
    res.on('close', this.#closed);
    try {
      if (!route) throw new HttpError(404, 'Not found');
      await route.handle(req, res, context);
    } catch (error) {
      if (route?.fail) {
        if (!(error instanceof HttpError)) context.log.error({ err: error }, 'request failed');
        if (route.fail(req, res, error, context)) return;
      }
      this.#fail(res, context, error);
    }
  }

  /** Accounts for a response once its connection is done with it (sent, or abandoned by the client). */
  #finished(res: GatewayResponse): void {
    this.#inFlight--;
    const seconds = (performance.now() - res.started) / 1000;
    const method = res.req.method ?? 'UNKNOWN';
    this.#options.metrics.observeRequest(res.routeName, method, res.statusCode, seconds);
    // The base logger decides, so requests that log nothing never create a child logger.
    if (res.context && this.#options.log.isLevelEnabled('debug')) {
      res.context.log.debug(
        { method, path: res.path, status: res.statusCode, client: res.context.client.address, ms: Math.round(seconds * 1e4) / 10 },
        'request finished',
      );
    }
  }

  #fail(res: ServerResponse, context: RequestContext, error: unknown): void {
    if (!(error instanceof HttpError)) context.log.error({ err: error }, 'request failed');
    if (res.headersSent) {
      res.destroy();
      return;
    }
    const status = error instanceof HttpError ? error.status : 500;
    const message = error instanceof HttpError ? error.message : 'Internal server error';
    sendJson(res, status, { error: message, requestId: context.requestId }, error instanceof HttpError ? { ...error.headers } : {});
  }

  #upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const context = new RequestContext(requestIdOf(req), clientOf(req, this.#trust), this.#options.log);
    const route = this.#closing ? undefined : this.#options.upgradeRoute(pathOf(req.url));
    if (!route) {
      const status = this.#closing ? '503 Service Unavailable' : '404 Not Found';
      socket.end(`HTTP/1.1 ${status}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
      return;
    }
    const release = this.#websocketsPerAddress.enter(context.client.address);
    if (!release) {
      const body = JSON.stringify({ error: 'Too many WebSocket connections from this address' });
      socket.end(
        `HTTP/1.1 429 Too Many Requests\r\nretry-after: 10\r\ncontent-type: application/json; charset=utf-8\r\n` +
          `content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
      );
      return;
    }
    socket.once('close', release);
    try {
      route.handleUpgrade(req, socket, head, context);
    } catch (error) {
      context.log.error({ err: error, client: context.client.address }, 'WebSocket upgrade failed');
      socket.destroy();
    }
  }
}
