import { Redis } from 'ioredis';
import { withTimeout } from '../with-timeout.ts';
import type { Counters } from './counters.ts';
import { MemoryHub, MemoryPubSub } from './memory-pubsub.ts';
import type { PubSub } from './pubsub.ts';
import { RedisCounters } from './redis-counters.ts';
import { RedisPubSub } from './redis-pubsub.ts';
import { RedisStats } from './redis-stats.ts';
import type { StatsStore } from './stats.ts';

/** The Redis roles of one node: Redis itself in production, in-process substitutes in the embedded mode. */
export interface Kv {
  readonly kind: 'redis' | 'memory';
  /** A short, printable description of the backend (no credentials). */
  readonly location: string;
  readonly pubsub: PubSub;
  readonly counters: Counters;
  /** API call statistics buckets. */
  readonly stats: StatsStore;
  /** Resolves when the backend answers within the timeout. */
  ping(timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

export interface KvOptions {
  readonly redisUrl?: string | undefined;
  /** Namespaces every key and channel, so deployments (and test runs) sharing a Redis never meet. */
  readonly keyPrefix: string;
  /** The in-process bus to join (several embedded instances in one process share one). */
  readonly hub?: MemoryHub;
  /** Told when a Redis error makes a role fall back or lose a message. */
  readonly onRedisError?: (error: Error) => void;
}

export function describeRedisUrl(url: string): string {
  const parsed = new URL(url);
  return `${parsed.protocol}//${parsed.hostname}:${parsed.port || '6379'}${parsed.pathname === '/' ? '' : parsed.pathname}`;
}

export async function openKv(options: KvOptions): Promise<Kv> {
  if (!options.redisUrl) return openMemoryKv(options.hub ?? new MemoryHub());
  return openRedisKv(options.redisUrl, options.keyPrefix, options.onRedisError ?? (() => {}));
}

function openMemoryKv(hub: MemoryHub): Kv {
  const pubsub = new MemoryPubSub(hub);
  return {
    kind: 'memory',
    location: 'in-process',
    pubsub,
    counters: hub.counters,
    stats: hub.stats,
    ping: async () => {},
    async close() {
      await pubsub.close();
    },
  };
}

const retryStrategy = (attempt: number) => Math.min(100 * 2 ** attempt, 2000);

async function openRedisKv(url: string, keyPrefix: string, onRedisError: (error: Error) => void): Promise<Kv> {
  const location = describeRedisUrl(url);
  // Commands fail fast while Redis is away (callers degrade); the subscriber queues until it is back.
  const commands = new Redis(url, {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 3000,
    retryStrategy,
    connectionName: 'gateway',
  });
  const subscriber = new Redis(url, { lazyConnect: true, connectTimeout: 3000, retryStrategy, connectionName: 'gateway-sub' });
  commands.on('error', onRedisError);
  subscriber.on('error', onRedisError);
  try {
    await Promise.all([connectOnce(commands), connectOnce(subscriber)]);
  } catch (error) {
    commands.disconnect();
    subscriber.disconnect();
    throw new Error(`cannot reach Redis at ${location}: ${(error as Error).message}`, { cause: error });
  }
  const pubsub = new RedisPubSub(commands, subscriber, keyPrefix);
  const counters = new RedisCounters(commands, keyPrefix, onRedisError);
  return {
    kind: 'redis',
    location,
    pubsub,
    counters,
    stats: new RedisStats(commands, keyPrefix),
    async ping(timeoutMs = 2000) {
      if (commands.status !== 'ready') throw new Error(`Redis at ${location} is ${commands.status}`);
      await withTimeout(commands.ping(), timeoutMs, `Redis at ${location}`);
    },
    async close() {
      await pubsub.close();
      counters.close();
      await Promise.allSettled([commands.quit(), subscriber.quit()]);
      commands.disconnect();
      subscriber.disconnect();
    },
  };
}

/** The first connection must succeed; later drops are retried forever by ioredis. */
function connectOnce(redis: Redis): Promise<void> {
  const strategy = redis.options.retryStrategy;
  redis.options.retryStrategy = () => null;
  return redis.connect().finally(() => {
    redis.options.retryStrategy = strategy;
  });
}
