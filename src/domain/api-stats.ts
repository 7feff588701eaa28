import { quantiles } from '../kv/latency-histogram.ts';
import { addCounts, bucketStart, emptyCounts, STATS_RESOLUTIONS, type BucketCounts, type StatsResolution, type StatsStore } from '../kv/stats.ts';
import type { Logger } from '../logger.ts';

export type StatsWindow = 'lastHour' | 'last30Days';

/** Each window: its bucket size, its number of points and how often it is computed afresh by default. */
export const STATS_WINDOWS: Readonly<Record<StatsWindow, { resolution: StatsResolution; points: number; refreshMs: number }>> = {
  lastHour: { resolution: 'minute', points: 60, refreshMs: 10_000 },
  last30Days: { resolution: 'tenMinutes', points: 30 * 24 * 6, refreshMs: 60_000 },
};

/** One bucket of one method, or a whole window merged. */
export interface StatsPoint {
  /** Bucket start. */
  readonly at: Date;
  /** accepted + declined */
  readonly calls: number;
  readonly accepted: number;
  readonly declined: number;
  /** Failed accepted calls, exceptions included. */
  readonly errors: number;
  readonly exceptions: number;
  /** Milliseconds, null when no call was accepted. */
  readonly avgMs: number | null;
  readonly p50: number | null;
  readonly p95: number | null;
  readonly p99: number | null;
  /** Declined calls by rule. */
  readonly declinedBy: ReadonlyMap<string, number>;
}

export interface MethodStats {
  readonly methodId: string;
  readonly total: StatsPoint;
  readonly points: readonly StatsPoint[];
}

export interface StatsSnapshot {
  readonly window: StatsWindow;
  readonly bucketSeconds: number;
  /** When the figures were read from the store. */
  readonly lastUpdated: Date;
  readonly methods: readonly MethodStats[];
}

export interface ApiStatsOptions {
  readonly store: StatsStore;
  readonly logger: Logger;
  readonly now?: () => number;
  /** How long a computed window is served before it is computed again (defaults: 10 s and 60 s). */
  readonly refreshMs?: Partial<Record<StatsWindow, number>>;
}

type Listener = (snapshot: StatsSnapshot) => void;

interface Cached {
  readonly at: number;
  readonly window: StatsWindow;
  /** Still being computed: whoever asks meanwhile waits for the same computation. */
  pending: boolean;
  readonly snapshot: Promise<StatsSnapshot>;
}

/**
 * Statistics as the APIs read them: gap-filled series per method, with percentiles from the merged
 * latency histograms. A window (for every method, or for named ones) is computed once and served
 * from memory until it is due again (10 s for the last hour, 60 s for 30 days), whoever asks: v1
 * reads, GraphQL queries and the live subscription all see the same numbers. Subscribers of the
 * same window and methods on this node share one computation per tick.
 */
export class ApiStats {
  readonly #store: StatsStore;
  readonly #logger: Logger;
  readonly #now: () => number;
  readonly #refreshMs: Record<StatsWindow, number>;
  readonly #cache = new Map<string, Cached>();
  readonly #groups = new Map<string, { readonly listeners: Set<Listener>; readonly timer: NodeJS.Timeout }>();
  /** How many times a window was computed from the store (the bench and tests read it). */
  computations = 0;

