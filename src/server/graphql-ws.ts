import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { ExecutionArgs } from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Domain } from '../domain/domain.ts';
import type { Principal } from '../domain/principal.ts';
import type { PrincipalWatch } from '../domain/principal-watch.ts';
import { bearerToken } from '../domain/tokens.ts';
import { graphContext, type GraphContext } from '../graph/context.ts';
import { operationResolutionError, type GraphqlExecutor, type PreparedOperation } from '../graph/executor.ts';
import type { Logger } from '../logger.ts';
import type { ClientInfo } from '../domain/client-info.ts';
import { requestIdOf, type RequestContext, type UpgradeRoute } from './http-server.ts';
import type { Metrics } from './metrics.ts';

interface ConnectionState {
  token: string | null;
  principal: Principal;
  stopWatching: () => void;
  connectionId: string;
  client: ClientInfo;
}

type ExtraState = { state: ConnectionState };

export interface GraphqlWsOptions {
  readonly executor: GraphqlExecutor;
  readonly domain: Domain;
  readonly watch: PrincipalWatch;
  readonly log: Logger;
  readonly metrics: Metrics;
  readonly maxPayload?: number;
}

/** Close code when the credential a connection authenticated with stops being valid. */
export const SIGNED_OUT_CLOSE = { code: 4403, reason: 'Forbidden: signed out' } as const;

/**
 * graphql-ws on `/graphql`. The token comes from `connectionParams.authorization`; each operation
 * runs on the shared executor (same document cache, limits and error policy as HTTP). When the principal is
 * invalidated the connection is re-authenticated and closed if it lost its credential.
 */
export class GraphqlWsEndpoint implements UpgradeRoute {
  readonly #wss: WebSocketServer;
  readonly #dispose: () => void | Promise<void>;
  readonly #options: GraphqlWsOptions;
  /** The client of each upgrade request, as the server worked it out, until its connection starts. */
  readonly #clients = new WeakMap<IncomingMessage, ClientInfo>();
  /** The prepared operation behind the arguments `onSubscribe` handed graphql-ws. */
  readonly #operations = new WeakMap<ExecutionArgs, PreparedOperation>();

  constructor(options: GraphqlWsOptions) {
    this.#options = options;
    this.#wss = new WebSocketServer({ noServer: true, maxPayload: options.maxPayload ?? 1024 * 1024 });
    const server = useServer<Record<string, unknown> | undefined, ExtraState>(
      {
        onConnect: async (ctx) => {
          const token = bearerToken(stringOrNull(ctx.connectionParams?.authorization));
          const resolvedAt = options.domain.auth.epoch;
          const principal = await options.domain.auth.resolve(token);
          const state: ConnectionState = {
            token,
            principal,
            connectionId: requestIdOf(ctx.extra.request),
            client: this.#clients.get(ctx.extra.request) ?? { address: 'unknown', userAgent: null },
            stopWatching: () => {},
          };
          ctx.extra.state = state;
          this.#watch(state, ctx.extra.socket, resolvedAt);
          return true;
        },
        onSubscribe: (ctx, _id, payload) => {
          const state = ctx.extra.state!;
          const prepared = options.executor.prepare(payload.query);
          if (prepared.parseFailed) return [...prepared.errors];
          const operation = options.executor.operation(prepared, payload.operationName);
          if (!operation) return [operationResolutionError()];
          if (prepared.errors.length > 0) return [...prepared.errors];
          const contextValue = graphContext({
            principal: state.principal,
            domain: options.domain,
            requestId: state.connectionId,
            log: () => options.log.child({ reqId: state.connectionId }),
            client: state.client,
            reauthenticate: async () => (state.token ? (await options.domain.auth.resolveDetailed(state.token)).principal : state.principal),
          });
          const args: ExecutionArgs = {
            schema: options.executor.schema,
            document: operation.document,
            operationName: operation.name,
            variableValues: payload.variables,
            contextValue,
          };
          this.#operations.set(args, operation);
          return args;
        },
        execute: (args) => options.executor.execute(this.#operations.get(args)!, args.contextValue as GraphContext, args.variableValues, 'graphql-ws'),
        subscribe: (args) => options.executor.subscribe(this.#operations.get(args)!, args.contextValue as GraphContext, args.variableValues),
        onClose: (ctx) => ctx.extra.state?.stopWatching(),
      },
      this.#wss,
      12_000,
    );
    this.#dispose = () => server.dispose();
  }

  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, context: RequestContext): void {
    this.#clients.set(req, context.client);
    this.#wss.handleUpgrade(req, socket, head, (ws) => {
      this.#options.metrics.websocketOpened('/graphql');
      ws.once('close', () => this.#options.metrics.websocketClosed('/graphql'));
      this.#wss.emit('connection', ws, req);
    });
  }

  /** Closes every connection with 1001 (going away). */
  async close(): Promise<void> {
    for (const client of this.#wss.clients) client.close(1001, 'Server is shutting down');
    await this.#dispose();
  }

  #watch(state: ConnectionState, socket: WebSocket, resolvedAt: number): void {
    if (state.principal.kind === 'guest' || !state.token) return;
    const token = state.token;
    state.stopWatching = this.#options.watch.watch(state.principal, () => {
      void this.#options.domain.auth.resolveDetailed(token).then(
        ({ principal }) => {
          if (principal.kind === 'guest') {
            state.stopWatching();
            socket.close(SIGNED_OUT_CLOSE.code, SIGNED_OUT_CLOSE.reason);
            return;
          }
          state.principal = principal;
        },
        (err: unknown) => this.#options.log.warn({ err }, 'could not re-authenticate a graphql-ws connection'),
      );
    }, resolvedAt);
  }
}

function stringOrNull(value: unknown): string | null {
  return typeof value === 'string' ? value : null;
}
