import type { Redis } from 'ioredis';
import { HISTOGRAM_SCHEME_VERSION } from './latency-histogram.ts';
import {
  bucketExpiry,
  bucketKey,
  countsToFields,
  fieldsToCounts,
  STATS_RESOLUTIONS,
  type BucketCounts,
  type StatsBuckets,
  type StatsIncrement,
  type StatsResolution,
  type StatsStore,
} from './stats.ts';

/**
 * Statistics in Redis: one hash per method and bucket, incremented with HINCRBY and given its TTL
 * in the same pipeline; a sorted set names the methods that have buckets (scored by their newest).
 */
export class RedisStats implements StatsStore {
  readonly #redis: Redis;
  readonly #prefix: string;
  readonly #methodsKey: string;

  constructor(redis: Redis, prefix: string) {
    this.#redis = redis;
    this.#prefix = prefix;
    this.#methodsKey = `${prefix}stats:v${HISTOGRAM_SCHEME_VERSION}:methods`;
  }

  async add(increments: readonly StatsIncrement[], nowMs: number): Promise<void> {
    if (increments.length === 0) return;
    // With the offline queue off, a command sent while disconnected fails at once: nothing is written.
    if (this.#redis.status !== 'ready') throw new Error(`Redis is ${this.#redis.status}`);
    const pipeline = this.#redis.pipeline();
    const newest = new Map<string, number>();
    for (const { methodId, resolution, bucketStartMs, counts } of increments) {
      const ttlMs = bucketExpiry(bucketStartMs, resolution) - nowMs;
      if (ttlMs <= 0) continue;
      const key = this.#prefix + bucketKey(methodId, resolution, bucketStartMs);
      for (const [field, by] of countsToFields(counts)) pipeline.hincrby(key, field, by);
      pipeline.pexpire(key, ttlMs);
      newest.set(methodId, Math.max(newest.get(methodId) ?? 0, bucketStartMs));
    }
    for (const [methodId, start] of newest) pipeline.zadd(this.#methodsKey, 'GT', start, methodId);
    pipeline.zremrangebyscore(this.#methodsKey, '-inf', `(${nowMs - STATS_RESOLUTIONS.tenMinutes.keepMs}`);
    const results = await pipeline.exec();
    const failed = results?.find(([error]) => error);
    // Some commands may have run: retrying could count twice, so the caller is told nothing (it logs).
    if (failed?.[0]) throw Object.assign(failed[0], { partial: true });
  }

  async read(methodIds: readonly string[], resolution: StatsResolution, fromMs: number, toMs: number): Promise<StatsBuckets> {
    const size = STATS_RESOLUTIONS[resolution].bucketMs;
    const starts: number[] = [];
    for (let start = Math.ceil(fromMs / size) * size; start <= toMs; start += size) starts.push(start);
    const pipeline = this.#redis.pipeline();
    for (const methodId of methodIds) for (const start of starts) pipeline.hgetall(this.#prefix + bucketKey(methodId, resolution, start));
    const results = methodIds.length > 0 && starts.length > 0 ? await pipeline.exec() : [];
    const buckets: StatsBuckets = new Map();
    let at = 0;
    for (const methodId of methodIds) {
      const series = new Map<number, BucketCounts>();
      for (const start of starts) {
        const [error, fields] = results![at++]!;
        if (error) throw error;
        const hash = fields as Record<string, string>;
        if (Object.keys(hash).length > 0) series.set(start, fieldsToCounts(hash));
      }
      buckets.set(methodId, series);
    }
    return buckets;
  }

  async methods(sinceMs: number): Promise<string[]> {
    const ids = await this.#redis.zrangebyscore(this.#methodsKey, sinceMs, '+inf');
    return ids.sort();
  }

  async ttlMs(methodId: string, resolution: StatsResolution, bucketStartMs: number): Promise<number | null> {
    const ttl = await this.#redis.pttl(this.#prefix + bucketKey(methodId, resolution, bucketStartMs));
    return ttl < 0 ? null : ttl;
  }
}
