import type { CounterState, Counters } from './counters.ts';

interface Slot {
  count: number;
  expiresAt: number;
}

/** Counters in this process only; expired slots are dropped lazily and by a periodic sweep. */
export class MemoryCounters implements Counters {
  readonly #slots = new Map<string, Slot>();
  readonly #sweeper: NodeJS.Timeout;

  constructor(sweepIntervalMs = 60_000) {
    this.#sweeper = setInterval(() => this.#sweep(), sweepIntervalMs);
    this.#sweeper.unref();
  }

  async increment(key: string, windowMs: number, by = 1): Promise<CounterState> {
    return this.incrementNow(key, windowMs, by);
  }

  /** Synchronous form, also used as the fallback of the Redis counters. */
  incrementNow(key: string, windowMs: number, by = 1): CounterState {
    const now = Date.now();
    let slot = this.#live(key, now);
    if (!slot) this.#slots.set(key, (slot = { count: 0, expiresAt: now + windowMs }));
    slot.count += by;
    return { count: slot.count, resetInMs: slot.expiresAt - now };
  }

  async peek(key: string): Promise<CounterState | null> {
    const now = Date.now();
    const slot = this.#live(key, now);
    return slot ? { count: slot.count, resetInMs: slot.expiresAt - now } : null;
  }

  async reset(key: string): Promise<void> {
    this.#slots.delete(key);
  }

  close(): void {
    clearInterval(this.#sweeper);
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
  }
}
