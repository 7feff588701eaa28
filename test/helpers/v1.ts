import { once } from 'node:events';
import http, { type IncomingHttpHeaders } from 'node:http';
import net, { type AddressInfo, type Socket } from 'node:net';
import WebSocket from 'ws';
import type { JsonSchema, ParamSpec, V1Method } from '../../src/rpc-facade/method.ts';
import { INPUT_LIMITS, MessageRate } from '../../src/input-limits.ts';

/**
 * Raw access to the v1 facade for tests: JSON-RPC calls over fetch, node:http and `ws` that check
 * every answer is a well-formed envelope, a recording proxy in front of a gateway, and values
 * derived from the method table's parameter schemas.
 */

export type Transport = 'http' | 'ws';
export const TRANSPORTS: readonly Transport[] = ['http', 'ws'];

export const V1_SUBPROTOCOL = 'jsonrpc_2.0';

export type Meta = Record<string, unknown>;

/** The JSON-RPC 2.0 answer of the facade. */
export interface Envelope {
  readonly jsonrpc?: string;
  readonly id?: string | number | null;
  readonly result?: { status: number; status_text: string; exception: boolean; data?: unknown; meta: Meta };
  readonly error?: { code: number; message: string; data: { exception: boolean; meta: Meta; data?: unknown } };
}

/** What a client makes of an envelope: the result's status or the error's code, and so on. */
export interface Outcome {
  readonly status: number;
  readonly statusText: string;
  readonly exception: boolean;
  readonly data?: unknown;
  readonly meta: Meta;
}

/** Codes that make the published clients throw when they arrive over HTTP (protocol.md §1.3). */
export const HTTP_HAZARD_CODES: readonly number[] = [-32811, -32812, -32813, -32815];

/** Throws unless `value` is a JSON-RPC 2.0 response the published clients accept. */
export function assertEnvelope(value: unknown, context = 'answer'): Envelope {
  const fail = (why: string): never => {
    throw new Error(`${context} is not a well-formed v1 envelope (${why}): ${JSON.stringify(value)?.slice(0, 500)}`);
  };
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return fail('not an object');
  const envelope = value as Envelope;
  if (envelope.jsonrpc !== '2.0') fail('jsonrpc is not "2.0"');
  if ((envelope.result === undefined) === (envelope.error === undefined)) fail('needs exactly one of result and error');
  if (envelope.result) {
    const { status, status_text: text, exception, meta } = envelope.result;
    if (typeof status !== 'number' || typeof text !== 'string' || typeof exception !== 'boolean') fail('result fields');
    if (typeof meta !== 'object' || meta === null || Array.isArray(meta)) fail('result.meta is not an object');
    if (status < 100 || status >= 400) fail(`a result carries the error status ${status}`);
  }
  if (envelope.error) {
    const { code, message, data } = envelope.error;
    if (typeof code !== 'number' || typeof message !== 'string' || message === '') fail('error code or message');
    if (typeof data !== 'object' || data === null) fail('error.data is missing');
    if (typeof data.exception !== 'boolean') fail('error.data.exception is not a boolean');
    if (typeof data.meta !== 'object' || data.meta === null || Array.isArray(data.meta)) fail('error.data.meta is not an object');
    if ('data' in data) fail('error.data.data is present');
  }
  return envelope;
}

export function outcomeOf(envelope: Envelope): Outcome {
  if (envelope.result) {
    const { status, status_text: statusText, exception, meta } = envelope.result;
    return 'data' in envelope.result ? { status, statusText, exception, meta, data: envelope.result.data } : { status, statusText, exception, meta };
  }
  const { code, message, data } = envelope.error!;
  return { status: code, statusText: message, exception: data.exception, meta: data.meta };
}

export interface HttpAnswer extends Outcome {
  readonly httpStatus: number;
  readonly contentType: string | null;
  readonly envelope: Envelope;
}

