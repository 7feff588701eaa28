import type { Counters } from '../kv/counters.ts';
import { RateLimitedError } from './errors.ts';

export interface Limit {
  readonly max: number;
  readonly windowSeconds: number;
}

/** Fixed-window limits on shared counters, so every node counts the same attempts. */
export class RateLimiter {
  readonly #counters: Counters;

  constructor(counters: Counters) {
    this.#counters = counters;
  }

  /** Counts an attempt; throws once more than `limit.max` were made in the window. */
  async hit(key: string, limit: Limit): Promise<void> {
    const state = await this.#counters.increment(key, limit.windowSeconds * 1000);
    if (state.count > limit.max) throw new RateLimitedError(state.resetInMs / 1000);
  }

  /** Throws when `limit.max` attempts were already counted, without counting this one. */
  async check(key: string, limit: Limit): Promise<void> {
    const state = await this.#counters.peek(key);
    if (state && state.count >= limit.max) throw new RateLimitedError(state.resetInMs / 1000);
  }

  /** Counts an attempt without judging it (a failure to be checked next time). */
  async count(key: string, limit: Limit): Promise<void> {
    await this.#counters.increment(key, limit.windowSeconds * 1000);
  }

  reset(key: string): Promise<void> {
    return this.#counters.reset(key);
  }
}
