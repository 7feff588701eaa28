import type { Redis } from 'ioredis';
import type { CounterState, Counters } from './counters.ts';
import { MemoryCounters } from './memory-counters.ts';

// INCRBY and PEXPIRE in one step, so a counter never outlives its window.
const INCREMENT = `
local count = redis.call('INCRBY', KEYS[1], ARGV[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  ttl = tonumber(ARGV[2])
end
return {count, ttl}
`;

// Never below zero and never creating a counter; KEEPTTL leaves the window where it was.
const DECREMENT = `
local current = redis.call('GET', KEYS[1])
if not current then return false end
local count = math.max(tonumber(current) - tonumber(ARGV[1]), 0)
redis.call('SET', KEYS[1], count, 'KEEPTTL')
return {count, redis.call('PTTL', KEYS[1])}
`;

// PEXPIRE's LT option needs Redis 7; this works on older ones as well.
const EXPIRE_IN = `
local ttl = redis.call('PTTL', KEYS[1])
if ttl == -2 then return 0 end
if ARGV[2] == '1' and ttl >= 0 and ttl <= tonumber(ARGV[1]) then return 1 end
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return 1
`;

type IncrementingRedis = Redis & {
  gatewayIncrement(key: string, by: number, windowMs: number): Promise<[number, number]>;
  gatewayDecrement(key: string, by: number): Promise<[number, number] | null>;
  gatewayExpireIn(key: string, windowMs: number, sooner: 0 | 1): Promise<0 | 1>;
};

/**
 * Counters in Redis, shared by every node. While Redis cannot be reached the counters fall back
 * to this node's memory, so limits keep working per node instead of failing every request.
 */
export class RedisCounters implements Counters {
  readonly #redis: IncrementingRedis;
  readonly #prefix: string;
  readonly #fallback = new MemoryCounters();
  readonly #onFallback: (error: Error) => void;

  constructor(redis: Redis, prefix: string, onFallback: (error: Error) => void = () => {}) {
    if (!('gatewayIncrement' in redis)) redis.defineCommand('gatewayIncrement', { numberOfKeys: 1, lua: INCREMENT });
    if (!('gatewayDecrement' in redis)) redis.defineCommand('gatewayDecrement', { numberOfKeys: 1, lua: DECREMENT });
    if (!('gatewayExpireIn' in redis)) redis.defineCommand('gatewayExpireIn', { numberOfKeys: 1, lua: EXPIRE_IN });
    this.#redis = redis as IncrementingRedis;
    this.#prefix = prefix;
    this.#onFallback = onFallback;
  }

  async increment(key: string, windowMs: number, by = 1): Promise<CounterState> {
    try {
      const [count, resetInMs] = await this.#redis.gatewayIncrement(this.#key(key), by, windowMs);
      return { count, resetInMs };
    } catch (error) {
      this.#onFallback(error as Error);
      return this.#fallback.incrementNow(key, windowMs, by);
    }
  }

  async peek(key: string): Promise<CounterState | null> {
    try {
      const [value, ttl] = await this.#redis.multi().get(this.#key(key)).pttl(this.#key(key)).exec().then(unwrap);
      if (value === null || (ttl as number) < 0) return null;
      return { count: Number(value), resetInMs: ttl as number };
    } catch (error) {
      this.#onFallback(error as Error);
      return this.#fallback.peek(key);
    }
  }

  async decrement(key: string, by = 1): Promise<CounterState | null> {
    try {
      const result = await this.#redis.gatewayDecrement(this.#key(key), by);
      return result && { count: result[0], resetInMs: result[1] };
    } catch (error) {
      this.#onFallback(error as Error);
      return this.#fallback.decrementNow(key, by);
    }
  }

  async expireIn(key: string, windowMs: number, options: { readonly sooner?: boolean } = {}): Promise<boolean> {
    try {
      return (await this.#redis.gatewayExpireIn(this.#key(key), windowMs, options.sooner ? 1 : 0)) === 1;
    } catch (error) {
      this.#onFallback(error as Error);
      return this.#fallback.expireInNow(key, windowMs, options);
    }
  }

  async reset(key: string): Promise<void> {
    await this.#fallback.reset(key);
    try {
      await this.#redis.del(this.#key(key));
    } catch (error) {
      this.#onFallback(error as Error);
    }
  }

  close(): void {
    this.#fallback.close();
  }

  #key(key: string): string {
    return `${this.#prefix}counter:${key}`;
  }
}

function unwrap(results: [Error | null, unknown][] | null): unknown[] {
  if (!results) throw new Error('Redis transaction was discarded');
  return results.map(([error, value]) => {
    if (error) throw error;
    return value;
  });
}
