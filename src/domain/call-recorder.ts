import { bucketOf } from '../kv/latency-histogram.ts';
import { bucketStart, emptyCounts, addCounts, type BucketCounts, type StatsIncrement, type StatsResolution, type StatsStore } from '../kv/stats.ts';
import type { Logger } from '../logger.ts';
import type { CallLogEntry, CallLogStore } from './call-log-store.ts';
import type { ClientInfo } from './client-info.ts';
import type { Principal } from './principal.ts';

/** One finished (or declined) call, as a transport hands it to the recorder. */
export interface FinishedCall {
  /** `/v1/test/test`, or `graphql/<query|mutation|subscription>/<field>`. */
  readonly methodId: string;
  readonly principal: Principal;
  readonly client: ClientInfo | null;
  /** How long the call ran (0 for a declined call), in milliseconds. */
  readonly durationMs: number;
  readonly status: number;
  readonly statusText: string;
  /** The call failed (exceptions included). */
  readonly error: boolean;
  /** It failed unexpectedly (an internal error). */
  readonly exception: boolean;
  /** Set when a limit refused the call before it ran: the rule's name. */
  readonly declinedBy?: string | null;
}

/** Who a declined call came from. */
export interface Caller {
  readonly principal: Principal;
  readonly client: ClientInfo | null;
}

export interface CallRecorderOptions {
  readonly log: CallLogStore;
  readonly stats: StatsStore;
  readonly logger: Logger;
  /** The clock calls are stamped with (tests move it). */
  readonly now?: () => number;
  /** How often the buffer is written out (default 1 s). */
  readonly flushIntervalMs?: number;
  /** Rows kept for a retry while the database is unreachable; the oldest go beyond. */
  readonly maxPendingRows?: number;
  /** False records nothing (default true). */
  readonly enabled?: boolean;
}

const RESOLUTIONS: readonly StatsResolution[] = ['minute', 'tenMinutes'];

/** The status a declined call answers with: the v1 `-32802`. */
export const DECLINED_STATUS = { status: -32802, statusText: 'Too many requests' } as const;

/**
 * The call log and statistics on the request path: `record` (and `declined`) only append to an
 * in-memory buffer. A flusher, every second and at `close()`, adds the buffer's counts to the
 * statistics buckets in one pipeline and writes its rows to the call log in one statement. When
 * the statistics store cannot be reached the counts wait for the next flush (nothing was written);
 * when the database cannot, the rows wait too, up to `maxPendingRows`.
 */
export class CallRecorder {
  readonly #log: CallLogStore;
  readonly #stats: StatsStore;
  readonly #logger: Logger;
  readonly #now: () => number;
  readonly #maxPendingRows: number;
  #buffer: CallLogEntry[] = [];
  #pendingRows: CallLogEntry[] = [];
  #pendingStats = new Map<string, StatsIncrement>();
  #flushing: Promise<void> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #closed: boolean;

  constructor(options: CallRecorderOptions) {
    this.#log = options.log;
    this.#stats = options.stats;
    this.#logger = options.logger;
    this.#now = options.now ?? Date.now;
    this.#maxPendingRows = options.maxPendingRows ?? 100_000;
    this.#closed = options.enabled === false;
    this.#timer = setInterval(() => void this.flush(), options.flushIntervalMs ?? 1000);
    this.#timer.unref();
  }

