import { randomUUID } from 'node:crypto';
import type { PubSub, Unsubscribe } from './pubsub.ts';

export interface CacheSetOptions {
  readonly ttlMs: number;
  /** Names under which the entry can be invalidated, e.g. `user:100`. */
  readonly tags: readonly string[];
}

interface Entry<V> {
  readonly value: V;
  readonly expiresAt: number;
  readonly tags: readonly string[];
}

interface InvalidationMessage {
  readonly origin: string;
  readonly tags: readonly string[];
}

export type InvalidationListener = (tags: readonly string[]) => void;

/**
 * An in-process key/value cache whose invalidations reach every node through pub/sub.
 *
 * Entries are only trusted while the pub/sub connection is up: when it drops, invalidations from
 * other nodes may be missed, so the cache empties itself and stores nothing until it is back.
 * An invalidation that cannot be published is retried until it goes out.
 */
export class InvalidatingCache<V> {
  readonly #pubsub: PubSub;
  readonly #channel: string;
  readonly #maxEntries: number;
  readonly #origin = randomUUID();
  readonly #entries = new Map<string, Entry<V>>();
  readonly #byTag = new Map<string, Set<string>>();
  readonly #listeners = new Set<InvalidationListener>();
  readonly #unpublished: (readonly string[])[] = [];
  #epoch = 0;
  #unsubscribe: Unsubscribe | undefined;
  #stopWatching: (() => void) | undefined;
  #retry: NodeJS.Timeout | undefined;

  constructor(pubsub: PubSub, channel: string, options: { maxEntries?: number } = {}) {
    this.#pubsub = pubsub;
    this.#channel = channel;
    this.#maxEntries = options.maxEntries ?? 50_000;
  }

  async start(): Promise<void> {
    this.#unsubscribe = await this.#pubsub.subscribe(this.#channel, (message) => {
      const { origin, tags } = message as InvalidationMessage;
      if (origin !== this.#origin && Array.isArray(tags)) this.#apply(tags);
    });
    this.#stopWatching = this.#pubsub.onConnectionChange((connected) => {
      this.clear();
      if (connected) this.#flushUnpublished();
    });
  }

  get trusted(): boolean {
    return this.#pubsub.connected;
  }

  get size(): number {
    return this.#entries.size;
  }

  /**
   * A counter that changes with every invalidation. Read it before loading a value and pass it to
   * `set`, so a value loaded while an invalidation arrived is not cached.
   */
  get epoch(): number {
    return this.#epoch;
  }

  get(key: string): V | undefined {
    const entry = this.#entries.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt <= Date.now()) {
      this.#delete(key, entry);
      return undefined;
    }
    return entry.value;
  }

  set(key: string, value: V, options: CacheSetOptions, epoch = this.#epoch): void {
    if (epoch !== this.#epoch || !this.trusted || options.ttlMs <= 0) return;
    const previous = this.#entries.get(key);
    if (previous) this.#delete(key, previous);
    if (this.#entries.size >= this.#maxEntries) this.#evictOldest();
    this.#entries.set(key, { value, expiresAt: Date.now() + options.ttlMs, tags: options.tags });
    for (const tag of options.tags) {
      let keys = this.#byTag.get(tag);
      if (!keys) this.#byTag.set(tag, (keys = new Set()));
      keys.add(key);
    }
  }

  delete(key: string): void {
    const entry = this.#entries.get(key);
    if (entry) this.#delete(key, entry);
  }

  /** Drops the tagged entries here at once and on every other node as soon as the message arrives. */
  async invalidate(tags: readonly string[]): Promise<void> {
    if (tags.length === 0) return;
    this.#apply(tags);
    try {
      await this.#pubsub.publish(this.#channel, { origin: this.#origin, tags } satisfies InvalidationMessage);
    } catch {
      this.#unpublished.push(tags);
      this.#scheduleRetry();
    }
  }

  /** Listeners hear every invalidation, local or remote (e.g. to close the WebSockets of a revoked session). */
  onInvalidate(listener: InvalidationListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  clear(): void {
    this.#epoch++;
    this.#entries.clear();
    this.#byTag.clear();
  }

  async close(): Promise<void> {
    clearTimeout(this.#retry);
    this.#stopWatching?.();
    await this.#unsubscribe?.();
    this.#listeners.clear();
    this.clear();
  }

  #apply(tags: readonly string[]): void {
    this.#epoch++;
    for (const tag of tags) {
      const keys = this.#byTag.get(tag);
      if (!keys) continue;
      for (const key of [...keys]) {
        const entry = this.#entries.get(key);
        if (entry) this.#delete(key, entry);
      }
    }
    for (const listener of [...this.#listeners]) listener(tags);
  }

  #delete(key: string, entry: Entry<V>): void {
    this.#entries.delete(key);
    for (const tag of entry.tags) {
      const keys = this.#byTag.get(tag);
      keys?.delete(key);
      if (keys?.size === 0) this.#byTag.delete(tag);
    }
  }

  #evictOldest(): void {
    const oldest = this.#entries.keys().next();
    if (!oldest.done) this.delete(oldest.value);
  }

  #scheduleRetry(): void {
    if (this.#retry) return;
    this.#retry = setTimeout(() => {
      this.#retry = undefined;
      this.#flushUnpublished();
    }, 500);
    this.#retry.unref();
  }

  #flushUnpublished(): void {
    const pending = this.#unpublished.splice(0);
    for (const tags of pending) {
      this.#pubsub.publish(this.#channel, { origin: this.#origin, tags }).catch(() => {
        this.#unpublished.push(tags);
        this.#scheduleRetry();
      });
    }
  }
}
