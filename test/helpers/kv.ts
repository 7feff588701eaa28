import { openKv, type Kv } from '../../src/kv/kv.ts';
import { MemoryHub } from '../../src/kv/memory-pubsub.ts';
import type { MessageListener, PubSub, Unsubscribe } from '../../src/kv/pubsub.ts';
import { createRedisPrefix, TEST_REDIS_URL } from './services.ts';

export type KvKind = 'memory' | 'redis';
/** Every `src/kv` contract suite runs against both implementations. */
export const KV_KINDS: readonly KvKind[] = ['memory', 'redis'];

/** Two nodes of one deployment: one Redis key prefix, or one in-process hub. */
export interface KvNodes {
  readonly a: Kv;
  readonly b: Kv;
  /** The Redis key prefix both nodes use (`undefined` for the in-process implementation). */
  readonly prefix: string | undefined;
  /** Opens one more node of the same deployment; the caller closes it. */
  open(): Promise<Kv>;
  close(): Promise<void>;
}

export async function openKvNodes(kind: KvKind): Promise<KvNodes> {
  if (kind === 'memory') {
    const hub = new MemoryHub();
    const open = () => openKv({ keyPrefix: 'test:', hub });
    const [a, b] = await Promise.all([open(), open()]);
    return {
      a,
      b,
      prefix: undefined,
      open,
      async close() {
        await Promise.all([a.close(), b.close()]);
      },
    };
  }
  const redis = await createRedisPrefix();
  const open = () => openKv({ redisUrl: TEST_REDIS_URL, keyPrefix: redis.prefix });
  const [a, b] = await Promise.all([open(), open()]);
  return {
    a,
    b,
    prefix: redis.prefix,
    open,
    async close() {
      await Promise.all([a.close(), b.close()]);
      await redis.clear();
    },
  };
}

/** The messages one listener received, in order. */
export interface Inbox {
  readonly messages: unknown[];
  readonly listener: MessageListener;
  unsubscribe: Unsubscribe;
}

export async function subscribeInbox(pubsub: PubSub, channel: string): Promise<Inbox> {
  const messages: unknown[] = [];
  const listener: MessageListener = (message) => messages.push(message);
  const unsubscribe = await pubsub.subscribe(channel, listener);
  return { messages, listener, unsubscribe };
}

let channelCounter = 0;

/** A channel name no other test of the file uses. */
export function uniqueChannel(name: string): string {
  return `${name}-${++channelCounter}`;
}