/** Throws unless an HTTP answer of the facade looks right on the wire: JSON, never 204/304/5xx, no client hazards. */
export function assertHttpAnswer(httpStatus: number, contentType: string | null | undefined, text: string, context: string): Envelope {
  if (!/^application\/json\b/i.test(contentType ?? '')) throw new Error(`${context}: Content-Type is ${contentType} (${text.slice(0, 200)})`);
  if ([204, 205, 304].includes(httpStatus) || httpStatus < 200 || httpStatus >= 500) {
    throw new Error(`${context}: HTTP status line ${httpStatus} (${text.slice(0, 200)})`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new Error(`${context}: body is not JSON: ${text.slice(0, 200)}`);
  }
  const envelope = assertEnvelope(parsed, context);
  if (envelope.error && HTTP_HAZARD_CODES.includes(envelope.error.code)) throw new Error(`${context}: ${envelope.error.code} sent over HTTP`);
  return envelope;
}

export interface HttpCallOptions {
  readonly token?: string | null;
  readonly headers?: Record<string, string>;
  /** Defaults to GET without a body when there are no arguments, POST otherwise, as the clients do. */
  readonly method?: string;
  /** A raw body instead of `JSON.stringify(args)`. */
  readonly body?: string | Blob | FormData;
  /** Path prefix of the method id (default `/api`). */
  readonly prefix?: string;
}

/** One v1 call over HTTP with fetch; the answer is checked to be a well-formed JSON envelope. */
export async function httpCall(
  base: { readonly url: string },
  method: string,
  args?: readonly unknown[],
  options: HttpCallOptions = {},
): Promise<HttpAnswer> {
  const httpMethod = options.method ?? (args && args.length > 0 ? 'POST' : 'GET');
  const headers: Record<string, string> = { ...options.headers };
  if (!(options.body instanceof FormData)) headers['content-type'] ??= 'application/json';
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  const body = options.body ?? (httpMethod === 'GET' || httpMethod === 'HEAD' ? undefined : JSON.stringify(args ?? []));
  const response = await fetch(`${base.url}${options.prefix ?? '/api'}${method}`, { method: httpMethod, headers, body });
  const text = await response.text();
  const contentType = response.headers.get('content-type');
  const envelope = assertHttpAnswer(response.status, contentType, text, `${httpMethod} ${method}`);
  return { ...outcomeOf(envelope), httpStatus: response.status, contentType, envelope };
}

export interface RawResponse {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly text: string;
}

/**
 * A request through node:http, which sends the path exactly as given (fetch would resolve `..`
 * and `.` segments) and any body bytes, with or without a Content-Length.
 */
export function rawRequest(
  port: number,
  request: { method?: string; path: string; headers?: Record<string, string | number>; body?: string | Buffer; chunked?: boolean },
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method: request.method ?? 'GET', path: request.path, headers: request.headers, agent: false });
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    // The server may answer (and close) before a large body is fully sent; the answer still counts.
    req.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code !== 'EPIPE' && error.code !== 'ECONNRESET') reject(error);
    });
    if (request.body !== undefined && !request.chunked && request.headers?.['content-length'] === undefined) {
      req.setHeader('content-length', Buffer.byteLength(request.body));
    }
    req.end(request.body);
  });
}

/** A node:http answer of the facade, checked like `httpCall` checks its answers. */
export async function rawCall(
  port: number,
  request: Parameters<typeof rawRequest>[1],
): Promise<RawResponse & Outcome & { envelope: Envelope }> {
  const response = await rawRequest(port, request);
  const envelope = assertHttpAnswer(response.status, response.headers['content-type'], response.text, `${request.method ?? 'GET'} ${request.path}`);
  return { ...response, ...outcomeOf(envelope), envelope };
}

export function apiUrl(base: { readonly url: string }, transport: Transport): string {
  return `${transport === 'ws' ? base.url.replace(/^http/, 'ws') : base.url}/api/`;
}

export interface Closed {
  readonly code: number;
  readonly reason: string;
}

/**
 * A WebSocket client that speaks v1 by hand: the token is the second subprotocol, every frame
 * received is kept (parsed when it is JSON), pings are counted, and calls are matched by id.
 */
export class RawWs {
  readonly ws: WebSocket;
  /** Every text frame, parsed; binary frames as `{ binary: <length> }`, unparsable text as `{ text }`. */
  readonly frames: unknown[] = [];
  readonly closed: Promise<Closed>;
  pings = 0;
  #nextId = 1;
  #pace: MessageRate | undefined;
  #listeners = new Set<() => void>();

