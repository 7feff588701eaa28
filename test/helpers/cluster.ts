import { createRedisPrefix, createTestDatabase, TEST_REDIS_URL } from './services.ts';
import { spawnGateway, type SpawnedGateway } from './spawn.ts';

/** Gateway processes of one production deployment: one PostgreSQL database, one Redis key prefix. */
export interface Cluster {
  readonly nodes: readonly SpawnedGateway[];
  /** The Redis key prefix every node shares. */
  readonly redisPrefix: string;
  /** Stops every process, drops the database and clears the keys; gives each process's exit. */
  stop(): Promise<{ code: number | null; ms: number }[]>;
}

export interface ClusterOptions {
  /** Environment of every node (added to the shared database, Redis and NODE_ENV=production). */
  readonly env?: Record<string, string>;
  /** Use these instead of a fresh test database and the machine's Redis (fault tests bring their own). */
  readonly databaseUrl?: string;
  readonly redisUrl?: string;
}

/** Starts `count` gateway processes on one fresh database (or `databaseUrl`) and one Redis key prefix. */
export async function startCluster(count: number, options: ClusterOptions = {}): Promise<Cluster> {
  const [database, redis] = await Promise.all([options.databaseUrl ? undefined : createTestDatabase(), createRedisPrefix()]);
  const shared = {
    DATABASE_URL: options.databaseUrl ?? database!.url,
    REDIS_URL: options.redisUrl ?? TEST_REDIS_URL,
    REDIS_PREFIX: redis.prefix,
    NODE_ENV: 'production',
    ...options.env,
  };
  const removeServices = () => Promise.all([database?.drop(), redis.clear()]);
  // The first node applies the migrations alone; the others then start together.
  const first = await spawnGateway(shared).catch(async (error: unknown) => {
    await removeServices();
    throw error;
  });
  const started = await Promise.allSettled(Array.from({ length: count - 1 }, () => spawnGateway(shared)));
  const nodes = [first, ...started.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []))];
  const failed = started.find((result) => result.status === 'rejected');
  if (failed) {
    await Promise.all(nodes.map((node) => node.stop()));
    await removeServices();
    throw failed.reason;
  }
  return {
    nodes,
    redisPrefix: redis.prefix,
    async stop() {
      const stopped = await Promise.all(nodes.map((node) => node.stop()));
      await removeServices();
      return stopped;
    },
  };
}

/** Two gateway processes of one production deployment. */
export interface TwoNodes {
  readonly a: SpawnedGateway;
  readonly b: SpawnedGateway;
  /** The Redis key prefix both nodes share. */
  readonly redisPrefix: string;
  /** Stops both processes, drops the database and clears the keys; gives each process's exit. */
  stop(): Promise<{ code: number | null; ms: number }[]>;
}

export async function startTwoNodes(env: Record<string, string> = {}): Promise<TwoNodes> {
  const cluster = await startCluster(2, { env });
  const [a, b] = cluster.nodes as [SpawnedGateway, SpawnedGateway];
  return { a, b, redisPrefix: cluster.redisPrefix, stop: () => cluster.stop() };
}
