import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startGateway, type Gateway } from '../../src/gateway.ts';
import { createLogger } from '../../src/logger.ts';
import { testConfig } from '../helpers/gateway.ts';
import { createRedisPrefix, createTestDatabase, TEST_REDIS_URL, type TestDatabase } from '../helpers/services.ts';
import { TcpProxy } from '../helpers/tcp-proxy.ts';

interface Readiness {
  status: number;
  body: { status: string; dependencies: { database: string; redis: string }; checks: { database: string; redis: string } };
}

const NOTICED = { timeout: 5000, interval: 50 };
/** Redis is retried with a growing delay of at most 2 s; PostgreSQL at the next query. */
const RECOVERED = { timeout: 5000, interval: 100 };

function proxyFor(url: string, defaultPort: number): TcpProxy {
  const parsed = new URL(url);
  return new TcpProxy({ host: parsed.hostname, port: Number(parsed.port || defaultPort) });
}

describe('readiness follows PostgreSQL and Redis (production mode)', () => {
  let database: TestDatabase;
  let redis: Awaited<ReturnType<typeof createRedisPrefix>>;
  let postgresProxy: TcpProxy;
  const redisProxy = proxyFor(TEST_REDIS_URL, 6379);
  let gateway: Gateway;

  async function readyz(): Promise<Readiness> {
    const res = await fetch(`${gateway.url}/readyz`);
    return { status: res.status, body: (await res.json()) as Readiness['body'] };
  }

  async function healthz(): Promise<number> {
    return (await fetch(`${gateway.url}/healthz`)).status;
  }

  beforeAll(async () => {
    [database, redis] = await Promise.all([createTestDatabase(), createRedisPrefix()]);
    postgresProxy = proxyFor(database.url, 5432);
    await Promise.all([postgresProxy.start(), redisProxy.start()]);
    const config = testConfig({
      DATABASE_URL: postgresProxy.rewrite(database.url),
      REDIS_URL: redisProxy.rewrite(TEST_REDIS_URL),
      NODE_ENV: 'production',
    });
    gateway = await startGateway({ config, log: createLogger('silent').log, keyPrefix: redis.prefix });
  });

  afterAll(async () => {
    await gateway?.close();
    await Promise.all([postgresProxy?.stop(), redisProxy.stop()]);
    await Promise.all([database?.drop(), redis?.clear()]);
  });

  it('is ready while both answer through their proxies', async () => {
    const ready = await readyz();
    expect(ready.status).toBe(200);
    expect(ready.body.status).toBe('ready');
    expect(ready.body.checks).toEqual({ database: 'ok', redis: 'ok' });
  });

  async function metric(name: string): Promise<string> {
    const text = await (await fetch(`${gateway.url}/metrics`)).text();
    return text
      .split('\n')
      .filter((line) => line.startsWith(name))
      .join('\n');
  }

  it('stays ready while Redis is away, reports it degraded (body and metrics), and ok again when Redis is back', async () => {
    await redisProxy.stop();
    const down = await vi.waitFor(async () => {
      const answer = await readyz();
      expect(answer.body.dependencies.redis).toBe('degraded');
      return answer;
    }, NOTICED);
    expect(down.status).toBe(200);
    expect(down.body.status).toBe('ready');
    expect(down.body.dependencies.database).toBe('ok');
    expect(down.body.checks.redis).toMatch(/Redis/);
    expect(await healthz()).toBe(200);
    expect(await metric('gateway_ready')).toBe('gateway_ready 1');
    expect(await metric('gateway_dependency_state{dependency="redis",state="degraded"}')).toMatch(/ 1$/);
    // Calls keep being served.
    const served = await fetch(`${gateway.url}/graphql`, {
      method: 'POST',
      body: JSON.stringify({ query: '{ __typename }' }),
      headers: { 'content-type': 'application/json' },
    });
    expect(served.status).toBe(200);

    await redisProxy.start();
    await vi.waitFor(async () => expect((await readyz()).body.dependencies.redis).toBe('ok'), RECOVERED);
    expect((await readyz()).body.checks).toEqual({ database: 'ok', redis: 'ok' });
    expect(await metric('gateway_dependency_state{dependency="redis",state="ok"}')).toMatch(/ 1$/);
  });

  it('is not ready while PostgreSQL is away, names it, stays healthy, and is ready again when it is back', async () => {
    await postgresProxy.stop();
    const down = await vi.waitFor(async () => {
      const answer = await readyz();
      expect(answer.status).toBe(503);
      return answer;
    }, NOTICED);
    expect(down.body.status).toBe('not ready');
    expect(down.body.checks.redis).toBe('ok');
    expect(down.body.checks.database).not.toBe('ok');
    expect(down.body.checks.database.length).toBeGreaterThan(0);
    expect(down.body.dependencies).toEqual({ database: 'down', redis: 'ok' });
    expect(await healthz()).toBe(200);
    expect(await metric('gateway_ready')).toBe('gateway_ready 0');
    expect(await metric('gateway_dependency_state{dependency="database",state="down"}')).toMatch(/ 1$/);

    await postgresProxy.start();
    await vi.waitFor(async () => expect((await readyz()).status).toBe(200), RECOVERED);
    expect((await readyz()).body.checks).toEqual({ database: 'ok', redis: 'ok' });
  });
});
