import type { Redis } from 'ioredis';
import type { MessageListener, PubSub, Unsubscribe } from './pubsub.ts';

/**
 * Pub/sub over Redis: one subscriber connection per node, channels namespaced by the key prefix.
 * ioredis re-subscribes by itself after a reconnect; `connected` is false in between, and turns
 * true only once Redis has confirmed the subscriptions (until then messages would still be lost).
 */
export class RedisPubSub implements PubSub {
  readonly #publisher: Redis;
  readonly #subscriber: Redis;
  readonly #prefix: string;
  readonly #listeners = new Map<string, Set<MessageListener>>();
  /** Redis's confirmation of each channel's SUBSCRIBE, which every subscriber of the channel waits for. */
  readonly #subscribed = new Map<string, Promise<unknown>>();
  readonly #statusListeners = new Set<(connected: boolean) => void>();
  #connected: boolean;

  constructor(publisher: Redis, subscriber: Redis, prefix: string) {
    this.#publisher = publisher;
    this.#subscriber = subscriber;
    this.#prefix = prefix;
    this.#connected = subscriber.status === 'ready';
    subscriber.on('message', (channel: string, payload: string) => this.#dispatch(channel, payload));
    subscriber.on('ready', () => void this.#confirmSubscriptions());
    subscriber.on('close', () => this.#setConnected(false));
  }

  get connected(): boolean {
    return this.#connected;
  }

  async publish(channel: string, message: unknown): Promise<void> {
    await this.#publisher.publish(this.#prefix + channel, JSON.stringify(message));
  }

  async subscribe(channel: string, listener: MessageListener): Promise<Unsubscribe> {
    const name = this.#prefix + channel;
    let listeners = this.#listeners.get(name);
    if (!listeners) {
      this.#listeners.set(name, (listeners = new Set()));
      this.#subscribed.set(name, this.#subscriber.subscribe(name));
    }
    try {
      await this.#subscribed.get(name);
    } catch (error) {
      if (listeners.size === 0 && this.#listeners.get(name) === listeners) this.#forget(name);
      throw error;
    }
    listeners.add(listener);
    return async () => {
      const current = this.#listeners.get(name);
      if (!current?.delete(listener) || current.size > 0) return;
      this.#forget(name);
      if (this.#subscriber.status === 'ready') await this.#subscriber.unsubscribe(name);
    };
  }

  onConnectionChange(listener: (connected: boolean) => void): () => void {
    this.#statusListeners.add(listener);
    return () => this.#statusListeners.delete(listener);
  }

  async close(): Promise<void> {
    this.#listeners.clear();
    this.#subscribed.clear();
    this.#statusListeners.clear();
  }

  #forget(name: string): void {
    this.#listeners.delete(name);
    this.#subscribed.delete(name);
  }

  #dispatch(channel: string, payload: string): void {
    const listeners = this.#listeners.get(channel);
    if (!listeners) return;
    let message: unknown;
    try {
      message = JSON.parse(payload);
    } catch {
      return;
    }
    for (const listener of [...listeners]) listener(message);
  }

  /** Runs after ioredis has re-sent its subscriptions; the reply to this one comes after theirs. */
  async #confirmSubscriptions(): Promise<void> {
    const channels = [...this.#listeners.keys()];
    try {
      if (channels.length > 0) await this.#subscriber.subscribe(...channels);
    } catch {
      return; // the connection dropped again; the next 'ready' tries again
    }
    if (this.#subscriber.status === 'ready') this.#setConnected(true);
  }

  #setConnected(connected: boolean): void {
    if (this.#connected === connected) return;
    this.#connected = connected;
    for (const listener of [...this.#statusListeners]) listener(connected);
  }
}
