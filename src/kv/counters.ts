export interface CounterState {
  /** The value after the operation. */
  readonly count: number;
  /** Milliseconds until the counter's window ends and it starts again from zero. */
  readonly resetInMs: number;
}

/** Atomic counters with expiry, shared by every node (fixed-window rate limits). */
export interface Counters {
  /** Adds `by` (default 1); a counter that did not exist starts a window of `windowMs`. */
  increment(key: string, windowMs: number, by?: number): Promise<CounterState>;
  /** The current state, or null when the counter does not exist (never set, expired or reset). */
  peek(key: string): Promise<CounterState | null>;
  /**
   * Gives back `by` (default 1) counted earlier: never below zero, never creating a counter or moving
   * its window. Null when the counter does not exist.
   */
  decrement(key: string, by?: number): Promise<CounterState | null>;
  /**
   * Ends a live counter's window `windowMs` from now, sooner or later than before (with `sooner`,
   * only if that is sooner). False when the counter does not exist.
   */
  expireIn(key: string, windowMs: number, options?: { readonly sooner?: boolean }): Promise<boolean>;
  reset(key: string): Promise<void>;
}
