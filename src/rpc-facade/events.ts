import type { Principal } from '../domain/principal.ts';
import type { PubSub, Unsubscribe } from '../kv/pubsub.ts';

/**
 * A server event for v1 WebSocket clients. `targets` name who may receive it: `*`, `guest`, `user`
 * (anyone signed in), `root`, `user:<id>` or `permission:<name>`; a connection receives it when it
 * matches a target and has subscribed to `name`.
 */
export interface V1Event {
  readonly targets: readonly string[];
  readonly name: string;
  readonly args: readonly unknown[];
}

export type V1EventListener = (event: V1Event) => void;

const CHANNEL = 'v1-events';

/** The targets a connection authenticated as `principal` answers to. */
export function principalTargets(principal: Principal): Set<string> {
  if (principal.kind === 'guest') return new Set(['*', 'guest']);
  const targets = new Set(['*', 'user', `user:${principal.user.id}`]);
  if (principal.root) targets.add('root');
  for (const name of principal.permissions) targets.add(`permission:${name}`);
  return targets;
}

/** v1 events travel through pub/sub, so a WebSocket on any node receives what any node publishes. */
export class V1Events {
  readonly #pubsub: PubSub;
  readonly #listeners = new Set<V1EventListener>();
  #unsubscribe: Unsubscribe | undefined;

  constructor(pubsub: PubSub) {
    this.#pubsub = pubsub;
  }

  async start(): Promise<void> {
    this.#unsubscribe = await this.#pubsub.subscribe(CHANNEL, (message) => {
      const event = message as V1Event;
      if (!Array.isArray(event.targets) || typeof event.name !== 'string' || !Array.isArray(event.args)) return;
      for (const listener of [...this.#listeners]) listener(event);
    });
  }

  publish(event: V1Event): Promise<void> {
    return this.#pubsub.publish(CHANNEL, event);
  }

  onEvent(listener: V1EventListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  async close(): Promise<void> {
    this.#listeners.clear();
    await this.#unsubscribe?.();
  }
}
