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

/** One dependency's state: `ok`; `degraded` (the node serves without it); `down` (the node cannot serve). */
export type DependencyState = 'ok' | 'degraded' | 'down';

export interface Readiness {
  readonly ready: boolean;
  readonly status: 'ready' | 'not ready' | 'shutting down';
  readonly dependencies: { readonly database: DependencyState; readonly redis: DependencyState };
  /** What each check found ('ok', or the error). */
  readonly checks: { readonly database: string; readonly redis: string };
}

async function check(ping: () => Promise<void>): Promise<string> {
  try {
    await ping();
    return 'ok';
  } catch (error) {
    return (error as Error).message;
  }
}

/**
 * Whether this node can serve. Only what stops it counts: the database (every call needs it) and
 * draining. Redis away degrades the node (limits per node, events local), so it stays in rotation:
 * a load balancer that took every node out while Redis is away would turn a degraded feature into
 * an outage.
 */
export async function readiness(sources: HealthSources): Promise<Readiness> {
  const [database, redis] = await Promise.all([
    check(() => sources.database.ping(CHECK_TIMEOUT_MS)),
    check(() => sources.kv.ping(CHECK_TIMEOUT_MS)),
  ]);
  const closing = sources.closing();
  const ready = database === 'ok' && !closing;
  return {
    ready,
    status: ready ? 'ready' : closing ? 'shutting down' : 'not ready',
    dependencies: { database: database === 'ok' ? 'ok' : 'down', redis: redis === 'ok' ? 'ok' : 'degraded' },
    checks: { database, redis },
  };
}

/** `/readyz`: 503 only when this node cannot serve; the body names each dependency's state. */
export function readyzRoute(sources: HealthSources): Route {
  return {
    name: 'readyz',
    async handle(_req, res) {
      const state = await readiness(sources);
      sendJson(res, state.ready ? 200 : 503, {
        status: state.status,
        dependencies: state.dependencies,
        checks: state.checks,
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
