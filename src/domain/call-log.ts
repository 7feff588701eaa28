import type { Db } from '../db/client.ts';
import type { CallLogRow } from '../db/schema.ts';
import type { StatsStore } from '../kv/stats.ts';
import type { Logger } from '../logger.ts';
import { ApiStats, type StatsWindow } from './api-stats.ts';
import { CallLogStore, type CallLogFilter } from './call-log-store.ts';
import { CallRecorder } from './call-recorder.ts';
import type { Page, SortDirection } from './list-query.ts';
import type { Settings } from './settings.ts';

export interface CallLogOptions {
  /** False turns recording off (the bench compares both; the gateway always records). */
  readonly recording?: boolean;
  /** The clock of recording and statistics (tests move it). */
  readonly now?: () => number;
  /** How often recorded calls are written out (default 1 s). */
  readonly flushIntervalMs?: number;
  /** How long a computed statistics window is served, and how often subscribers get one (10 s, 60 s). */
  readonly statsRefreshMs?: Partial<Record<StatsWindow, number>>;
}

export interface CallLogDeps {
  readonly db: Db;
  readonly stats: StatsStore;
  readonly settings: Settings;
  readonly logger: Logger;
  readonly options?: CallLogOptions;
}

/** The API call log and statistics: recording (buffered), the rows in PostgreSQL, the statistics buckets. */
export class CallLog {
  readonly recorder: CallRecorder;
  readonly stats: ApiStats;
  readonly store: CallLogStore;
  readonly #settings: Settings;
  readonly #now: () => number;

  constructor(deps: CallLogDeps) {
    const { options = {} } = deps;
    this.#now = options.now ?? Date.now;
    this.#settings = deps.settings;
    this.store = new CallLogStore(deps.db);
    this.recorder = new CallRecorder({ log: this.store, stats: deps.stats, logger: deps.logger, now: this.#now, flushIntervalMs: options.flushIntervalMs, enabled: options.recording });
    this.stats = new ApiStats({ store: deps.stats, logger: deps.logger, now: this.#now, refreshMs: options.statsRefreshMs });
  }

  /** Makes the partitions of yesterday, today and the next two days. */
  async start(): Promise<void> {
    await this.store.ensurePartitionsAround(this.#now());
  }

  /** Retention: partitions made ahead, and those older than `callLogRetentionDays` dropped whole. Returns how many went. */
  async applyRetention(): Promise<number> {
    const now = this.#now();
    await this.store.ensurePartitionsAround(now);
    const { callLogRetentionDays } = await this.#settings.read();
    return this.store.dropPartitionsBefore(now, callLogRetentionDays);
  }

  count(filter: CallLogFilter): Promise<number> {
    return this.store.count(filter);
  }

  list(filter: CallLogFilter, page: Page, direction: SortDirection = 'desc'): Promise<CallLogRow[]> {
    return this.store.list(filter, page, direction);
  }

  /** Flushes what was recorded and stops the timers. */
  async close(): Promise<void> {
    this.stats.close();
    await this.recorder.close();
  }
}
