import { authTags, type Authenticator } from './auth.ts';
import type { Principal } from './principal.ts';

export function principalTags(principal: Principal): string[] {
  if (principal.kind === 'guest') return [];
  const credential = principal.kind === 'session' ? authTags.session(principal.sessionId) : authTags.apiToken(principal.tokenId);
  return [authTags.user(principal.user.id), credential];
}

type Watcher = () => void;

/**
 * Tells long-lived connections (WebSockets) when the principal they authenticated as may have
 * changed: its user, session or API token was invalidated on this node or another one.
 */
export class PrincipalWatch {
  readonly #byTag = new Map<string, Set<Watcher>>();
  readonly #auth: Authenticator;
  readonly #stop: () => void;

  constructor(auth: Authenticator) {
    this.#auth = auth;
    this.#stop = auth.onInvalidate((tags) => this.#notify(tags));
  }

  /**
   * Calls `onInvalidated` whenever the principal may have changed; returns the function that stops
   * watching. `resolvedAt` is the authenticator's epoch read before the principal was resolved: if
   * an invalidation came in between, it could not be heard yet, so the connection is re-checked once.
   */
  watch(principal: Principal, onInvalidated: () => void, resolvedAt?: number): () => void {
    if (resolvedAt !== undefined && resolvedAt !== this.#auth.epoch) queueMicrotask(onInvalidated);
    const tags = principalTags(principal);
    for (const tag of tags) {
      let watchers = this.#byTag.get(tag);
      if (!watchers) this.#byTag.set(tag, (watchers = new Set()));
      watchers.add(onInvalidated);
    }
    return () => {
      for (const tag of tags) {
        const watchers = this.#byTag.get(tag);
        watchers?.delete(onInvalidated);
        if (watchers?.size === 0) this.#byTag.delete(tag);
      }
    };
  }

  close(): void {
    this.#stop();
    this.#byTag.clear();
  }

  #notify(tags: readonly string[]): void {
    const due = new Set<Watcher>();
    for (const tag of tags) for (const watcher of this.#byTag.get(tag) ?? []) due.add(watcher);
    for (const watcher of due) watcher();
  }
}
