import type { Database } from '../db/client.ts';
import type { Kv } from '../kv/kv.ts';
import { sendJson, type Route } from './http-server.ts';
import type { Metrics } from './metrics.ts';

export interface HealthSources {
  readonly database: Database;
  readonly kv: Kv;
  readonly metrics: Metrics;
  /** True once shutdown has begun: the node should leave the load balancer. */
  readonly closing: () => boolean;
}

const CHECK_TIMEOUT_MS = 1500;

/** `/healthz`: the process serves. */
export function healthzRoute(sources: HealthSources): Route {
  return {
    name: 'healthz',
    handle(_req, res) {
      if (sources.closing()) sendJson(res, 503, { status: 'shutting down' });
      else sendJson(res, 200, { status: 'ok' });
    },
  };
}

/** `/readyz`: the database and Redis (or their embedded substitutes) answer. */
export function readyzRoute(sources: HealthSources): Route {
  const check = async (ping: () => Promise<void>) => {
    try {
      await ping();
      return 'ok';
    } catch (error) {
      return (error as Error).message;
    }
  };
  return {
    name: 'readyz',
    async handle(_req, res) {
      const [database, redis] = await Promise.all([
        check(() => sources.database.ping(CHECK_TIMEOUT_MS)),
        check(() => sources.kv.ping(CHECK_TIMEOUT_MS)),
      ]);
      const ready = database === 'ok' && redis === 'ok' && !sources.closing();
      sendJson(res, ready ? 200 : 503, {
        status: ready ? 'ready' : sources.closing() ? 'shutting down' : 'not ready',
        checks: { database, redis },
        backends: { database: sources.database.location, redis: sources.kv.location },
      });
    },
  };
}

/** `/metrics`: Prometheus text format. */
export function metricsRoute(sources: HealthSources): Route {
  return {
    name: 'metrics',
    async handle(_req, res) {
      const body = await sources.metrics.render();
      res.writeHead(200, { 'content-type': sources.metrics.contentType });
      res.end(body);
    },
  };
}
