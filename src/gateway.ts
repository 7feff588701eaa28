import path from 'node:path';
import type { PGlite } from '@electric-sql/pglite';
import type { Config } from './config.ts';
import { openDatabase, type Database, type DatabaseTarget } from './db/client.ts';
import type { RootPasswordDelivery } from './domain/bootstrap.ts';
import { Domain } from './domain/domain.ts';
import { PrincipalWatch } from './domain/principal-watch.ts';
import { recordOperations } from './graph/call-records.ts';
import type { CallLogOptions } from './domain/call-log.ts';
import { GraphqlExecutor } from './graph/executor.ts';
import { fieldGuard } from './graph/field-limits.ts';
import { buildSchema } from './graph/schema.ts';
import { openKv, type Kv } from './kv/kv.ts';
import type { MemoryHub } from './kv/memory-pubsub.ts';
import type { Logger } from './logger.ts';
import { Dashboard } from './server/dashboard.ts';
import { Graphiql, GRAPHIQL_ASSET_PREFIX } from './server/graphiql.ts';
import { createGraphqlYoga, graphqlRoute } from './server/graphql-http.ts';
import { GraphqlWsEndpoint } from './server/graphql-ws.ts';
import { healthzRoute, metricsRoute, readiness, readyzRoute } from './server/health.ts';
import { GatewayHttpServer, type Route, type UpgradeRoute } from './server/http-server.ts';
import { Metrics } from './server/metrics.ts';
import { Dispatcher } from './rpc-facade/dispatcher.ts';
import { V1Events } from './rpc-facade/events.ts';
import { isV1Path, V1HttpEndpoint } from './rpc-facade/http-transport.ts';
import { MethodTable } from './rpc-facade/method-table.ts';
import { V1_METHODS } from './rpc-facade/methods/index.ts';
import { V1WebSocketEndpoint } from './rpc-facade/ws-transport.ts';
import { startMail, type MailService } from './workers/mail.ts';
import { notificationRetention } from './workers/notification-retention.ts';
import { RetentionWorker } from './workers/retention.ts';

export interface GatewayOptions {
  readonly config: Config;
  readonly log: Logger;
  /** An already open embedded database to use instead of the one under DATA_DIR (tests clone one). */
  readonly pglite?: PGlite;
  /** Prefix of every Redis key and channel of this gateway (default: REDIS_PREFIX). */
  readonly keyPrefix?: string;
  /** The in-process bus shared by embedded gateways of one process. */
  readonly hub?: MemoryHub;
  /** How often v1 WebSockets are pinged (default 30 s). */
  readonly v1PingIntervalMs?: number;
  /** How a generated root password reaches the operator (needed when ROOT_PASSWORD is unset). */
  readonly deliverRootPassword?: RootPasswordDelivery;
  /** Clock and intervals of the call log and statistics (tests shorten them). */
  readonly callLog?: CallLogOptions;
}

export interface Gateway {
  readonly url: string;
  readonly port: number;
  readonly database: Database;
  readonly kv: Kv;
  readonly domain: Domain;
  /** Server events for v1 WebSocket clients (fanned out to every node). */
  readonly v1Events: V1Events;
  /** E-mail delivery: the queue, and this node's worker unless MAIL_WORKER=off. */
  readonly mail: MailService;
  /** Stops within `timeoutMs`: no new connections, in-flight requests finish, sockets close, stores close. */
  close(timeoutMs?: number): Promise<void>;
}

function databaseTarget(options: GatewayOptions): DatabaseTarget {
  if (options.pglite) return { kind: 'pglite', client: options.pglite };
  if (options.config.databaseUrl) return { kind: 'postgres', url: options.config.databaseUrl, log: options.log };
  return { kind: 'pglite', dataDir: path.resolve(options.config.dataDir) };
}