  constructor(options: ApiStatsOptions) {
    this.#store = options.store;
    this.#logger = options.logger;
    this.#now = options.now ?? Date.now;
    this.#refreshMs = {
      lastHour: options.refreshMs?.lastHour ?? STATS_WINDOWS.lastHour.refreshMs,
      last30Days: options.refreshMs?.last30Days ?? STATS_WINDOWS.last30Days.refreshMs,
    };
  }

  /** How often the window is computed afresh, and pushed to subscribers. */
  refreshMs(window: StatsWindow): number {
    return this.#refreshMs[window];
  }

  /**
   * The window for every method with calls in it; only those named in `methodIds` when given (each
   * listed, with empty series when it had no calls).
   */
  snapshot(window: StatsWindow, methodIds?: readonly string[] | null): Promise<StatsSnapshot> {
    return this.#computed(view(window, methodIds));
  }

  /**
   * Calls `listener` with the window now and then every refresh interval until the returned
   * function is called. One computation per tick serves every listener of the same window and
   * methods on this node.
   */
  subscribe(window: StatsWindow, methodIds: readonly string[] | null | undefined, listener: Listener): () => void {
    const wanted = view(window, methodIds);
    let group = this.#groups.get(wanted.key);
    if (!group) {
      const listeners = new Set<Listener>();
      const timer = setInterval(() => void this.#tick(wanted, listeners), this.#refreshMs[window]);
      timer.unref();
      group = { listeners, timer };
      this.#groups.set(wanted.key, group);
    }
    const { listeners } = group;
    listeners.add(listener);
    void this.#computed(wanted).then(
      (snapshot) => listeners.has(listener) && listener(snapshot),
      (err: unknown) => this.#logger.warn({ err, window }, 'API statistics: could not compute'),
    );
    return () => {
      listeners.delete(listener);
      if (listeners.size > 0 || this.#groups.get(wanted.key) !== group) return;
      clearInterval(group.timer);
      this.#groups.delete(wanted.key);
    };
  }

  close(): void {
    for (const group of this.#groups.values()) clearInterval(group.timer);
    this.#groups.clear();
  }

  async #tick(wanted: View, listeners: ReadonlySet<Listener>): Promise<void> {
    if (listeners.size === 0) return;
    let snapshot: StatsSnapshot;
    try {
      snapshot = await this.#computed(wanted, true);
    } catch (err) {
      this.#logger.warn({ err, window: wanted.window }, 'API statistics: could not compute');
      return;
    }
    for (const listener of [...listeners]) listener(snapshot);
  }

  /** The cached view, computed again when due (a tick recomputes unless a read did so within half an interval). */
  #computed(wanted: View, tick = false): Promise<StatsSnapshot> {
    const now = this.#now();
    const refresh = this.#refreshMs[wanted.window];
    const cached = this.#cache.get(wanted.key);
    const maxAge = tick ? refresh / 2 : refresh;
    if (cached && (cached.pending || (now - cached.at < maxAge && now >= cached.at))) return cached.snapshot;
    const snapshot = this.#compute(wanted, now);
    if (this.#cache.size >= MAX_CACHED_VIEWS) {
      for (const [key, entry] of this.#cache) if (now - entry.at >= this.#refreshMs[entry.window]) this.#cache.delete(key);
    }
    const entry: Cached = { at: now, window: wanted.window, snapshot, pending: true };
    this.#cache.set(wanted.key, entry);
    snapshot.then(
      () => (entry.pending = false),
      () => {
        if (this.#cache.get(wanted.key) === entry) this.#cache.delete(wanted.key);
      },
    );
    return snapshot;
  }

  async #compute(wanted: View, now: number): Promise<StatsSnapshot> {
    this.computations++;
    const { window } = wanted;
    const { resolution, points } = STATS_WINDOWS[window];
    const size = STATS_RESOLUTIONS[resolution].bucketMs;
    const last = bucketStart(now, resolution);
    const first = last - (points - 1) * size;
    const methodIds = wanted.methodIds ?? (await this.#store.methods(first, now));
    const buckets = await this.#store.read(methodIds, resolution, first, last, now);
    const methods = methodIds.map((methodId) => methodStats(methodId, buckets.get(methodId) ?? new Map(), first, points, size));
    return {
      window,
      bucketSeconds: size / 1000,
      lastUpdated: new Date(now),
      methods: wanted.methodIds ? methods : methods.filter((m) => m.total.calls > 0),
    };
  }
}

/** Distinct (window, methods) pairs whose snapshots are kept. */
const MAX_CACHED_VIEWS = 256;

/** What a snapshot covers: a window, and every method (null) or the named ones, deduplicated in order. */
interface View {
  readonly window: StatsWindow;
  readonly methodIds: readonly string[] | null;
  readonly key: string;
}

function view(window: StatsWindow, methodIds: readonly string[] | null | undefined): View {
  const ids = methodIds ? [...new Set(methodIds)] : null;
  return { window, methodIds: ids, key: `${window}\n${ids ? ids.join('\n') : '*'}` };
}

function methodStats(methodId: string, series: ReadonlyMap<number, BucketCounts>, first: number, points: number, size: number): MethodStats {
  const total = emptyCounts();
  const list: StatsPoint[] = [];
  for (let i = 0; i < points; i++) {
    const at = first + i * size;
    const counts = series.get(at);
    if (counts) addCounts(total, counts);
    list.push(toPoint(at, counts ?? EMPTY));
  }
  return { methodId, total: toPoint(first, total), points: list };
}

const EMPTY = emptyCounts();

export function toPoint(at: number, counts: BucketCounts): StatsPoint {
  const [p50, p95, p99] = counts.accepted > 0 ? quantiles(counts.histogram, [0.5, 0.95, 0.99]) : [null, null, null];
  return {
    at: new Date(at),
    calls: counts.accepted + counts.declined,
    accepted: counts.accepted,
    declined: counts.declined,
    errors: counts.errors,
    exceptions: counts.exceptions,
    avgMs: counts.accepted > 0 ? counts.durationMicros / counts.accepted / 1000 : null,
    p50: p50 ?? null,
    p95: p95 ?? null,
    p99: p99 ?? null,
    declinedBy: counts.declinedBy,
  };
}
