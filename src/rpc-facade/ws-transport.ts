import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import type { AuthFailure } from '../domain/auth.ts';
import type { Domain } from '../domain/domain.ts';
import type { Principal } from '../domain/principal.ts';
import type { PrincipalWatch } from '../domain/principal-watch.ts';
import type { ClientInfo } from '../domain/client-info.ts';
import type { Logger } from '../logger.ts';
import type { Dispatcher } from './dispatcher.ts';
import { principalTargets, type V1Event, type V1Events } from './events.ts';
import { BUILTIN_METHODS, isJsonObject, rpcRequestOf } from './json-rpc.ts';
import { envelope, failure, ok, RpcCode } from './result.ts';

export const V1_SUBPROTOCOL = 'jsonrpc_2.0';
/** Close code and reason the original server used when a connection's credential died. */
export const SIGNED_OUT = { code: 4000, reason: 'Signed out' } as const;

export interface V1WebSocketOptions {
  readonly dispatcher: Dispatcher;
  readonly domain: Domain;
  readonly watch: PrincipalWatch;
  readonly events: V1Events;
  readonly log: Logger;
  readonly onOpen?: () => void;
  readonly onClose?: () => void;
  /** Server pings at this interval; a connection that misses two pongs is dropped. */
  readonly pingIntervalMs?: number;
  readonly maxPayload?: number;
}

interface Connection {
  readonly ws: WebSocket;
  readonly token: string | null;
  readonly client: ClientInfo;
  readonly id: string;
  readonly log: Logger;
  principal: Principal;
  targets: Set<string>;
  readonly subscriptions: Set<string>;
  missedPongs: number;
  stopWatching: () => void;
  /** Set while the principal is re-checked after an invalidation; calls wait for it (read-your-writes). */
  reauthenticating: Promise<void> | null;
}

/** The token is the subprotocol after `jsonrpc_2.0` (6.x sends the list without spaces, 7.x with). */
export function tokenFromProtocols(header: string | undefined): string | null {
  if (!header) return null;
  const offered = header.split(/\s*,\s*/).map((item) => item.trim()).filter(Boolean);
  return offered.find((item) => item !== V1_SUBPROTOCOL) ?? null;
}

/**
 * v1 over WebSocket on `/api/`: the upgrade is never refused for a bad token (the bearer is a
 * guest), `jsonrpc_2.0` is always the selected subprotocol, calls are answered by id (void calls
 * not at all), and `/publish` events reach only connections that subscribed to them.
 */
export class V1WebSocketEndpoint {
  readonly #options: V1WebSocketOptions;
  readonly #wss: WebSocketServer;
  readonly #connections = new Set<Connection>();
  readonly #pinger: NodeJS.Timeout;
  readonly #stopEvents: () => void;
  #sequence = 0;