  private constructor(ws: WebSocket) {
    this.ws = ws;
    this.closed = new Promise((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
    ws.on('message', (data, isBinary) => {
      const buffer = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as ArrayBuffer);
      if (isBinary) this.frames.push({ binary: buffer.length });
      else {
        const text = buffer.toString('utf8');
        try {
          this.frames.push(JSON.parse(text));
        } catch {
          this.frames.push({ text });
        }
      }
      for (const listener of [...this.#listeners]) listener();
    });
    ws.on('ping', () => this.pings++);
    ws.on('error', () => {});
  }

  /**
   * Opens a connection and waits until it is open; rejects if the upgrade fails. Calls keep under
   * the server's message rate (with a margin), as a well-behaved client does, unless `paced` is
   * false: tests of the rate itself send as fast as they can.
   */
  static async open(url: string, token?: string | null, options: { autoPong?: boolean; protocols?: string[]; paced?: boolean } = {}): Promise<RawWs> {
    const protocols = options.protocols ?? (token ? [V1_SUBPROTOCOL, token] : [V1_SUBPROTOCOL]);
    const ws = new WebSocket(url, protocols, { autoPong: options.autoPong ?? true });
    const client = new RawWs(ws);
    if (options.paced ?? true) client.#pace = new MessageRate(INPUT_LIMITS.wsMessagesPerSecond * 0.9, INPUT_LIMITS.wsMessageBurst - 10);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
      ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade answered ${res.statusCode}`)));
    });
    return client;
  }

  get protocol(): string {
    return this.ws.protocol;
  }

  get isOpen(): boolean {
    return this.ws.readyState === WebSocket.OPEN;
  }

  /** A call with an id; resolves with its answer (checked to be a well-formed envelope). */
  async call(method: string, params: unknown = [], timeoutMs = 10_000): Promise<Outcome & { envelope: Envelope }> {
    if (this.#pace) while (!this.#pace.take()) await new Promise((resolve) => setTimeout(resolve, this.#pace!.retryAfterMs));
    const id = this.#nextId++;
    this.ws.send(JSON.stringify({ jsonrpc: '2.0', method, params, id }));
    const frame = await this.next((candidate) => (candidate as Envelope).id === id && !('method' in (candidate as object)), timeoutMs);
    const envelope = assertEnvelope(frame, `WS answer to ${method}`);
    return { ...outcomeOf(envelope), envelope };
  }

  /** A void call (no id): the server must not answer it. */
  notify(method: string, params: unknown = []): void {
    this.#pace?.take();
    this.ws.send(JSON.stringify({ jsonrpc: '2.0', method, params }));
  }

  /** Subscribes to event names and waits until the server has read the subscription. */
  async subscribe(...names: string[]): Promise<void> {
    this.notify('/subscribe', [names]);
    await this.call('/v1/test/test');
  }

  send(data: string | Buffer, options: { binary?: boolean } = {}): void {
    this.#pace?.take();
    this.ws.send(data, { binary: options.binary ?? false });
  }

  /** The first frame (already received or still to come) matching `predicate`. */
  next(predicate: (frame: unknown) => boolean, timeoutMs = 10_000): Promise<unknown> {
    const found = this.frames.find(predicate);
    if (found !== undefined) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#listeners.delete(check);
        reject(new Error(`no matching frame within ${timeoutMs} ms; frames: ${JSON.stringify(this.frames).slice(0, 500)}`));
      }, timeoutMs);
      const check = () => {
        const frame = this.frames.find(predicate);
        if (frame === undefined) return;
        clearTimeout(timer);
        this.#listeners.delete(check);
        resolve(frame);
      };
      this.#listeners.add(check);
      void this.closed.then(() => {
        if (!this.#listeners.has(check)) return;
        clearTimeout(timer);
        this.#listeners.delete(check);
        reject(new Error(`connection closed before a matching frame; frames: ${JSON.stringify(this.frames).slice(0, 500)}`));
      });
    });
  }

  /** The `/publish` frames received: `[name, ...args]` each. */
  publishes(): unknown[][] {
    return this.frames
      .filter((frame) => (frame as { method?: unknown }).method === '/publish')
      .map((frame) => (frame as { params: unknown[] }).params);
  }

  async close(): Promise<void> {
    if (this.ws.readyState === WebSocket.CLOSED) return;
    this.ws.close(1000);
    const timer = setTimeout(() => this.ws.terminate(), 2000);
    await this.closed;
    clearTimeout(timer);
  }
}

/** One WebSocket frame seen by the recording proxy. */
export interface WsFrame {
  readonly opcode: number;
  /** The payload as text for text frames (opcode 1). */
  readonly text?: string;
  readonly length: number;
}

/** Splits a byte stream into WebSocket frames (unmasking client frames); enough for uncompressed traffic. */
class WsFrameReader {
  #buffer = Buffer.alloc(0);
  readonly #frames: WsFrame[];

  constructor(frames: WsFrame[]) {
    this.#frames = frames;
  }

  push(chunk: Buffer): void {
    this.#buffer = Buffer.concat([this.#buffer, chunk]);
    for (;;) {
      const buffer = this.#buffer;
      if (buffer.length < 2) return;
      const opcode = buffer[0]! & 0x0f;
      const masked = (buffer[1]! & 0x80) !== 0;
      let length = buffer[1]! & 0x7f;
      let offset = 2;
      if (length === 126) {
        if (buffer.length < 4) return;
        length = buffer.readUInt16BE(2);
        offset = 4;
      } else if (length === 127) {
        if (buffer.length < 10) return;
        length = Number(buffer.readBigUInt64BE(2));
        offset = 10;
      }
      const maskOffset = offset;
      if (masked) offset += 4;
      if (buffer.length < offset + length) return;
      const payload = Buffer.from(buffer.subarray(offset, offset + length));
      if (masked) for (let i = 0; i < payload.length; i++) payload[i]! ^= buffer[maskOffset + (i % 4)]!;
      this.#frames.push(opcode === 1 ? { opcode, text: payload.toString('utf8'), length } : { opcode, length });
      this.#buffer = buffer.subarray(offset + length);
    }
  }
}

export interface RecordedRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
  status?: number;
  responseHeaders?: IncomingHttpHeaders;
  responseBody?: string;
}

export interface RecordedUpgrade {
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  /** The head of the server's answer (`HTTP/1.1 101 …` and its headers). */
  response: string;
  readonly clientFrames: WsFrame[];
  readonly serverFrames: WsFrame[];
}

/**
 * An HTTP proxy in front of a gateway that records what clients send and what they get back:
 * HTTP requests with their bodies and answers, and WebSocket upgrades with every frame both ways.
 */
export class RecordingProxy {
  readonly requests: RecordedRequest[] = [];
  readonly upgrades: RecordedUpgrade[] = [];
  readonly #targetPort: number;
  readonly #sockets = new Set<Socket>();
  #server: http.Server | undefined;
  #port = 0;

  constructor(targetPort: number) {
    this.#targetPort = targetPort;
  }

  get url(): string {
    return `http://127.0.0.1:${this.#port}`;
  }

  async start(): Promise<void> {
    const server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const record: RecordedRequest = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks) };
        this.requests.push(record);
        const upstream = http.request(
          { host: '127.0.0.1', port: this.#targetPort, method: req.method, path: req.url, headers: req.headers },
          (answer) => {
            const parts: Buffer[] = [];
            answer.on('data', (chunk: Buffer) => parts.push(chunk));
            answer.on('end', () => {
              const body = Buffer.concat(parts);
              record.status = answer.statusCode;
              record.responseHeaders = answer.headers;
              record.responseBody = body.toString('utf8');
              const headers = { ...answer.headers };
              delete headers['transfer-encoding'];
              headers['content-length'] = String(body.length);
              res.writeHead(answer.statusCode ?? 502, headers);
              res.end(body);
            });
          },
        );
        upstream.on('error', () => res.destroy());
        upstream.end(record.body);
      });
    });
    server.on('connection', (socket: Socket) => this.#track(socket));
    server.on('upgrade', (req: http.IncomingMessage, client: Socket, head: Buffer) => {
      const record: RecordedUpgrade = { url: req.url ?? '', headers: req.headers, response: '', clientFrames: [], serverFrames: [] };
      this.upgrades.push(record);
      const upstream = net.connect(this.#targetPort, '127.0.0.1');
      this.#track(upstream);
      const lines = [`${req.method} ${req.url} HTTP/1.1`];
      for (let i = 0; i < req.rawHeaders.length; i += 2) lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`);
      upstream.write(`${lines.join('\r\n')}\r\n\r\n`);
      if (head.length > 0) upstream.write(head);
      const fromClient = new WsFrameReader(record.clientFrames);
      const fromServer = new WsFrameReader(record.serverFrames);
      let responseHead = Buffer.alloc(0);
      let headDone = false;
      upstream.on('data', (chunk: Buffer) => {
        if (headDone) fromServer.push(chunk);
        else {
          responseHead = Buffer.concat([responseHead, chunk]);
          const end = responseHead.indexOf('\r\n\r\n');
          if (end !== -1) {
            headDone = true;
            record.response = responseHead.subarray(0, end).toString('latin1');
            fromServer.push(responseHead.subarray(end + 4));
          }
        }
        client.write(chunk);
      });
      client.on('data', (chunk: Buffer) => {
        fromClient.push(chunk);
        upstream.write(chunk);
      });
      // One side ending ends the other once what it sent is delivered; an error cuts both.
      upstream.on('end', () => client.end());
      client.on('end', () => upstream.end());
      const cut = () => {
        client.destroy();
        upstream.destroy();
      };
      for (const socket of [client, upstream]) socket.on('error', cut);
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    this.#port = (server.address() as AddressInfo).port;
    this.#server = server;
  }

  /** The JSON frames a client sent on `upgrade`, parsed. */
  static clientMessages(upgrade: RecordedUpgrade): unknown[] {
    return upgrade.clientFrames.filter((frame) => frame.opcode === 1).map((frame) => JSON.parse(frame.text!));
  }

  static serverMessages(upgrade: RecordedUpgrade): unknown[] {
    return upgrade.serverFrames.filter((frame) => frame.opcode === 1).map((frame) => JSON.parse(frame.text!));
  }

  async close(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    for (const socket of this.#sockets) socket.destroy();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  #track(socket: Socket): void {
    this.#sockets.add(socket);
    socket.on('close', () => this.#sockets.delete(socket));
  }
}

/** The subprotocols of an upgrade request, split as the server splits them. */
export function offeredProtocols(headers: IncomingHttpHeaders): string[] {
  return (headers['sec-websocket-protocol'] ?? '').split(/\s*,\s*/).filter(Boolean);
}

/** Runs `work` over `items` with at most `limit` running at once; results in input order. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, work: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index]!, index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

// ---- values derived from the parameter schemas of the method table ----

function typesOf(schema: JsonSchema): string[] {
  const type = schema.type;
  return Array.isArray(type) ? (type as string[]) : typeof type === 'string' ? [type] : [];
}

/**
 * A value the schema accepts and that is as harmless as the method allows: "0" is no user's or
 * token's id, too short for a password, not an e-mail, not a valid username, so calls that pass
 * validation end in a domain refusal rather than changing something.
 */
export function sampleValue(schema: JsonSchema): unknown {
  if (Array.isArray(schema.anyOf)) return sampleValue((schema.anyOf as JsonSchema[])[0]!);
  if (Array.isArray(schema.enum)) return (schema.enum as unknown[])[0];
  const types = typesOf(schema);
  const type = types.find((candidate) => candidate !== 'null') ?? types[0];
  switch (type) {
    case 'string':
      return '0';
    case 'boolean':
      return false;
    case 'integer':
    case 'number':
      return 0;
    case 'array': {
      // As few items as the schema takes (protocol.md §4.5: a notification id list is never empty).
      const items = (schema.items ?? {}) as JsonSchema;
      return Array.from({ length: typeof schema.minItems === 'number' ? schema.minItems : 0 }, () => sampleValue(items));
    }
    case 'null':
      return null;
    case 'object': {
      const properties = (schema.properties ?? {}) as Record<string, JsonSchema>;
      const required = (schema.required ?? []) as string[];
      return Object.fromEntries(required.map((name) => [name, sampleValue(properties[name] ?? {})]));
    }
    default:
      throw new Error(`no sample value for the schema ${JSON.stringify(schema)}`);
  }
}

/** Arguments for the required parameters only. */
export function minimalArgs(method: Pick<V1Method, 'params'>): unknown[] {
  const last = method.params.reduce((count, param, index) => (param.required ? index + 1 : count), 0);
  return method.params.slice(0, last).map((param) => sampleValue(param.schema));
}

/** A value of a type the schema refuses even with type coercion (ajv `coerceTypes: true`). */
export function wrongValue(schema: JsonSchema): unknown {
  const types = Array.isArray(schema.anyOf) ? (schema.anyOf as JsonSchema[]).flatMap(typesOf) : typesOf(schema);
  if (types.includes('object')) return types.includes('array') ? 5 : [1, 2];
  if (types.includes('boolean')) return 'yes';
  if (types.includes('integer') || types.includes('number')) return 'abc';
  if (types.includes('string')) return { not: 'a string' };
  if (types.includes('array')) return 5;
  throw new Error(`no wrong value for the schema ${JSON.stringify(schema)}`);
}

/**
 * A value of another JSON type that coercion turns into an accepted one, with what it becomes;
 * undefined for schemas that take nothing coercible (objects, arrays).
 */
export function coercibleValue(schema: JsonSchema): { given: unknown; becomes: unknown } | undefined {
  const types = typesOf(schema);
  if (types.includes('object') || types.includes('array') || schema.anyOf || schema.enum) return undefined;
  if (types.includes('string')) return { given: 100, becomes: '100' };
  if (types.includes('boolean')) return { given: 'true', becomes: true };
  if (types.includes('integer') || types.includes('number')) return { given: '10', becomes: 10 };
  return undefined;
}

/** Whether the object schema refuses properties it does not list. */
export function closedObject(param: ParamSpec): boolean {
  return typesOf(param.schema).includes('object') && param.schema.additionalProperties === false;
}
