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
  readonly snapshot: Promise<StatsSnapshot>;
}

/**
 * Statistics as the APIs read them: gap-filled series per method, with percentiles from the merged
 * latency histograms. Each window is computed for every method at once and served from memory
 * until it is due again (10 s for the last hour, 60 s for 30 days), whoever asks: v1 reads,
 * GraphQL queries and the live subscription all see the same numbers. Subscribers of a window on
 * this node share one computation per tick.
 */
export class ApiStats {
  readonly #store: StatsStore;
  readonly #logger: Logger;
  readonly #now: () => number;
  readonly #refreshMs: Record<StatsWindow, number>;
  readonly #cache = new Map<StatsWindow, Cached>();
  readonly #listeners = new Map<StatsWindow, Set<Listener>>();
  readonly #timers = new Map<StatsWindow, NodeJS.Timeout>();
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
   * The window for every method with calls in it, plus any named in `methodIds` (empty series when
   * they had none); only those named when `methodIds` is given.
   */
  async snapshot(window: StatsWindow, methodIds?: readonly string[] | null): Promise<StatsSnapshot> {
    return select(await this.#computed(window), methodIds);
  }

  /** The snapshot's methods narrowed to `methodIds` (each listed, with empty series when it had no calls). */
  select(snapshot: StatsSnapshot, methodIds: readonly string[] | null | undefined): StatsSnapshot {
    return select(snapshot, methodIds);
  }

  /**
   * Calls `listener` with the window now and then every refresh interval until the returned
   * function is called. One computation per tick serves every listener of the window on this node.
   */
  subscribe(window: StatsWindow, listener: Listener): () => void {
    let listeners = this.#listeners.get(window);
    if (!listeners) this.#listeners.set(window, (listeners = new Set()));
    listeners.add(listener);
    if (!this.#timers.has(window)) {
      const timer = setInterval(() => void this.#tick(window), this.#refreshMs[window]);
      timer.unref();
      this.#timers.set(window, timer);
    }
    void this.#computed(window).then(
      (snapshot) => listeners.has(listener) && listener(snapshot),
      (err: unknown) => this.#logger.warn({ err, window }, 'API statistics: could not compute'),
    );
    return () => {
      listeners.delete(listener);
      if (listeners.size > 0) return;
      this.#listeners.delete(window);
      clearInterval(this.#timers.get(window));
      this.#timers.delete(window);
    };
  }

  close(): void {
    for (const timer of this.#timers.values()) clearInterval(timer);
    this.#timers.clear();
    this.#listeners.clear();
  }

  async #tick(window: StatsWindow): Promise<void> {
    const listeners = this.#listeners.get(window);
    if (!listeners?.size) return;
    let snapshot: StatsSnapshot;
    try {
      snapshot = await this.#computed(window, true);
    } catch (err) {
      this.#logger.warn({ err, window }, 'API statistics: could not compute');
      return;
    }
    for (const listener of [...listeners]) listener(snapshot);
  }

  /** The cached window, computed again when due (or when a tick asks and the cache is not fresh from this very tick). */
  #computed(window: StatsWindow, tick = false): Promise<StatsSnapshot> {
    const now = this.#now();
    const cached = this.#cache.get(window);
    // A tick recomputes unless the cache is younger than half an interval (a read just did it).
    const maxAge = tick ? this.#refreshMs[window] / 2 : this.#refreshMs[window];
    if (cached && now - cached.at < maxAge && now >= cached.at) return cached.snapshot;
    const snapshot = this.#compute(window, now);
    this.#cache.set(window, { at: now, snapshot });
    snapshot.catch(() => {
      if (this.#cache.get(window)?.snapshot === snapshot) this.#cache.delete(window);
    });
    return snapshot;
  }

  async #compute(window: StatsWindow, now: number): Promise<StatsSnapshot> {
    this.computations++;
    const { resolution, points } = STATS_WINDOWS[window];
    const size = STATS_RESOLUTIONS[resolution].bucketMs;
    const last = bucketStart(now, resolution);
    const first = last - (points - 1) * size;
    const methodIds = await this.#store.methods(first, now);
    const buckets = await this.#store.read(methodIds, resolution, first, last, now);
    const methods = methodIds.map((methodId) => methodStats(methodId, buckets.get(methodId) ?? new Map(), first, points, size));
    return { window, bucketSeconds: size / 1000, lastUpdated: new Date(now), methods: methods.filter((m) => m.total.calls > 0) };
  }
}

function select(snapshot: StatsSnapshot, methodIds: readonly string[] | null | undefined): StatsSnapshot {
  if (!methodIds) return snapshot;
  const { resolution, points } = STATS_WINDOWS[snapshot.window];
  const size = STATS_RESOLUTIONS[resolution].bucketMs;
  const byId = new Map(snapshot.methods.map((m) => [m.methodId, m]));
  const first = bucketStart(snapshot.lastUpdated.getTime(), resolution) - (points - 1) * size;
  const methods = [...new Set(methodIds)].map((id) => byId.get(id) ?? methodStats(id, new Map(), first, points, size));
  return { ...snapshot, methods };
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
