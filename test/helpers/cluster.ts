import { createRedisPrefix, createTestDatabase, TEST_REDIS_URL } from './services.ts';
import { spawnGateway, type SpawnedGateway } from './spawn.ts';

/** Two gateway processes of one production deployment: one PostgreSQL database, one Redis key prefix. */
export interface TwoNodes {
  readonly a: SpawnedGateway;
  readonly b: SpawnedGateway;
  /** The Redis key prefix both nodes share. */
  readonly redisPrefix: string;
  /** Stops both processes, drops the database and clears the keys; gives each process's exit. */
  stop(): Promise<{ code: number | null; ms: number }[]>;
}

export async function startTwoNodes(env: Record<string, string> = {}): Promise<TwoNodes> {
  const [database, redis] = await Promise.all([createTestDatabase(), createRedisPrefix()]);
  const shared = { DATABASE_URL: database.url, REDIS_URL: TEST_REDIS_URL, REDIS_PREFIX: redis.prefix, NODE_ENV: 'production', ...env };
  const removeServices = () => Promise.all([database.drop(), redis.clear()]);
  const started = await Promise.allSettled([spawnGateway(shared), spawnGateway(shared)]);
  const nodes = started.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
  const failed = started.find((result) => result.status === 'rejected');
  if (failed) {
    await Promise.all(nodes.map((node) => node.stop()));
    await removeServices();
    throw failed.reason;
  }
  const [a, b] = nodes as [SpawnedGateway, SpawnedGateway];
  return {
    a,
    b,
    redisPrefix: redis.prefix,
    async stop() {
      const stopped = await Promise.all([a.stop(), b.stop()]);
      await removeServices();
      return stopped;
    },
  };
}
