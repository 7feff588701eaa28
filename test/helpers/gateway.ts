import type { PGlite } from '@electric-sql/pglite';
import { loadConfig, type Config } from '../../src/config.ts';
import type { CallLogOptions } from '../../src/domain/call-log.ts';
import { startGateway, type Gateway } from '../../src/gateway.ts';
import { MemoryHub } from '../../src/kv/memory-pubsub.ts';
import { createLogger } from '../../src/logger.ts';
import { freshPglite } from './pglite.ts';
import { createRedisPrefix, createTestDatabase, TEST_REDIS_URL } from './services.ts';

export type Mode = 'embedded' | 'production';
/** Suites run once per mode: the embedded defaults, and real PostgreSQL + Redis. */
export const MODES: readonly Mode[] = ['embedded', 'production'];

export const ROOT_PASSWORD = 'root-password-for-tests';

/** Cheap password hashing keeps suites fast; the cost is configuration, not behaviour. */
export const TEST_ENV: Readonly<Record<string, string>> = {
  HOST: '127.0.0.1',
  PORT: '0',
  ROOT_PASSWORD,
  PASSWORD_HASH_MEMORY_KIB: '1024',
  PASSWORD_HASH_TIME_COST: '1',
  // The sign-in floor hides the hashing cost; with hashing this cheap it has nothing to hide.
  SIGNIN_MIN_DURATION_MS: '0',
  LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
};

/** The stores one or more test gateways share; released when the last gateway on them closes. */
interface Backing {
  readonly mode: Mode;
  readonly databaseUrl?: string;
  readonly redisUrl?: string;
  readonly keyPrefix: string;
  readonly pglite?: PGlite;
  readonly hub?: MemoryHub;
  users: number;
  release(): Promise<void>;
}

export interface TestGateway {
  readonly mode: Mode;
  /** `http://127.0.0.1:PORT` */
  readonly url: string;
  readonly graphqlUrl: string;
  readonly graphqlWsUrl: string;
  readonly gateway: Gateway;
  readonly config: Config;
  readonly backing: Backing;
  close(): Promise<void>;
}

export interface TestGatewayOptions {
  /** Extra environment for the gateway's configuration (PERMISSIONS, …). */
  readonly env?: Readonly<Record<string, string>>;
  /** Start a second node on the same database and Redis (or in-process bus) as this gateway. */
  readonly shareWith?: TestGateway;
  /** How often v1 WebSockets are pinged. */
  readonly v1PingIntervalMs?: number;
  /** Clock and intervals of the call log and statistics. */
  readonly callLog?: CallLogOptions;
  /** Another Redis URL than the shared one (a proxy the test cuts), production mode only. */
  readonly redisUrl?: string;
}

async function createBacking(mode: Mode): Promise<Backing> {
  if (mode === 'embedded') {
    const pglite = await freshPglite();
    return {
      mode,
      keyPrefix: 'embedded:',
      pglite,
      hub: new MemoryHub(),
      users: 0,
      release: () => pglite.close(),
    };
  }
  const [database, redis] = await Promise.all([createTestDatabase(), createRedisPrefix()]);
  return {
    mode,
    databaseUrl: database.url,
    redisUrl: TEST_REDIS_URL,
    keyPrefix: redis.prefix,
    users: 0,
    async release() {
      await Promise.all([database.drop(), redis.clear()]);
    },
  };
}

export function testConfig(env: Readonly<Record<string, string | undefined>>): Config {
  const result = loadConfig({ ...TEST_ENV, ...env });
  if (!result.ok) throw new Error(`invalid test configuration: ${result.errors.join('; ')}`);
  return result.config;
}

/** Starts an in-process gateway on port 0 with its own fresh database and Redis key prefix. */
export async function startTestGateway(mode: Mode, options: TestGatewayOptions = {}): Promise<TestGateway> {
  const backing = options.shareWith?.backing ?? (await createBacking(mode));
  backing.users++;
  const config = testConfig({
    ...options.env,
    DATABASE_URL: backing.databaseUrl,
    REDIS_URL: backing.redisUrl && (options.redisUrl ?? backing.redisUrl),
  });
  const { log, flush } = createLogger(config.logLevel);
  let gateway: Gateway;
  try {
    gateway = await startGateway({
      config,
      log,
      pglite: backing.pglite,
      hub: backing.hub,
      keyPrefix: backing.keyPrefix,
      v1PingIntervalMs: options.v1PingIntervalMs,
      callLog: options.callLog,
    });
  } catch (error) {
    if (--backing.users === 0) await backing.release();
    throw error;
  }
  return {
    mode,
    url: gateway.url,
    graphqlUrl: `${gateway.url}/graphql`,
    graphqlWsUrl: `${gateway.url.replace('http', 'ws')}/graphql`,
    gateway,
    config,
    backing,
    async close() {
      await gateway.close();
      flush();
      if (--backing.users === 0) await backing.release();
    },
  };
}
