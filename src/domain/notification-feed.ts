import { setImmediate as nextTurn } from 'node:timers/promises';
import type { PubSub, Unsubscribe } from '../kv/pubsub.ts';
import type { Logger } from '../logger.ts';

/** A notification as its recipients see it. */
export interface NotificationView {
  readonly id: string;
  readonly subject: string;
  readonly body: string;
  readonly read: boolean;
  readonly createdAt: Date;
  readonly expiresAt: Date;
}

/** What travels between nodes when a notification is created. */
export interface AddedMessage {
  readonly id: string;
  /** The newest notification id when this one was created (ids are given in commit order): a gap shows. */
  readonly previousId: string | null;
  readonly subject: string;
  readonly body: string;
  readonly createdAt: string;
  readonly expiresAt: string;
  readonly userIds: readonly string[];
}

/** The reads the feed needs from the store. */
export interface FeedStore {
  latestId(): Promise<string | null>;
  /** The notifications with `after < id < before`, oldest first, with those of `userIds` who received them. */
  addedBetween(after: bigint, before: bigint, userIds: readonly string[]): Promise<AddedMessage[]>;
  /** Unread, undeleted, unexpired notifications per user (users without any are left out). */
  unreadCounts(userIds: readonly string[]): Promise<Map<string, number>>;
}

type AddedListener = (notification: NotificationView) => void;
type CountListener = (unreadCount: number) => void;

const ADDED = 'notifications:added';
const CHANGED = 'notifications:changed';
const COUNT_BATCH = 1000;
/** Recipients handed their push per event-loop turn: a large fan-out lets other work (the sender's answer) through. */
const DELIVERY_SLICE = 500;

/**
 * One per node: turns the notification messages every node publishes into pushes for this node's
 * subscribers. Added notifications are delivered in id order, which is commit order, whatever
 * order pub/sub brings them in: a message whose `previousId` this node has not seen yet first
 * fetches what is missing from the database; so does a pub/sub reconnect. Unread counts are read
 * from the database after each change, one query for every user changed meanwhile, one round at
 * a time, so the last push a subscriber gets is the count after the last change.
 */
export class NotificationFeed {
  readonly #pubsub: PubSub;
  readonly #store: FeedStore;
  readonly #log: Logger;
  readonly #added = new Map<string, Set<AddedListener>>();
  readonly #counts = new Map<string, Set<CountListener>>();
  /** Users whose count changed (every listener is told), or the new listeners that want a first count. */
  readonly #dirty = new Map<string, 'all' | Set<CountListener>>();
  readonly #unsubscribe: Unsubscribe[] = [];
  #stopConnectionWatch: () => void = () => {};
  /** The last notification id delivered in order. */
  #watermark = 0n;
  #chain: Promise<void> = Promise.resolve();
  #counting: Promise<void> | null = null;
  #closed = false;

  constructor(pubsub: PubSub, store: FeedStore, log: Logger) {
    this.#pubsub = pubsub;
    this.#store = store;
    this.#log = log;
  }

