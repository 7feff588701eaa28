/**
 * The one latency histogram scheme of the statistics, version 1 (the version is part of every
 * statistics key: a new scheme writes new keys and never mixes with the old one).
 *
 * Durations are counted in whole microseconds. Below 2^SUB_BITS µs (16 µs) every microsecond has
 * its own bucket. Above, each power of two [2^e, 2^(e+1)) is split into 2^SUB_BITS (16) equal
 * buckets, so a bucket [lo, hi) has hi ≤ lo × (1 + 1/16). A percentile is reported as the middle of
 * its bucket, so the worst-case relative error is 1/32 = 3.125 % (for durations of 16 µs and more;
 * below, the error is under 1 µs). Buckets are integers, so histograms of any number of nodes add
 * exactly, and percentiles of merged histograms are those of all the calls together.
 */
export const HISTOGRAM_SCHEME_VERSION = 1;

const SUB_BITS = 4;
const SUB_BUCKETS = 1 << SUB_BITS;

/** The worst-case relative error of a reported percentile (for durations ≥ 16 µs). */
export const HISTOGRAM_RELATIVE_ERROR = 1 / (2 * SUB_BUCKETS);

/** Durations beyond about 19 hours all fall into the last bucket. */
const MAX_EXPONENT = 36;
const MAX_INDEX = SUB_BUCKETS + (MAX_EXPONENT - SUB_BITS + 1) * SUB_BUCKETS - 1;

/** The bucket of a duration given in milliseconds (fractional). */
export function bucketOf(durationMs: number): number {
  const micros = Math.max(0, Math.floor(durationMs * 1000));
  if (micros < SUB_BUCKETS) return micros;
  let exponent = Math.floor(Math.log2(micros));
  // log2 rounds near powers of two: settle 2^e ≤ micros < 2^(e+1) exactly.
  if (2 ** exponent > micros) exponent--;
  else if (2 ** (exponent + 1) <= micros) exponent++;
  if (exponent > MAX_EXPONENT) return MAX_INDEX;
  const sub = Math.floor(micros / 2 ** (exponent - SUB_BITS)) - SUB_BUCKETS;
  return SUB_BUCKETS + (exponent - SUB_BITS) * SUB_BUCKETS + Math.min(sub, SUB_BUCKETS - 1);
}

/** The lower and upper bound of a bucket, in microseconds. */
export function bucketBounds(index: number): { lo: number; hi: number } {
  if (index < SUB_BUCKETS) return { lo: index, hi: index + 1 };
  const exponent = Math.floor((index - SUB_BUCKETS) / SUB_BUCKETS) + SUB_BITS;
  const sub = (index - SUB_BUCKETS) % SUB_BUCKETS;
  const width = 2 ** (exponent - SUB_BITS);
  const lo = 2 ** exponent + sub * width;
  return { lo, hi: lo + width };
}

/** The value a bucket reports, in milliseconds: its middle (its own value below 16 µs). */
export function bucketValueMs(index: number): number {
  if (index < SUB_BUCKETS) return index / 1000;
  const { lo, hi } = bucketBounds(index);
  return (lo + hi) / 2 / 1000;
}

/** Counts by bucket index. */
export type Histogram = Map<number, number>;

export function addHistogram(into: Histogram, from: ReadonlyMap<number, number>): void {
  for (const [index, count] of from) into.set(index, (into.get(index) ?? 0) + count);
}

/**
 * The `q`-quantiles (0 < q ≤ 1) of a histogram in milliseconds: the value of the bucket holding the
 * call of rank ⌈q × n⌉; null for an empty histogram.
 */
export function quantiles(histogram: ReadonlyMap<number, number>, qs: readonly number[]): (number | null)[] {
  let total = 0;
  for (const count of histogram.values()) total += count;
  if (total === 0) return qs.map(() => null);
  const sorted = [...histogram.entries()].filter(([, count]) => count > 0).sort((a, b) => a[0] - b[0]);
  return qs.map((q) => {
    const rank = Math.max(1, Math.ceil(q * total));
    let seen = 0;
    for (const [index, count] of sorted) {
      seen += count;
      if (seen >= rank) return bucketValueMs(index);
    }
    return bucketValueMs(sorted.at(-1)![0]);
  });
}
