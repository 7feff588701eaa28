import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { ExecutionArgs, GraphQLError } from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Domain } from '../domain/domain.ts';
import type { Principal } from '../domain/principal.ts';
import type { PrincipalWatch } from '../domain/principal-watch.ts';
import { bearerToken } from '../domain/tokens.ts';
import { graphContext } from '../graph/context.ts';
import type { Logger } from '../logger.ts';
import type { GraphqlYoga } from './graphql-http.ts';
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

type EnvelopedArgs = ExecutionArgs & {
  rootValue: { execute: (args: ExecutionArgs) => unknown; subscribe: (args: ExecutionArgs) => unknown };
};

export interface GraphqlWsOptions {
  readonly yoga: GraphqlYoga;
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
 * goes through Yoga's envelope (same limits, same error policy as HTTP). When the principal is
 * invalidated the connection is re-authenticated and closed if it lost its credential.
 */
export class GraphqlWsEndpoint implements UpgradeRoute {
  readonly #wss: WebSocketServer;
  readonly #dispose: () => void | Promise<void>;
  readonly #options: GraphqlWsOptions;
  /** The client of each upgrade request, as the server worked it out, until its connection starts. */
  readonly #clients = new WeakMap<IncomingMessage, ClientInfo>();

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
        onSubscribe: async (ctx, _id, payload) => {
          const state = ctx.extra.state!;
          const contextValue = graphContext({
            principal: state.principal,
            domain: options.domain,
            requestId: state.connectionId,
            log: () => options.log.child({ reqId: state.connectionId }),
            client: state.client,
          });
          const enveloped = options.yoga.getEnveloped(contextValue);
          let document;
          try {
            document = enveloped.parse(payload.query);
          } catch (error) {
            return [error as GraphQLError];
          }
          const errors = enveloped.validate(enveloped.schema, document);
          if (errors.length > 0) return errors;
          const args: EnvelopedArgs = {
            schema: enveloped.schema,
            document,
            operationName: payload.operationName,
            variableValues: payload.variables,
            contextValue: await enveloped.contextFactory(),
            rootValue: { execute: enveloped.execute, subscribe: enveloped.subscribe },
          };
          return args;
        },
        execute: (args) => (args as EnvelopedArgs).rootValue.execute(args) as never,
        subscribe: (args) => (args as EnvelopedArgs).rootValue.subscribe(args) as never,
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
