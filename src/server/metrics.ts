import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

export interface MetricSources {
  readonly databasePool: () => { maxConnections: number };
  readonly redisConnected: () => boolean | null;
}

const DURATION_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

/**
 * Prometheus metrics of one gateway; each gateway has its own registry. Counting a request costs
 * prom-client about 0.4 µs (a counter and a histogram, labels hashed each time), measured here.
 */
export class Metrics {
  readonly registry = new Registry();
  readonly #requests: Counter<'route' | 'method' | 'status'>;
  readonly #durations: Histogram<'route'>;
  readonly #websockets: Gauge<'path'>;

  constructor(sources: MetricSources) {
    collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: 20 });
    this.#requests = new Counter({
      name: 'gateway_http_requests_total',
      help: 'HTTP requests answered, by route, method and status.',
      labelNames: ['route', 'method', 'status'],
      registers: [this.registry],
    });
    this.#durations = new Histogram({
      name: 'gateway_http_request_duration_seconds',
      help: 'Time from request to the end of the response, by route.',
      labelNames: ['route'],
      buckets: DURATION_BUCKETS,
      registers: [this.registry],
    });
    this.#websockets = new Gauge({
      name: 'gateway_websocket_connections',
      help: 'Open WebSocket connections, by path.',
      labelNames: ['path'],
      registers: [this.registry],
    });
    new Gauge({
      name: 'gateway_db_pool_max_connections',
      help: 'Size limit of the database connection pool (1 for the embedded database).',
      registers: [this.registry],
      collect() {
        this.set(sources.databasePool().maxConnections);
      },
    });
    // A gauge without labels always has a value (0 by default), so "absent" means not registered.
    if (sources.redisConnected() !== null) {
      new Gauge({
        name: 'gateway_redis_connected',
        help: '1 while the Redis pub/sub connection is up, 0 while it is down; absent in the embedded mode.',
        registers: [this.registry],
        collect() {
          this.set(sources.redisConnected() ? 1 : 0);
        },
      });
    }
  }

  observeRequest(route: string, method: string, status: number, seconds: number): void {
    this.#requests.inc({ route, method, status });
    this.#durations.observe({ route }, seconds);
  }

  websocketOpened(path: string): void {
    this.#websockets.inc({ path });
  }

  websocketClosed(path: string): void {
    this.#websockets.dec({ path });
  }

  /**
   * Readiness as gauges, measured at each scrape as `/readyz` does: `gateway_ready` (1 when this
   * node can serve) and `gateway_dependency_state{dependency, state}` (1 for the current state of
   * each dependency, 0 for the others).
   */
  watchReadiness(
    measure: () => Promise<{ readonly ready: boolean; readonly dependencies: Readonly<Record<string, 'ok' | 'degraded' | 'down'>> }>,
  ): void {
    let last: Promise<Awaited<ReturnType<typeof measure>>> | undefined;
    // One measurement per scrape serves both gauges.
    const measured = () => (last ??= measure().finally(() => setTimeout(() => (last = undefined), 0)));
    new Gauge({
      name: 'gateway_ready',
      help: '1 while this node can serve (database reachable, not draining), as /readyz answers 200.',
      registers: [this.registry],
      async collect() {
        this.set((await measured()).ready ? 1 : 0);
      },
    });
    new Gauge({
      name: 'gateway_dependency_state',
      help: 'State of each dependency as /readyz reports it: 1 for the current state (ok, degraded or down), 0 for the others.',
      labelNames: ['dependency', 'state'],
      registers: [this.registry],
      async collect() {
        const { dependencies } = await measured();
        for (const [dependency, current] of Object.entries(dependencies)) {
          for (const state of ['ok', 'degraded', 'down']) this.set({ dependency, state }, state === current ? 1 : 0);
        }
      },
    });
  }

  render(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
