import { MemoryCounters } from './memory-counters.ts';
import { MemoryStats } from './memory-stats.ts';
import type { MessageListener, PubSub, Unsubscribe } from './pubsub.ts';

/**
 * The in-process stand-in for one Redis (one per process in the embedded mode): the bus memory
 * pub/sub instances share, and the counters of the nodes on it.
 */
export class MemoryHub {
  /** Shared like counters in Redis: a node closing leaves them to the others. */
  readonly counters = new MemoryCounters();
  /** The statistics buckets of the nodes on this hub. */
  readonly stats = new MemoryStats();
  readonly #channels = new Map<string, Set<MessageListener>>();

  deliver(channel: string, payload: string): void {
    const listeners = this.#channels.get(channel);
    if (!listeners) return;
    for (const listener of [...listeners]) {
      // Each listener gets its own copy, as it would from Redis.
      queueMicrotask(() => listener(JSON.parse(payload)));
    }
  }

  add(channel: string, listener: MessageListener): void {
    let listeners = this.#channels.get(channel);
    if (!listeners) this.#channels.set(channel, (listeners = new Set()));
    listeners.add(listener);
  }

  remove(channel: string, listener: MessageListener): void {
    const listeners = this.#channels.get(channel);
    listeners?.delete(listener);
    if (listeners?.size === 0) this.#channels.delete(channel);
  }
}

export class MemoryPubSub implements PubSub {
  readonly connected = true;
  readonly #hub: MemoryHub;
  readonly #own = new Set<[string, MessageListener]>();

  constructor(hub: MemoryHub = new MemoryHub()) {
    this.#hub = hub;
  }

  async publish(channel: string, message: unknown): Promise<void> {
    this.#hub.deliver(channel, JSON.stringify(message));
  }

  async subscribe(channel: string, listener: MessageListener): Promise<Unsubscribe> {
    const entry: [string, MessageListener] = [channel, listener];
    this.#own.add(entry);
    this.#hub.add(channel, listener);
    return async () => {
      this.#own.delete(entry);
      this.#hub.remove(channel, listener);
    };
  }

  onConnectionChange(): () => void {
    return () => {};
  }

  async close(): Promise<void> {
    for (const [channel, listener] of this.#own) this.#hub.remove(channel, listener);
    this.#own.clear();
  }
}
