import type { SettingsRow } from '../db/schema.ts';
import type { Counters } from '../kv/counters.ts';
import { RateLimitedError } from './errors.ts';

export interface Limit {
  readonly max: number;
  readonly windowSeconds: number;
}

/**
 * Fixed-window limits on shared counters, so every node counts the same attempts. An attempt is
 * counted before it is judged (increment, then compare), so parallel attempts cannot all slip in
 * under a limit that each of them read before the others were counted.
 */
export class RateLimiter {
  readonly #counters: Counters;

  constructor(counters: Counters) {
    this.#counters = counters;
  }

  /** Counts an attempt for good; throws once more than `limit.max` were made in the window. */
  async hit(key: string, limit: Limit): Promise<void> {
    const state = await this.#counters.increment(key, limit.windowSeconds * 1000);
    if (state.count > limit.max) throw new RateLimitedError(state.resetInMs / 1000);
  }

  /**
   * Counts an attempt that may be given back later; returns its place in the window. Past the
   * limit it is given back at once and refused; the refusals end within `maxWaitSeconds`.
   */
  async take(key: string, limit: Limit, maxWaitSeconds = Number.POSITIVE_INFINITY): Promise<number> {
    const state = await this.#counters.increment(key, limit.windowSeconds * 1000);
    if (state.count <= limit.max) return state.count;
    await this.#counters.decrement(key);
    if (state.resetInMs > maxWaitSeconds * 1000) {
      // Over the limit with no shorter hold on it (the limit was lowered, or the attempt that would
      // have set one never finished): never refuse for longer than the promised wait.
      await this.#counters.expireIn(key, maxWaitSeconds * 1000, { sooner: true });
    }
    throw new RateLimitedError(Math.min(state.resetInMs / 1000, maxWaitSeconds));
  }

  async giveBack(key: string): Promise<void> {
    await this.#counters.decrement(key);
  }

  /** Counts one more in a window of its own (how many lockouts an account had). */
  async count(key: string, windowSeconds: number): Promise<number> {
    return (await this.#counters.increment(key, windowSeconds * 1000)).count;
  }

  /** Keeps a counter, and so its refusals, for `seconds` from now. */
  async holdFor(key: string, seconds: number): Promise<void> {
    await this.#counters.expireIn(key, seconds * 1000);
  }

  reset(key: string): Promise<void> {
    return this.#counters.reset(key);
  }
}

export type SignInLimitSettings = Pick<
  SettingsRow,
  | 'signinIpLimit'
  | 'signinIpFailureLimit'
  | 'signinIpWindowSeconds'
  | 'signinAccountLimit'
  | 'signinAccountLockoutSeconds'
  | 'signinAccountMaxLockoutSeconds'
  | 'signinAccountWindowSeconds'
>;

/** What a sign-in that got past the limits reports once it is judged. */
export interface SignInAttempt {
  /** The credentials were right: the account's failures are forgotten and the address's attempt given back. */
  succeeded(): Promise<void>;
  /** Wrong password, unknown or disabled user: the attempt stays counted, and may lock the account. */
  failed(): Promise<void>;
}

/**
 * The layered sign-in limits: every attempt per client address (a ceiling only bots reach),
 * failed attempts per address (password spraying), and failed attempts per account (guessing one
 * password), which lock the account for a time that doubles with each lockout.
 */
export class SignInLimits {
  readonly #limiter: RateLimiter;

  constructor(limiter: RateLimiter) {
    this.#limiter = limiter;
  }

  /** Counts the attempt against every limit before it is judged; throws RateLimitedError past one. */
  async begin(address: string, account: string, settings: SignInLimitSettings): Promise<SignInAttempt> {
    const limiter = this.#limiter;
    const ipWindow = settings.signinIpWindowSeconds;
    await limiter.hit(`signin:ip:${address}`, { max: settings.signinIpLimit, windowSeconds: ipWindow });
    const ipFailures = `signin:ip-failures:${address}`;
    await limiter.take(ipFailures, { max: settings.signinIpFailureLimit, windowSeconds: ipWindow });
    const accountFailures = `signin:account:${account}`;
    const lockouts = `signin:account-lockouts:${account}`;
    let place: number;
    try {
      place = await limiter.take(
        accountFailures,
        { max: settings.signinAccountLimit, windowSeconds: settings.signinAccountWindowSeconds },
        // Past the limit the account is locked (or about to be): never longer than the longest lockout.
        settings.signinAccountMaxLockoutSeconds,
      );
    } catch (error) {
      // Refused unjudged: not a failure of this address.
      await limiter.giveBack(ipFailures);
      throw error;
    }
    return {
      async succeeded() {
        await Promise.all([limiter.giveBack(ipFailures), limiter.reset(accountFailures), limiter.reset(lockouts)]);
      },
      async failed() {
        // Only the attempt that took the last place locks the account, once.
        if (place !== settings.signinAccountLimit) return;
        const lockout = await limiter.count(lockouts, settings.signinAccountWindowSeconds);
        const seconds = Math.min(settings.signinAccountLockoutSeconds * 2 ** (lockout - 1), settings.signinAccountMaxLockoutSeconds);
        await limiter.holdFor(accountFailures, seconds);
      },
    };
  }
}
