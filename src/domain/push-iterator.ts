/**
 * An async iterator fed by `push`: values wait in order until pulled. `return()` (a subscriber
 * leaving) ends a pending `next()` at once and runs `onClose`, so nothing lingers until the next
 * value, as it would with an async generator suspended in an await.
 */
export class PushIterator<T> implements AsyncIterableIterator<T> {
  readonly #buffer: T[] = [];
  #waiting: ((result: IteratorResult<T>) => void) | null = null;
  #done = false;
  #onClose: (() => void) | null;

  constructor(onClose: () => void = () => {}) {
    this.#onClose = onClose;
  }

  get done(): boolean {
    return this.#done;
  }

  push(value: T): void {
    if (this.#done) return;
    const waiting = this.#waiting;
    if (waiting) {
      this.#waiting = null;
      waiting({ done: false, value });
    } else {
      this.#buffer.push(value);
    }
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  next(): Promise<IteratorResult<T>> {
    if (this.#buffer.length > 0) return Promise.resolve({ done: false, value: this.#buffer.shift()! });
    if (this.#done) return Promise.resolve({ done: true, value: undefined });
    return new Promise((resolve) => (this.#waiting = resolve));
  }

  return(): Promise<IteratorResult<T>> {
    this.end();
    return Promise.resolve({ done: true, value: undefined });
  }

  /** Ends the iterator: what is buffered is dropped, a pending `next()` resolves done. */
  end(): void {
    if (this.#done) return;
    this.#done = true;
    this.#buffer.length = 0;
    const waiting = this.#waiting;
    this.#waiting = null;
    waiting?.({ done: true, value: undefined });
    const onClose = this.#onClose;
    this.#onClose = null;
    onClose?.();
  }
}
