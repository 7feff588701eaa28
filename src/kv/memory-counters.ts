import type { CounterState, Counters } from './counters.ts';

interface Slot {
  count: number;
  expiresAt: number;
}

/** Counters in this process only; expired slots are dropped lazily and by a periodic sweep. */
export class MemoryCounters implements Counters {
  readonly #slots = new Map<string, Slot>();
  readonly #sweepIntervalMs: number;
  // Runs only while there are slots, so counters nobody closes (a hub's) leave no timer behind.
  #sweeper: NodeJS.Timeout | undefined;

  constructor(sweepIntervalMs = 60_000) {
    this.#sweepIntervalMs = sweepIntervalMs;
  }

  async increment(key: string, windowMs: number, by = 1): Promise<CounterState> {
    return this.incrementNow(key, windowMs, by);
  }

  /** Synchronous form, also used as the fallback of the Redis counters. */
  incrementNow(key: string, windowMs: number, by = 1): CounterState {
    const now = Date.now();
    let slot = this.#live(key, now);
    if (!slot) {
      this.#slots.set(key, (slot = { count: 0, expiresAt: now + windowMs }));
      this.#startSweeping();
    }
    slot.count += by;
    return { count: slot.count, resetInMs: slot.expiresAt - now };
  }

  async peek(key: string): Promise<CounterState | null> {
    const now = Date.now();
    const slot = this.#live(key, now);
    return slot ? { count: slot.count, resetInMs: slot.expiresAt - now } : null;
  }

  async decrement(key: string, by = 1): Promise<CounterState | null> {
    return this.decrementNow(key, by);
  }

  decrementNow(key: string, by = 1): CounterState | null {
    const now = Date.now();
    const slot = this.#live(key, now);
    if (!slot) return null;
    slot.count = Math.max(0, slot.count - by);
    return { count: slot.count, resetInMs: slot.expiresAt - now };
  }

  async expireIn(key: string, windowMs: number, options: { readonly sooner?: boolean } = {}): Promise<boolean> {
    return this.expireInNow(key, windowMs, options);
  }

  expireInNow(key: string, windowMs: number, options: { readonly sooner?: boolean } = {}): boolean {
    const now = Date.now();
    const slot = this.#live(key, now);
    if (!slot) return false;
    if (!options.sooner || now + windowMs < slot.expiresAt) slot.expiresAt = now + windowMs;
    return true;
  }

  async reset(key: string): Promise<void> {
    this.#slots.delete(key);
  }

  close(): void {
    this.#stopSweeping();
    this.#slots.clear();
  }

  #live(key: string, now: number): Slot | undefined {
    const slot = this.#slots.get(key);
    if (slot && slot.expiresAt <= now) {
      this.#slots.delete(key);
      return undefined;
    }
    return slot;
  }

  #sweep(): void {
    const now = Date.now();
    for (const [key, slot] of this.#slots) if (slot.expiresAt <= now) this.#slots.delete(key);
    if (this.#slots.size === 0) this.#stopSweeping();
  }

  #startSweeping(): void {
    if (this.#sweeper) return;
    this.#sweeper = setInterval(() => this.#sweep(), this.#sweepIntervalMs);
    this.#sweeper.unref();
  }

  #stopSweeping(): void {
    clearInterval(this.#sweeper);
    this.#sweeper = undefined;
  }
}
