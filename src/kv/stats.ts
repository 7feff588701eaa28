import { HISTOGRAM_SCHEME_VERSION } from './latency-histogram.ts';

/** The two bucket sizes of the statistics and how long each bucket is kept. */
export const STATS_RESOLUTIONS = {
  /** 1-minute buckets, kept 61 minutes: the last hour, whole. */
  minute: { bucketMs: 60_000, keepMs: 61 * 60_000 },
  /** 10-minute buckets, kept 30 days. */
  tenMinutes: { bucketMs: 600_000, keepMs: 30 * 24 * 3_600_000 },
} as const;

export type StatsResolution = keyof typeof STATS_RESOLUTIONS;

/** What one bucket of one method counts. Every figure is an integer, so buckets of any number of nodes add exactly. */
export interface BucketCounts {
  /** Calls that ran (successes, errors and exceptions). */
  accepted: number;
  /** Calls refused by a limit before they ran. */
  declined: number;
  /** Accepted calls that failed, exceptions included. */
  errors: number;
  /** Accepted calls that failed unexpectedly (an internal error). */
  exceptions: number;
  /** Sum of the durations of accepted calls, in microseconds. */
  durationMicros: number;
  /** Declined calls by the rule that refused them. */
  declinedBy: Map<string, number>;
  /** Accepted calls by latency bucket (`latency-histogram.ts`). */
  histogram: Map<number, number>;
}

export function emptyCounts(): BucketCounts {
  return { accepted: 0, declined: 0, errors: 0, exceptions: 0, durationMicros: 0, declinedBy: new Map(), histogram: new Map() };
}

export function addCounts(into: BucketCounts, from: BucketCounts): void {
  into.accepted += from.accepted;
  into.declined += from.declined;
  into.errors += from.errors;
  into.exceptions += from.exceptions;
  into.durationMicros += from.durationMicros;
  for (const [rule, count] of from.declinedBy) into.declinedBy.set(rule, (into.declinedBy.get(rule) ?? 0) + count);
  for (const [index, count] of from.histogram) into.histogram.set(index, (into.histogram.get(index) ?? 0) + count);
}

/** Counts to add to one bucket of one method. */
export interface StatsIncrement {
  readonly methodId: string;
  readonly resolution: StatsResolution;
  /** Start of the bucket, epoch milliseconds (a multiple of the bucket size). */
  readonly bucketStartMs: number;
  readonly counts: BucketCounts;
}

/** Buckets read, by method id, then by bucket start. Buckets nobody wrote to are absent. */
export type StatsBuckets = Map<string, Map<number, BucketCounts>>;

/**
 * Statistics as time-series buckets shared by every node: Redis hashes in production (HINCRBY,
 * keys with TTLs), an in-process map in the embedded mode. `nowMs` is the caller's clock: it sets
 * the expiry of the buckets written (and, in memory, which buckets have expired).
 */
export interface StatsStore {
  /** Adds every increment. Throws when nothing could be written (then nothing was), so the caller may retry. */
  add(increments: readonly StatsIncrement[], nowMs: number): Promise<void>;
  /** The buckets of `methodIds` starting within [fromMs, toMs]. */
  read(methodIds: readonly string[], resolution: StatsResolution, fromMs: number, toMs: number, nowMs: number): Promise<StatsBuckets>;
  /** Methods with a bucket written since `sinceMs`, sorted. */
  methods(sinceMs: number, nowMs: number): Promise<string[]>;
  /** Milliseconds until a bucket expires; null when it does not exist. */
  ttlMs(methodId: string, resolution: StatsResolution, bucketStartMs: number, nowMs: number): Promise<number | null>;
}

export function bucketStart(ms: number, resolution: StatsResolution): number {
  const size = STATS_RESOLUTIONS[resolution].bucketMs;
  return Math.floor(ms / size) * size;
}

/** When a bucket stops being kept. */
export function bucketExpiry(bucketStartMs: number, resolution: StatsResolution): number {
  return bucketStartMs + STATS_RESOLUTIONS[resolution].keepMs;
}

/** The versioned key suffix of one bucket; the method id is the hash tag, so one method's buckets share a slot. */
export function bucketKey(methodId: string, resolution: StatsResolution, bucketStartMs: number): string {
  return `stats:v${HISTOGRAM_SCHEME_VERSION}:{${methodId}}:${STATS_RESOLUTIONS[resolution].bucketMs / 1000}:${bucketStartMs / 1000}`;
}

/** The hash fields of a bucket: a, d, e, x, s (µs), r:<rule> (declined by rule), h:<index> (latency bucket). */
export function countsToFields(counts: BucketCounts): [string, number][] {
  const fields: [string, number][] = [];
  if (counts.accepted) fields.push(['a', counts.accepted]);
  if (counts.declined) fields.push(['d', counts.declined]);
  if (counts.errors) fields.push(['e', counts.errors]);
  if (counts.exceptions) fields.push(['x', counts.exceptions]);
  if (counts.durationMicros) fields.push(['s', counts.durationMicros]);
  for (const [rule, count] of counts.declinedBy) fields.push([`r:${rule}`, count]);
  for (const [index, count] of counts.histogram) fields.push([`h:${index}`, count]);
  return fields;
}

export function fieldsToCounts(fields: Readonly<Record<string, string | number>>): BucketCounts {
  const counts = emptyCounts();
  for (const [field, raw] of Object.entries(fields)) {
    const value = Number(raw);
    if (field === 'a') counts.accepted = value;
    else if (field === 'd') counts.declined = value;
    else if (field === 'e') counts.errors = value;
    else if (field === 'x') counts.exceptions = value;
    else if (field === 's') counts.durationMicros = value;
    else if (field.startsWith('r:')) counts.declinedBy.set(field.slice(2), value);
    else if (field.startsWith('h:')) counts.histogram.set(Number(field.slice(2)), value);
  }
  return counts;
}