/** Composition root of one gateway: stores, domain, schema, transports, server; closed in reverse. */
export async function startGateway(options: GatewayOptions): Promise<Gateway> {
  const { config, log } = options;
  const closers: (() => Promise<void> | void)[] = [];
  const closeAll = async () => {
    for (const close of closers.reverse()) {
      try {
        await close();
      } catch (err) {
        log.warn({ err }, 'error while closing');
      }
    }
  };
  try {
    const database = await openDatabase(databaseTarget(options));
    closers.push(() => database.close());
    await database.migrate();
    log.info({ database: database.location }, 'database ready');

    let lastRedisError = 0;
    const kv = await openKv({
      redisUrl: config.redisUrl,
      keyPrefix: options.keyPrefix ?? config.redisPrefix,
      hub: options.hub,
      onRedisError: (err) => {
        // ioredis repeats the same error on every retry; one line every 10 s is enough.
        if (Date.now() - lastRedisError < 10_000) return;
        lastRedisError = Date.now();
        log.warn({ err }, 'Redis error');
      },
    });
    closers.push(() => kv.close());
    log.info({ redis: kv.location }, 'redis roles ready');

    const domain = await Domain.create({
      db: database.db,
      kv,
      config,
      log,
      passwordHashing: config.passwordHashing,
      deliverRootPassword: options.deliverRootPassword,
      callLog: options.callLog,
    });
    closers.push(() => domain.close());
    const watch = new PrincipalWatch(domain.auth);
    closers.push(() => watch.close());
    const retention = new RetentionWorker(
      [
        { name: 'expired sessions and action tokens', run: () => domain.sessions.purgeExpired() },
        { name: 'call log partitions', run: () => domain.callLog.applyRetention() },
        notificationRetention(database.db),
      ],
      log,
    );
    closers.push(() => retention.close());
    const mail = await startMail({
      outbox: domain.outbox,
      settings: domain.settings,
      config: config.mail,
      log,
      redis: config.redisUrl ? { url: config.redisUrl, keyPrefix: options.keyPrefix ?? config.redisPrefix } : undefined,
      runWorker: config.mail.worker,
    });
    domain.outbox.setDispatch((ids) => mail.enqueue(ids));
    closers.push(() => mail.close(Date.now() + 5000));

    const metrics = new Metrics({
      databasePool: () => database.poolStats(),
      redisConnected: () => (kv.kind === 'redis' ? kv.pubsub.connected : null),
    });
    const schema = buildSchema();
    const graphiql = config.nodeEnv === 'production' ? undefined : new Graphiql();
    const production = config.nodeEnv === 'production';
    const graphqlOptions = { schema, domain, log, graphiql, watch, production };
    const dashboard = new Dashboard();
    const executor = new GraphqlExecutor({ schema, production, guard: fieldGuard({ production }), record: recordOperations(domain.callLog.recorder) });
    const yoga = createGraphqlYoga(graphqlOptions, executor);
    const graphqlWs = new GraphqlWsEndpoint({ executor, domain, watch, log, metrics });

    const dispatcher = new Dispatcher({ table: new MethodTable(executor, V1_METHODS), domain });
    const v1Events = new V1Events(kv.pubsub);
    await v1Events.start();
    closers.push(() => v1Events.close());
    // v1 clients hear of new notifications as the event `notifications` (protocol.md §1.6), published once, by the creating node.
    closers.push(
      domain.notifications.onCreated((userIds) => {
        v1Events
          .publish({ targets: userIds.map((id) => `user:${id}`), name: 'notifications', args: [] })
          .catch((err: unknown) => log.warn({ err }, 'could not publish the v1 notifications event'));
      }),
    );
    const v1Http = new V1HttpEndpoint({ dispatcher, domain });
    const v1Ws = new V1WebSocketEndpoint({
      dispatcher,
      domain,
      watch,
      events: v1Events,
      log,
      pingIntervalMs: options.v1PingIntervalMs,
      onOpen: () => metrics.websocketOpened('/api/'),
      onClose: () => metrics.websocketClosed('/api/'),
    });

    // `server` is declared below; the closure only runs once it exists.
    const sources = { database, kv, metrics, closing: (): boolean => server.closing };
    metrics.watchReadiness(() => readiness(sources));
    const exact = new Map<string, Route>([
      ['/graphql', graphqlRoute(yoga, executor, graphqlOptions)],
      ['/healthz', healthzRoute(sources)],
      ['/readyz', readyzRoute(sources)],
      ['/metrics', metricsRoute(sources)],
    ]);
    const upgrades = new Map<string, UpgradeRoute>([
      ['/graphql', graphqlWs],
      ['/api', v1Ws],
      ['/api/', v1Ws],
    ]);
    const server = new GatewayHttpServer({
      log,
      metrics,
      route: (pathname) =>
        exact.get(pathname) ??
        (isV1Path(pathname) ? v1Http : undefined) ??
        (graphiql && pathname.startsWith(GRAPHIQL_ASSET_PREFIX) ? graphiql.route : undefined) ??
        (Dashboard.owns(pathname) ? dashboard.route : undefined),
      upgradeRoute: (pathname) => upgrades.get(pathname),
      trustProxy: config.trustProxy,
    });
    const address = await server.listen(config.port, config.host);
    const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    const url = `http://${host}:${address.port}`;
    log.info({ url }, 'gateway listening');

    let closing: Promise<void> | undefined;
    return {
      url,
      port: address.port,
      database,
      kv,
      domain,
      v1Events,
      mail,
      close(timeoutMs = 10_000) {
        closing ??= (async () => {
          const deadline = Date.now() + timeoutMs - 1000;
          await Promise.all([graphqlWs.close(), v1Ws.close()]);
          // Mail stops claiming at once; the rows in hand finish or go back before the deadline.
          await Promise.all([server.close(deadline), mail.close(deadline)]);
          await closeAll();
          log.info('gateway stopped');
        })();
        return closing;
      },
    };
  } catch (error) {
    await closeAll();
    throw error;
  }
}