  constructor(options: V1WebSocketOptions) {
    this.#options = options;
    this.#wss = new WebSocketServer({
      noServer: true,
      maxPayload: options.maxPayload ?? 4 * 1024 * 1024,
      handleProtocols: (protocols) => (protocols.has(V1_SUBPROTOCOL) ? V1_SUBPROTOCOL : false),
    });
    this.#pinger = setInterval(() => this.#ping(), options.pingIntervalMs ?? 30_000);
    this.#pinger.unref();
    this.#stopEvents = options.events.onEvent((event) => this.#deliver(event));
  }

  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, context: { requestId: string; client: ClientInfo }): void {
    const token = tokenFromProtocols(req.headers['sec-websocket-protocol']);
    const resolvedAt = this.#options.domain.auth.epoch;
    void this.#options.domain.auth.resolve(token).then(
      (principal) => {
        this.#wss.handleUpgrade(req, socket, head, (ws) => this.#open(ws, token, principal, context, resolvedAt));
      },
      (err: unknown) => {
        this.#options.log.error({ err, reqId: context.requestId }, 'could not authenticate a v1 WebSocket');
        socket.end('HTTP/1.1 503 Service Unavailable\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
      },
    );
  }

  /** Closes every connection with 1001 (going away). */
  async close(): Promise<void> {
    clearInterval(this.#pinger);
    this.#stopEvents();
    for (const connection of this.#connections) connection.ws.close(1001, 'Server is shutting down');
    await new Promise<void>((resolve) => this.#wss.close(() => resolve()));
  }

  #open(
    ws: WebSocket,
    token: string | null,
    principal: Principal,
    context: { requestId: string; client: ClientInfo },
    resolvedAt: number,
  ): void {
    const connection: Connection = {
      ws,
      token,
      client: context.client,
      id: context.requestId,
      log: this.#options.log.child({ reqId: context.requestId }),
      principal,
      targets: principalTargets(principal),
      subscriptions: new Set(),
      missedPongs: 0,
      stopWatching: () => {},
      reauthenticating: null,
    };
    this.#connections.add(connection);
    this.#options.onOpen?.();
    this.#watch(connection, resolvedAt);
    ws.on('pong', () => (connection.missedPongs = 0));
    ws.on('message', (data, isBinary) => this.#receive(connection, data, isBinary));
    ws.on('error', () => ws.terminate());
    ws.once('close', () => {
      connection.stopWatching();
      this.#connections.delete(connection);
      this.#options.onClose?.();
    });
  }

  #receive(connection: Connection, data: RawData, isBinary: boolean): void {
    if (isBinary) {
      this.#send(connection, envelope(failure(RpcCode.unsupportedContentType), null));
      return;
    }
    let frame: unknown;
    try {
      frame = JSON.parse(data.toString());
    } catch {
      this.#send(connection, envelope(failure(RpcCode.decodeError), null));
      return;
    }
    if (!isJsonObject(frame)) {
      this.#send(connection, envelope(failure(RpcCode.decodeError), null));
      return;
    }
    const { method, args, id } = rpcRequestOf(frame);
    // Answers to server-initiated calls (the client's -32800) carry no method: nothing to do.
    if (method === null) return;
    if (BUILTIN_METHODS.has(method)) {
      if (method === '/subscribe' || method === '/unsubscribe') {
        const names = Array.isArray(args[0]) ? (args[0] as unknown[]) : args;
        for (const name of names) {
          if (typeof name !== 'string') continue;
          if (method === '/subscribe') connection.subscriptions.add(name);
          else connection.subscriptions.delete(name);
        }
      }
      // Client events are accepted and dropped; aborts cannot stop an operation already running.
      if (id !== undefined) this.#send(connection, envelope(ok(), id));
      return;
    }
    void this.#call(connection, method, args, id);
  }

  async #call(connection: Connection, method: string, args: unknown[], id: string | number | null | undefined): Promise<void> {
    const requestId = `${connection.id}:${++this.#sequence}`;
    while (connection.reauthenticating) await connection.reauthenticating;
    const result = await this.#options.dispatcher.call(method, args, {
      principal: connection.principal,
      client: connection.client,
      requestId,
      log: connection.log,
      transport: 'ws',
    });
    if (id !== undefined) this.#send(connection, envelope(result, id));
  }

  #send(connection: Connection, payload: string): void {
    if (connection.ws.readyState === connection.ws.OPEN) connection.ws.send(payload);
  }

  #publishTo(connection: Connection, name: string, args: readonly unknown[] = []): void {
    this.#send(connection, JSON.stringify({ jsonrpc: '2.0', method: '/publish', params: [name, ...args] }));
  }

  #deliver(event: V1Event): void {
    // An event may name thousands of users (a notification's recipients): look targets up, do not scan them.
    let targets: Set<string> | undefined;
    for (const connection of this.#connections) {
      if (!connection.subscriptions.has(event.name)) continue;
      targets ??= new Set(event.targets);
      for (const target of connection.targets) {
        if (!targets.has(target)) continue;
        this.#publishTo(connection, event.name, event.args);
        break;
      }
    }
  }

  #ping(): void {
    for (const connection of this.#connections) {
      if (connection.missedPongs >= 2) {
        connection.ws.terminate();
        continue;
      }
      connection.missedPongs++;
      connection.ws.ping();
    }
  }

  /** Re-authenticates when the principal is invalidated; a dead credential ends the connection. */
  #watch(connection: Connection, resolvedAt: number): void {
    if (connection.principal.kind === 'guest' || !connection.token) return;
    const token = connection.token;
    connection.stopWatching = this.#options.watch.watch(connection.principal, () => {
      // The watch fires while the change is being made, before its caller is answered.
      const done: Promise<void> = this.#options.domain.auth
        .resolveDetailed(token)
        .then(async ({ principal, failure: reason }) => {
          const event = principal.kind === 'guest' ? await this.#endEvent(connection, reason) : null;
          this.#reauthenticated(connection, principal, event);
        })
        .catch((err: unknown) => connection.log.warn({ err }, 'could not re-authenticate a v1 WebSocket'))
        .finally(() => {
          if (connection.reauthenticating === done) connection.reauthenticating = null;
        });
      connection.reauthenticating = done;
    }, resolvedAt);
  }

  /**
   * `sessionDisable` when the credential or its user was disabled, `sessionDelete` otherwise.
   * Disabling a user deletes its sessions, so a session that is gone is asked about its user too.
   */
  async #endEvent(connection: Connection, reason: AuthFailure | null): Promise<'sessionDisable' | 'sessionDelete'> {
    if (reason === 'userDisabled' || reason === 'tokenDisabled') return 'sessionDisable';
    const before = connection.principal;
    if (before.kind === 'guest') return 'sessionDelete';
    const user = await this.#options.domain.users.find(before.user.id);
    return user && !user.enabled ? 'sessionDisable' : 'sessionDelete';
  }

  #reauthenticated(connection: Connection, principal: Principal, event: 'sessionDisable' | 'sessionDelete' | null): void {
    if (principal.kind === 'guest') {
      connection.stopWatching();
      this.#publishTo(connection, event ?? 'sessionDelete');
      connection.ws.close(SIGNED_OUT.code, SIGNED_OUT.reason);
      return;
    }
    const before = connection.principal;
    connection.principal = principal;
    connection.targets = principalTargets(principal);
    if (before.kind !== 'guest' && !samePrincipal(before, principal)) this.#publishTo(connection, 'sessionReload');
  }
}

function samePrincipal(a: Exclude<Principal, { kind: 'guest' }>, b: Exclude<Principal, { kind: 'guest' }>): boolean {
  return (
    a.permissions.size === b.permissions.size &&
    [...a.permissions].every((name) => b.permissions.has(name)) &&
    JSON.stringify(a.user) === JSON.stringify(b.user)
  );
}
