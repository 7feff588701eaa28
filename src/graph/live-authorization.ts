import { principalTags } from '../domain/principal-watch.ts';
import type { Principal } from '../domain/principal.ts';
import type { GraphContext } from './context.ts';

/**
 * Calls `onLost` once the subscription's principal no longer passes `allowed`: whenever any node
 * invalidates its user or credential, the connection's credential is resolved again (or, where the
 * transport cannot do that, access ends at once). Returns the function that stops watching.
 */
export function watchAuthorization(context: GraphContext, allowed: (principal: Principal) => boolean, onLost: () => void): () => void {
  let tags = new Set(principalTags(context.principal));
  let stopped = false;
  const stop = context.domain.auth.onInvalidate((invalidated) => {
    if (stopped || !invalidated.some((tag) => tags.has(tag))) return;
    const recheck = context.reauthenticate?.() ?? Promise.resolve(null);
    void recheck.then(
      (principal) => {
        if (stopped) return;
        if (principal && allowed(principal)) {
          tags = new Set(principalTags(principal));
          return;
        }
        end();
      },
      () => end(),
    );
  });
  const end = () => {
    if (stopped) return;
    stopped = true;
    stop();
    onLost();
  };
  return () => {
    stopped = true;
    stop();
  };
}

/**
 * An async iterator fed by `start` (which returns its own stop function): values wait in order
 * until read; `end()` finishes it; `return()` (the client unsubscribed) stops the source at once.
 */
export function pushIterator<T>(start: (push: (value: T) => void, end: () => void) => () => void): AsyncIterableIterator<T> {
  const queue: T[] = [];
  let waiting: ((step: IteratorResult<T>) => void) | undefined;
  let done = false;
  const finish = () => {
    if (done) return;
    done = true;
    stop();
    waiting?.({ done: true, value: undefined });
    waiting = undefined;
  };
  const push = (value: T) => {
    if (done) return;
    if (waiting) {
      const resolve = waiting;
      waiting = undefined;
      resolve({ done: false, value });
    } else {
      // A slow reader keeps only the newest value: each snapshot supersedes the previous one.
      queue.length = 0;
      queue.push(value);
    }
  };
  const stop = start(push, finish);
  const iterator: AsyncIterableIterator<T> = {
    next() {
      if (queue.length > 0) return Promise.resolve({ done: false, value: queue.shift()! });
      if (done) return Promise.resolve({ done: true, value: undefined });
      return new Promise((resolve) => (waiting = resolve));
    },
    async return() {
      finish();
      return { done: true, value: undefined };
    },
    [Symbol.asyncIterator]() {
      return iterator;
    },
  };
  return iterator;
}