  /** Records a finished call. */
  record(call: FinishedCall): void {
    if (this.#closed) return;
    const { principal } = call;
    this.#buffer.push({
      methodId: call.methodId,
      userId: principal.kind === 'guest' ? null : principal.user.id,
      credentialKind: principal.kind === 'guest' ? null : principal.kind,
      credentialId: principal.kind === 'session' ? principal.sessionId : principal.kind === 'apiToken' ? principal.tokenId : null,
      clientAddress: call.client?.address ?? null,
      startedAt: this.#now() - call.durationMs,
      durationMs: call.durationMs,
      status: call.status,
      statusText: call.statusText,
      isError: call.error || Boolean(call.declinedBy),
      isException: call.exception,
      isDeclined: Boolean(call.declinedBy),
      declinedBy: call.declinedBy ?? null,
    });
  }

  /**
   * Records a call that a limit refused before it ran: `rule` names the limit (`perAddress`,
   * `concurrentPerCaller`, …: `RULE_NAMES`). It counts as declined, never as accepted or as an error.
   */
  declined(methodId: string, rule: string, caller: Caller, answer: { status: number; statusText: string } = DECLINED_STATUS): void {
    this.record({ methodId, principal: caller.principal, client: caller.client, durationMs: 0, ...answer, error: false, exception: false, declinedBy: rule });
  }

  /** Writes out what was recorded so far (one flush at a time; a flush asked for during one follows it). */
  flush(): Promise<void> {
    const run = async (): Promise<void> => {
      const batch = this.#buffer;
      this.#buffer = [];
      this.#aggregate(batch);
      await Promise.all([this.#flushStats(), this.#flushRows(batch)]);
    };
    const next = (this.#flushing ?? Promise.resolve()).then(run);
    const tracked = next.finally(() => {
      if (this.#flushing === tracked) this.#flushing = undefined;
    });
    this.#flushing = tracked;
    return tracked;
  }

  /** Stops the timer and flushes what is left: no recorded call is lost on shutdown. */
  async close(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    await this.flush();
    this.#closed = true;
  }

  #aggregate(batch: readonly CallLogEntry[]): void {
    for (const entry of batch) {
      for (const resolution of RESOLUTIONS) {
        const start = bucketStart(entry.startedAt, resolution);
        const key = `${resolution}\n${start}\n${entry.methodId}`;
        let increment = this.#pendingStats.get(key);
        if (!increment) {
          increment = { methodId: entry.methodId, resolution, bucketStartMs: start, counts: emptyCounts() };
          this.#pendingStats.set(key, increment);
        }
        count(increment.counts, entry);
      }
    }
  }

  async #flushStats(): Promise<void> {
    if (this.#pendingStats.size === 0) return;
    const increments = [...this.#pendingStats.values()];
    this.#pendingStats = new Map();
    try {
      await this.#stats.add(increments, this.#now());
    } catch (err) {
      if ((err as { partial?: boolean }).partial) {
        this.#logger.warn({ err }, 'call statistics: a flush was written in part');
        return;
      }
      // Nothing was written: the counts join the next flush (old buckets expire on their own).
      for (const increment of increments) {
        const key = `${increment.resolution}\n${increment.bucketStartMs}\n${increment.methodId}`;
        const waiting = this.#pendingStats.get(key);
        if (waiting) addCounts(waiting.counts, increment.counts);
        else this.#pendingStats.set(key, increment);
      }
      this.#logger.debug({ err }, 'call statistics: store unreachable, kept for the next flush');
    }
  }

  async #flushRows(batch: readonly CallLogEntry[]): Promise<void> {
    const rows = this.#pendingRows.length > 0 ? [...this.#pendingRows, ...batch] : batch;
    this.#pendingRows = [];
    if (rows.length === 0) return;
    try {
      await this.#log.insert(rows);
    } catch (err) {
      this.#pendingRows = rows.length > this.#maxPendingRows ? rows.slice(rows.length - this.#maxPendingRows) : [...rows];
      this.#logger.warn({ err, waiting: this.#pendingRows.length }, 'call log: could not write rows, kept for the next flush');
    }
  }
}

function count(counts: BucketCounts, entry: CallLogEntry): void {
  if (entry.isDeclined) {
    counts.declined++;
    if (entry.declinedBy) counts.declinedBy.set(entry.declinedBy, (counts.declinedBy.get(entry.declinedBy) ?? 0) + 1);
    return;
  }
  counts.accepted++;
  if (entry.isError) counts.errors++;
  if (entry.isException) counts.exceptions++;
  counts.durationMicros += Math.round(entry.durationMs * 1000);
  const index = bucketOf(entry.durationMs);
  counts.histogram.set(index, (counts.histogram.get(index) ?? 0) + 1);
}
