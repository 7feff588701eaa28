import {
  addCounts,
  bucketExpiry,
  bucketKey,
  emptyCounts,
  STATS_RESOLUTIONS,
  type BucketCounts,
  type StatsBuckets,
  type StatsIncrement,
  type StatsResolution,
  type StatsStore,
} from './stats.ts';

interface StoredBucket {
  readonly counts: BucketCounts;
  readonly expiresAtMs: number;
}

/** The statistics of the embedded mode: the same buckets and expiry as in Redis, in this process. */
export class MemoryStats implements StatsStore {
  readonly #buckets = new Map<string, StoredBucket>();
  /** Method id → start of the newest bucket written. */
  readonly #methods = new Map<string, number>();
  #sweptAt = Number.NEGATIVE_INFINITY;

  async add(increments: readonly StatsIncrement[], nowMs: number): Promise<void> {
    this.#expire(nowMs);
    for (const { methodId, resolution, bucketStartMs, counts } of increments) {
      const expiresAtMs = bucketExpiry(bucketStartMs, resolution);
      if (expiresAtMs <= nowMs) continue;
      const key = bucketKey(methodId, resolution, bucketStartMs);
      let bucket = this.#buckets.get(key);
      if (!bucket) this.#buckets.set(key, (bucket = { counts: emptyCounts(), expiresAtMs }));
      addCounts(bucket.counts, counts);
      this.#methods.set(methodId, Math.max(this.#methods.get(methodId) ?? 0, bucketStartMs));
    }
  }

  async read(methodIds: readonly string[], resolution: StatsResolution, fromMs: number, toMs: number, nowMs: number): Promise<StatsBuckets> {
    const size = STATS_RESOLUTIONS[resolution].bucketMs;
    const result: StatsBuckets = new Map();
    for (const methodId of methodIds) {
      const series = new Map<number, BucketCounts>();
      for (let start = Math.ceil(fromMs / size) * size; start <= toMs; start += size) {
        const bucket = this.#buckets.get(bucketKey(methodId, resolution, start));
        if (bucket && bucket.expiresAtMs > nowMs) series.set(start, copy(bucket.counts));
      }
      result.set(methodId, series);
    }
    return result;
  }

  async methods(sinceMs: number, nowMs: number): Promise<string[]> {
    this.#expire(nowMs);
    return [...this.#methods].filter(([, newest]) => newest >= sinceMs).map(([id]) => id).sort();
  }

  async ttlMs(methodId: string, resolution: StatsResolution, bucketStartMs: number, nowMs: number): Promise<number | null> {
    const bucket = this.#buckets.get(bucketKey(methodId, resolution, bucketStartMs));
    return bucket && bucket.expiresAtMs > nowMs ? bucket.expiresAtMs - nowMs : null;
  }

  #expire(nowMs: number): void {
    // Reads check expiry themselves: sweeping every few seconds keeps memory bounded.
    if (Math.abs(nowMs - this.#sweptAt) < 5000) return;
    this.#sweptAt = nowMs;
    for (const [key, bucket] of this.#buckets) if (bucket.expiresAtMs <= nowMs) this.#buckets.delete(key);
    const oldest = nowMs - STATS_RESOLUTIONS.tenMinutes.keepMs;
    for (const [id, newest] of this.#methods) if (newest < oldest) this.#methods.delete(id);
  }
}

function copy(counts: BucketCounts): BucketCounts {
  const fresh = emptyCounts();
  addCounts(fresh, counts);
  return fresh;
}
