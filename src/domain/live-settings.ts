import type { SettingsRow } from '../db/schema.ts';
import type { PubSub, Unsubscribe } from '../kv/pubsub.ts';
import type { Logger } from '../logger.ts';

const CHANNEL = 'settings-changed';
/** A node that missed a change notice (Redis away) reads the settings again within this time. */
const POLL_INTERVAL_MS = 5000;

/**
 * The settings every call consults (the call limits, whether introspection is on), kept in memory
 * so no call reads the database for them. A change on any node is announced on pub/sub and read
 * again at once by every node; a periodic reread covers notices lost while Redis was away.
 */
export class LiveSettings {
  readonly #read: () => Promise<SettingsRow>;
  readonly #pubsub: PubSub;
  readonly #log: Logger;
  #current: SettingsRow | undefined;
  #unsubscribe: Unsubscribe | undefined;
  #stopWatching: (() => void) | undefined;
  #timer: NodeJS.Timeout | undefined;
  #reading: Promise<void> | undefined;
  #again = false;

  constructor(read: () => Promise<SettingsRow>, pubsub: PubSub, log: Logger) {
    this.#read = read;
    this.#pubsub = pubsub;
    this.#log = log;
  }

  async start(): Promise<void> {
    this.#unsubscribe = await this.#pubsub.subscribe(CHANNEL, () => void this.refresh());
    this.#stopWatching = this.#pubsub.onConnectionChange((connected) => {
      if (connected) void this.refresh();
    });
    await this.refresh();
    this.#timer = setInterval(() => void this.refresh(), POLL_INTERVAL_MS);
    this.#timer.unref();
  }

  /** The settings as last read; undefined before the first read. */
  get current(): SettingsRow | undefined {
    return this.#current;
  }

  /** Reads the settings again; concurrent calls share one read, and one more follows if asked meanwhile. */
  refresh(): Promise<void> {
    if (this.#reading) {
      this.#again = true;
      return this.#reading;
    }
    this.#reading = (async () => {
      do {
        this.#again = false;
        try {
          this.#current = await this.#read();
        } catch (err) {
          // The database is away: keep what was read last.
          this.#log.debug({ err }, 'settings could not be reread');
        }
      } while (this.#again);
    })().finally(() => (this.#reading = undefined));
    return this.#reading;
  }

  /** After a change on this node: reread here, and tell every other node. */
  async changed(): Promise<void> {
    await this.refresh();
    try {
      await this.#pubsub.publish(CHANNEL, { at: Date.now() });
    } catch (err) {
      // Redis away: the other nodes see the change at their next periodic reread.
      this.#log.warn({ err }, 'settings change could not be announced');
    }
  }

  async close(): Promise<void> {
    clearInterval(this.#timer);
    this.#stopWatching?.();
    await this.#unsubscribe?.();
  }
}
