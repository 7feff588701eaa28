import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bucketBounds, bucketOf, bucketValueMs, HISTOGRAM_RELATIVE_ERROR, quantiles } from '../../src/kv/latency-histogram.ts';
import { bucketStart, emptyCounts, STATS_RESOLUTIONS, type BucketCounts, type StatsIncrement } from '../../src/kv/stats.ts';
import { KV_KINDS, openKvNodes, type KvNodes } from '../helpers/kv.ts';

const HOUR = 3_600_000;

function counts(partial: Partial<Omit<BucketCounts, 'declinedBy' | 'histogram'>> & { declinedBy?: [string, number][]; histogram?: [number, number][] }): BucketCounts {
  return { ...emptyCounts(), ...partial, declinedBy: new Map(partial.declinedBy ?? []), histogram: new Map(partial.histogram ?? []) };
}

describe.each(KV_KINDS)('StatsStore contract (%s)', (kind) => {
  let nodes: KvNodes;
  beforeAll(async () => {
    nodes = await openKvNodes(kind);
  });
  afterAll(() => nodes?.close());

  const method = () => `/v1/contract/${randomUUID()}`;

  it('adds increments from several nodes exactly into the same buckets', async () => {
    const id = method();
    const now = Date.now();
    const start = bucketStart(now, 'minute');
    const one = (by: number): StatsIncrement => ({
      methodId: id,
      resolution: 'minute',
      bucketStartMs: start,
      counts: counts({ accepted: by, errors: 1, exceptions: 1, durationMicros: 1500 * by, declined: 2, declinedBy: [['concurrency', 2]], histogram: [[bucketOf(1.5), by]] }),
    });
    await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? nodes.a : nodes.b).stats.add([one(i + 1)], now)));
    const read = await nodes.a.stats.read([id], 'minute', start - 60_000, start, now);
    const bucket = read.get(id)!.get(start)!;
    expect(bucket).toEqual(counts({ accepted: 210, errors: 20, exceptions: 20, durationMicros: 1500 * 210, declined: 40, declinedBy: [['concurrency', 40]], histogram: [[bucketOf(1.5), 210]] }));
    expect(read.get(id)!.has(start - 60_000)).toBe(false);
    expect(await nodes.b.stats.methods(start, now)).toContain(id);
  });

  it('gives 1-minute buckets 61 minutes and 10-minute buckets 30 days from their start', async () => {
    const id = method();
    const now = Date.now();
    const minute = bucketStart(now, 'minute');
    const tenMinutes = bucketStart(now, 'tenMinutes');
    await nodes.a.stats.add(
      [
        { methodId: id, resolution: 'minute', bucketStartMs: minute, counts: counts({ accepted: 1 }) },
        { methodId: id, resolution: 'tenMinutes', bucketStartMs: tenMinutes, counts: counts({ accepted: 1 }) },
      ],
      now,
    );
    const minuteTtl = (await nodes.b.stats.ttlMs(id, 'minute', minute, now))!;
    expect(minuteTtl).toBeLessThanOrEqual(minute + STATS_RESOLUTIONS.minute.keepMs - now);
    expect(minuteTtl).toBeGreaterThan(minute + STATS_RESOLUTIONS.minute.keepMs - now - 5000);
    const tenTtl = (await nodes.b.stats.ttlMs(id, 'tenMinutes', tenMinutes, now))!;
    expect(tenTtl).toBeLessThanOrEqual(tenMinutes + 30 * 24 * HOUR - now);
    expect(tenTtl).toBeGreaterThan(tenMinutes + 30 * 24 * HOUR - now - 5000);
    expect(await nodes.b.stats.ttlMs(id, 'minute', minute - 60_000, now)).toBeNull();
  });

  it('writes nothing for a bucket already past its keep, and lists only methods with recent buckets', async () => {
    const id = method();
    const now = Date.now();
    const old = bucketStart(now - 2 * HOUR, 'minute');
    await nodes.a.stats.add([{ methodId: id, resolution: 'minute', bucketStartMs: old, counts: counts({ accepted: 1 }) }], now);
    expect((await nodes.a.stats.read([id], 'minute', old, old, now)).get(id)!.size).toBe(0);
    expect(await nodes.a.stats.methods(now - HOUR, now)).not.toContain(id);
  });
});

describe('the latency histogram scheme (v1)', () => {
  it('puts every duration in a bucket no wider than 1/16 of its lower bound, and reports within 1/32', () => {
    for (let micros = 16; micros < 5_000_000; micros = Math.ceil(micros * 1.013)) {
      const index = bucketOf(micros / 1000);
      const { lo, hi } = bucketBounds(index);
      expect(micros).toBeGreaterThanOrEqual(lo);
      expect(micros).toBeLessThan(hi);
      expect((hi - lo) / lo).toBeLessThanOrEqual(1 / 16);
      expect(Math.abs(bucketValueMs(index) * 1000 - micros) / micros).toBeLessThanOrEqual(HISTOGRAM_RELATIVE_ERROR);
    }
    expect(HISTOGRAM_RELATIVE_ERROR).toBe(1 / 32);
    // Below 16 µs each microsecond is its own bucket.
    expect(bucketValueMs(bucketOf(0.007))).toBe(0.007);
    expect(bucketOf(0)).toBe(0);
  });

  it('gives p50, p95 and p99 of a known distribution within the stated error, merged from several histograms', () => {
    // 10,000 durations, log-uniform from 0.1 ms to 2 s, spread over 4 "nodes".
    const durations = Array.from({ length: 10_000 }, (_, i) => 0.1 * Math.pow(20_000, (i * 7919 % 10_000) / 10_000));
    const parts = [new Map<number, number>(), new Map<number, number>(), new Map<number, number>(), new Map<number, number>()];
    durations.forEach((ms, i) => {
      const part = parts[i % 4]!;
      const index = bucketOf(ms);
      part.set(index, (part.get(index) ?? 0) + 1);
    });
    const merged = new Map<number, number>();
    for (const part of parts) for (const [index, count] of part) merged.set(index, (merged.get(index) ?? 0) + count);
    const sorted = [...durations].sort((a, b) => a - b);
    const exact = (q: number) => sorted[Math.ceil(q * sorted.length) - 1]!;
    const [p50, p95, p99] = quantiles(merged, [0.5, 0.95, 0.99]);
    for (const [q, got] of [[0.5, p50], [0.95, p95], [0.99, p99]] as const) {
      expect(Math.abs(got! - exact(q)) / exact(q)).toBeLessThanOrEqual(HISTOGRAM_RELATIVE_ERROR);
    }
    expect(quantiles(new Map(), [0.5])).toEqual([null]);
  });
});
