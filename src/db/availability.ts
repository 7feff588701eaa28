import type { Sql } from 'postgres';
import type { Logger } from '../logger.ts';
import type { Database } from './client.ts';

/** The code of a query refused because PostgreSQL is known to be away (see `AvailabilityGate`). */
export const DATABASE_UNAVAILABLE = 'DATABASE_UNAVAILABLE';

/** Connection-level codes of the PostgreSQL drivers and of Node's sockets: the database is away, not wrong. */
const UNREACHABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'CONNECT_TIMEOUT',
  'CONNECTION_CLOSED',
  'CONNECTION_ENDED',
  'CONNECTION_DESTROYED',
  DATABASE_UNAVAILABLE,
  // PostgreSQL: admin_shutdown, crash_shutdown, cannot_connect_now, too_many_connections.
  '57P01',
  '57P02',
  '57P03',
  '53300',
]);

/** Whether `error`, or an error it wraps (drizzle and GraphQL wrap driver errors), says the store cannot be reached. */
export function isStoreUnreachable(error: unknown): boolean {
  for (let current = error, depth = 0; current instanceof Error && depth < 8; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && UNREACHABLE_CODES.has(code)) return true;
    if (current.message === 'the embedded database is closed') return true;
    current = (current as { originalError?: unknown }).originalError ?? current.cause;
  }
  return false;
}

export class DatabaseUnavailableError extends Error {
  readonly code = DATABASE_UNAVAILABLE;

  constructor(location: string, cause: unknown) {
    super(`PostgreSQL at ${location} is unreachable; queries are refused until it answers again`, { cause });
    this.name = 'DatabaseUnavailableError';
  }
}

export interface AvailabilityGateOptions {
  /** Printable location of the database, for the refusal's message. */
  location: string;
  /** A trivial query on the real pool; its success ends an outage. */
  probe: () => Promise<unknown>;
  /** Pause between failed probes. */
  retryMs?: number;
  /** Called when an outage starts (with the failure that showed it) and when it ends. */
  onChange?: (change: { available: false; error: unknown } | { available: true; downMs: number }) => void;
}

/**
 * A circuit breaker in front of the PostgreSQL pool. The first connection-level failure of any
 * query opens it; from then on every query is refused at once with `DatabaseUnavailableError`
 * (a 503-class answer upstream) instead of waiting for the pool's reconnect attempts, which take
 * up to `connect_timeout` each when the host does not answer. One probe at a time retries the
 * server; its first success closes the gate.
 */
export class AvailabilityGate {
  readonly #options: AvailabilityGateOptions;
  #outage: { error: DatabaseUnavailableError; since: number } | undefined;
  #closed = false;

  constructor(options: AvailabilityGateOptions) {
    this.#options = options;
  }

  get available(): boolean {
    return this.#outage === undefined;
  }

  /** Throws the refusal while an outage lasts. */
  admit(): void {
    if (this.#outage) throw this.#outage.error;
  }

  /** Notes the failure of a query: a connection-level one starts an outage. */
  observe(error: unknown): void {
    if (this.#closed || this.#outage || error instanceof DatabaseUnavailableError || !isStoreUnreachable(error)) return;
    this.#outage = { error: new DatabaseUnavailableError(this.#options.location, error), since: Date.now() };
    this.#options.onChange?.({ available: false, error });
    // One prober per outage: the next outage can only start once this one has ended it.
    void this.#probeUntilAvailable();
  }

  /** Stops probing (the pool is closing). */
  close(): void {
    this.#closed = true;
  }

  async #probeUntilAvailable(): Promise<void> {
    const retryMs = this.#options.retryMs ?? 250;
    // The first probe goes at once: a single reset connection must not refuse calls for long.
    while (this.#outage && !this.#closed) {
      try {
        await this.#options.probe();
        const since = this.#outage.since;
        this.#outage = undefined;
        this.#options.onChange?.({ available: true, downMs: Date.now() - since });
        return;
      } catch {
        await new Promise<void>((resolve) => setTimeout(resolve, retryMs).unref());
      }
    }
  }

  /**
   * `client` with its query entry points (`unsafe`, which drizzle runs every statement through, and
   * `begin` for transactions) behind this gate. Other members pass through untouched.
   */
  guard(current: () => Sql): Sql {
    // The client behind it may be replaced (see `isPostgresSocketRace`): every access reads the current one.
    return new Proxy(current(), {
      get: (_initial, key) => {
        const target = current();
        if (key === 'unsafe') return (...args: Parameters<Sql['unsafe']>) => this.#guardQuery(() => target.unsafe(...args));
        if (key === 'begin') return (...args: unknown[]) => this.#guardTransaction(() => (target.begin as (...a: unknown[]) => Promise<unknown>)(...args));
        return Reflect.get(target, key);
      },
    });
  }

  #guardQuery<Q extends PromiseLike<unknown>>(start: () => Q): Q {
    if (this.#outage) return refusedQuery(this.#outage.error) as unknown as Q;
    const query = start();
    // postgres.js queries run when first awaited: watch the outcome on that await.
    const then = query.then;
    const observe = (error: unknown) => this.observe(error);
    Object.defineProperty(query, 'then', {
      configurable: true,
      writable: true,
      value(this: Q, onFulfilled?: (value: unknown) => unknown, onRejected?: (reason: unknown) => unknown) {
        return then.call(this, onFulfilled, (error: unknown) => {
          observe(error);
          if (onRejected) return onRejected(error);
          throw error;
        });
      },
    });
    return query;
  }

  #guardTransaction<T>(start: () => Promise<T>): Promise<T> {
    if (this.#outage) return Promise.reject(this.#outage.error);
    const transaction = start();
    transaction.catch((error: unknown) => this.observe(error));
    return transaction;
  }
}

/** A refusal shaped like a postgres.js query, so that drizzle's `.values()` chain still works. */
function refusedQuery(error: Error): Promise<never> & { values(): Promise<never>; raw(): Promise<never> } {
  const refused = Promise.reject(error) as Promise<never> & { values(): Promise<never>; raw(): Promise<never> };
  refused.values = () => refused;
  refused.raw = () => refused;
  return refused;
}

/**
 * postgres.js 3.4 can write on a connection whose socket it has just dropped when the server goes
 * away under load: a `TypeError` thrown from its `nextWrite` outside any promise. Left alone it
 * ends the process; caught, it leaves that connection unable to send. The gateway catches exactly
 * this error and replaces the pool (`Database.replacePool`).
 */
export function isPostgresSocketRace(error: unknown): boolean {
  return (
    error instanceof TypeError &&
    /Cannot read properties of null \(reading 'write'\)/.test(error.message) &&
    /nextWrite/.test(error.stack ?? '') &&
    /postgres[/\\](?:src|cjs[/\\]src)[/\\]connection\.js/.test(error.stack ?? '')
  );
}

/**
 * The process's handler of uncaught exceptions: the driver race above replaces the pool and the
 * process goes on; anything else is logged and ends the process with 1, as Node would.
 */
export function handleUncaughtExceptions(database: Database, log: Logger, flush: () => void): void {
  process.on('uncaughtException', (error) => {
    if (isPostgresSocketRace(error) && database.replacePool) {
      log.error({ err: error, database: database.location }, 'the PostgreSQL driver wrote on a closed connection: its pool is replaced');
      database.replacePool();
      return;
    }
    log.fatal({ err: error }, 'uncaught exception');
    flush();
    process.exit(1);
  });
}