  async start(): Promise<void> {
    this.#unsubscribe.push(await this.#pubsub.subscribe(ADDED, (message) => this.#receiveAdded(message as AddedMessage)));
    this.#unsubscribe.push(await this.#pubsub.subscribe(CHANGED, (message) => this.#changed((message as { userIds?: unknown }).userIds)));
    // Subscribed first: whatever is created after this read arrives as a message.
    this.#watermark = BigInt((await this.#store.latestId()) ?? 0);
    this.#stopConnectionWatch = this.#pubsub.onConnectionChange((connected) => {
      if (!connected) return;
      // Messages published while this node was cut off are lost: read what they said.
      this.#enqueue(() => this.#fill(null));
      this.#changed([...this.#counts.keys()]);
    });
  }

  publishAdded(message: AddedMessage): Promise<void> {
    return this.#pubsub.publish(ADDED, message);
  }

  publishChanged(userIds: readonly string[]): Promise<void> {
    return this.#pubsub.publish(CHANGED, { userIds });
  }

  /** Calls `listener` with each notification `userId` receives from now on, in id order. */
  onAdded(userId: string, listener: AddedListener): () => void {
    return addListener(this.#added, userId, listener);
  }

  /** Calls `listener` with `userId`'s unread count at once, then after every change. */
  onUnreadCount(userId: string, listener: CountListener): () => void {
    const stop = addListener(this.#counts, userId, listener);
    const dirty = this.#dirty.get(userId);
    if (dirty === undefined) this.#dirty.set(userId, new Set([listener]));
    else if (dirty !== 'all') dirty.add(listener);
    this.#scheduleCount();
    return stop;
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#stopConnectionWatch();
    await Promise.allSettled(this.#unsubscribe.splice(0).map((unsubscribe) => unsubscribe()));
    await this.#chain;
    await this.#counting;
    this.#added.clear();
    this.#counts.clear();
  }

  #receiveAdded(message: AddedMessage): void {
    if (typeof message?.id !== 'string' || !Array.isArray(message.userIds)) return;
    this.#enqueue(async () => {
      const id = BigInt(message.id);
      if (id <= this.#watermark) return;
      if (message.previousId !== null && BigInt(message.previousId) > this.#watermark) await this.#fill(id);
      await this.#deliver(message);
    });
  }

  #enqueue(work: () => Promise<void> | void): void {
    this.#chain = this.#chain.then(work).catch((err: unknown) => this.#log.warn({ err }, 'notification feed: could not deliver'));
  }

  /** Delivers what was created after the watermark and before `before` (up to the newest when null). */
  async #fill(before: bigint | null): Promise<void> {
    if (this.#closed) return;
    const end = before ?? BigInt((await this.#store.latestId()) ?? 0) + 1n;
    const listening = [...this.#added.keys()];
    if (listening.length > 0) {
      for (const message of await this.#store.addedBetween(this.#watermark, end, listening)) await this.#deliver(message);
    }
    if (end - 1n > this.#watermark) this.#watermark = end - 1n;
  }

  async #deliver(message: AddedMessage): Promise<void> {
    const id = BigInt(message.id);
    if (id <= this.#watermark) return;
    this.#watermark = id;
    const view: NotificationView = {
      id: message.id,
      subject: message.subject,
      body: message.body,
      read: false,
      createdAt: new Date(message.createdAt),
      expiresAt: new Date(message.expiresAt),
    };
    let handed = 0;
    for (const userId of message.userIds) {
      const listeners = this.#added.get(userId);
      if (!listeners) continue;
      for (const listener of [...listeners]) listener(view);
      if (++handed % DELIVERY_SLICE === 0) await nextTurn();
    }
    this.#changed(message.userIds);
  }

  #changed(userIds: unknown): void {
    if (!Array.isArray(userIds)) return;
    let any = false;
    for (const userId of userIds) {
      if (typeof userId !== 'string' || !this.#counts.has(userId)) continue;
      this.#dirty.set(userId, 'all');
      any = true;
    }
    if (any) this.#scheduleCount();
  }

  #scheduleCount(): void {
    if (this.#counting || this.#closed) return;
    this.#counting = this.#countRounds().finally(() => {
      this.#counting = null;
      // Changes that came in as the last round finished.
      if (this.#dirty.size > 0) this.#scheduleCount();
    });
  }

  async #countRounds(): Promise<void> {
    while (this.#dirty.size > 0 && !this.#closed) {
      const batch = [...this.#dirty].slice(0, COUNT_BATCH);
      for (const [userId] of batch) this.#dirty.delete(userId);
      let counts: Map<string, number>;
      try {
        counts = await this.#store.unreadCounts(batch.map(([userId]) => userId));
      } catch (err) {
        this.#log.warn({ err }, 'notification feed: could not count unread notifications');
        // Counted again in a second, not at once: the database is likely away.
        setTimeout(() => {
          for (const [userId, who] of batch) if (!this.#dirty.has(userId)) this.#dirty.set(userId, who);
          this.#scheduleCount();
        }, 1000).unref();
        return;
      }
      for (const [userId, who] of batch) {
        const count = counts.get(userId) ?? 0;
        const listeners = this.#counts.get(userId);
        if (!listeners) continue;
        for (const listener of [...listeners]) if (who === 'all' || who.has(listener)) listener(count);
      }
    }
  }
}

function addListener<L>(map: Map<string, Set<L>>, key: string, listener: L): () => void {
  let listeners = map.get(key);
  if (!listeners) map.set(key, (listeners = new Set()));
  listeners.add(listener);
  return () => {
    const current = map.get(key);
    current?.delete(listener);
    if (current?.size === 0) map.delete(key);
  };
}
