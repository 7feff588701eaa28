/**
 * Every limit on what a client may send, in one place (the README's "Limits" lists them). The
 * transports read their values from here; per-method call limits are in `domain/call-limits.ts`,
 * GraphQL document limits in `graph/query-limits.ts`.
 */
export const INPUT_LIMITS = Object.freeze({
  /** Request bodies, read whole before they are judged. */
  graphqlBodyBytes: 2 * 1024 * 1024,
  v1BodyBytes: 4 * 1024 * 1024,
  /** Multipart uploads (streamed to temporary files), GraphQL and v1. */
  uploadBytes: 10 * 1024 * 1024,
  /** One WebSocket message; a larger one closes the connection with 1009 (WebSocket allows nothing else). */
  graphqlWsFrameBytes: 1024 * 1024,
  v1WsFrameBytes: 4 * 1024 * 1024,
  /** Messages per second one WebSocket connection may send, with bursts up to `wsMessageBurst`. */
  wsMessagesPerSecond: 100,
  wsMessageBurst: 200,
  /** Open WebSocket connections (both endpoints together) per client address, on one node. */
  wsConnectionsPerAddress: 256,
  /** Nesting of JSON arguments of v1 calls (arrays and objects). */
  jsonDepth: 64,
});

/** A token bucket: `take()` is true while the rate holds (refilled continuously), false past it. */
export class MessageRate {
  readonly #perSecond: number;
  readonly #burst: number;
  #tokens: number;
  #at = performance.now();

  constructor(perSecond: number = INPUT_LIMITS.wsMessagesPerSecond, burst: number = INPUT_LIMITS.wsMessageBurst) {
    this.#perSecond = perSecond;
    this.#burst = burst;
    this.#tokens = burst;
  }

  take(): boolean {
    const now = performance.now();
    this.#tokens = Math.min(this.#burst, this.#tokens + ((now - this.#at) / 1000) * this.#perSecond);
    this.#at = now;
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }

  /** Milliseconds until the next message is allowed. */
  get retryAfterMs(): number {
    return Math.max(1, Math.ceil(((1 - this.#tokens) / this.#perSecond) * 1000));
  }
}

/** Open connections per client address on this node; `enter` is false past the limit. */
export class ConnectionsPerAddress {
  readonly #open = new Map<string, number>();
  readonly #max: number;

  constructor(max: number = INPUT_LIMITS.wsConnectionsPerAddress) {
    this.#max = max;
  }

  /** Counts a connection; returns how to release it, or undefined when the address has too many. */
  enter(address: string): (() => void) | undefined {
    const open = this.#open.get(address) ?? 0;
    if (open >= this.#max) return undefined;
    this.#open.set(address, open + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = this.#open.get(address)! - 1;
      if (left === 0) this.#open.delete(address);
      else this.#open.set(address, left);
    };
  }
}

/** How deep `value` nests arrays and objects, stopping once past `limit`. */
export function jsonDepthExceeds(value: unknown, limit: number = INPUT_LIMITS.jsonDepth): boolean {
  const walk = (node: unknown, depth: number): boolean => {
    if (typeof node !== 'object' || node === null) return false;
    if (depth >= limit) return true;
    for (const child of Array.isArray(node) ? node : Object.values(node)) if (walk(child, depth + 1)) return true;
    return false;
  };
  return walk(value, 0);
}
