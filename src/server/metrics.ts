import { collectDefaultMetrics, Gauge, Registry, type Metric } from 'prom-client';

export interface MetricSources {
  readonly databasePool: () => { maxConnections: number };
  readonly redisConnected: () => boolean | null;
}

const DURATION_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

/** What one route answered: counts by method and status, and a duration histogram. */
interface RouteStats {
  readonly counts: Map<string, Map<number, number>>;
  /** Per-bucket counts (the last one is +Inf); cumulated when scraped. */
  readonly buckets: Float64Array;
  sum: number;
  count: number;
}

/** One exposition line: `metricName{labels} value`. */
type Values = { metricName?: string; labels: Record<string, string>; value: number }[];

/**
 * Prometheus metrics of one gateway; each gateway has its own registry. Requests are counted in
 * plain maps on the request path and turned into metric samples only when scraped.
 */
export class Metrics {
  readonly registry = new Registry();
  readonly #routes = new Map<string, RouteStats>();
  readonly #websockets: Gauge<'path'>;

  constructor(sources: MetricSources) {
    collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: 20 });
    this.#register('gateway_http_requests_total', 'HTTP requests answered, by route, method and status.', 'counter', () =>
      this.#requestSamples(),
    );
    this.#register('gateway_http_request_duration_seconds', 'Time from request to the end of the response, by route.', 'histogram', () =>
      this.#durationSamples(),
    );
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
    let stats = this.#routes.get(route);
    if (!stats) {
      stats = { counts: new Map(), buckets: new Float64Array(DURATION_BUCKETS.length + 1), sum: 0, count: 0 };
      this.#routes.set(route, stats);
    }
    let byStatus = stats.counts.get(method);
    if (!byStatus) stats.counts.set(method, (byStatus = new Map()));
    byStatus.set(status, (byStatus.get(status) ?? 0) + 1);
    let bucket = 0;
    while (bucket < DURATION_BUCKETS.length && seconds > DURATION_BUCKETS[bucket]!) bucket++;
    stats.buckets[bucket]!++;
    stats.sum += seconds;
    stats.count++;
  }

  #register(name: string, help: string, type: 'counter' | 'histogram', values: () => Values): void {
    // The registry only needs a name and `get()`; the samples are computed at scrape time.
    const metric = { name, get: async () => ({ name, help, type, aggregator: 'sum', values: values() }) };
    this.registry.registerMetric(metric as unknown as Metric);
  }

  #requestSamples(): Values {
    const values: Values = [];
    for (const [route, stats] of this.#routes) {
      for (const [method, byStatus] of stats.counts) {
        for (const [status, value] of byStatus) values.push({ labels: { route, method, status: String(status) }, value });
      }
    }
    return values;
  }

  #durationSamples(): Values {
    const name = 'gateway_http_request_duration_seconds';
    const values: Values = [];
    for (const [route, stats] of this.#routes) {
      let cumulative = 0;
      stats.buckets.forEach((count, index) => {
        cumulative += count;
        const le = index < DURATION_BUCKETS.length ? String(DURATION_BUCKETS[index]) : '+Inf';
        values.push({ metricName: `${name}_bucket`, labels: { le, route }, value: cumulative });
      });
      values.push({ metricName: `${name}_sum`, labels: { route }, value: stats.sum });
      values.push({ metricName: `${name}_count`, labels: { route }, value: stats.count });
    }
    return values;
  }

  websocketOpened(path: string): void {
    this.#websockets.inc({ path });
  }

  websocketClosed(path: string): void {
    this.#websockets.dec({ path });
  }

  render(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
