import type { Logger } from '../logger.ts';

export interface RetentionTask {
  readonly name: string;
  /** Deletes what has outlived its retention; returns how many rows went. */
  run(): Promise<number>;
}

/**
 * Runs retention tasks (expired sessions and action tokens, …) on a timer. Every node may run it:
 * the deletes are idempotent. `close()` stops the timer and waits for a run in progress.
 */
export class RetentionWorker {
  readonly #tasks: readonly RetentionTask[];
  readonly #log: Logger;
  readonly #timer: NodeJS.Timeout;
  #running: Promise<void> | undefined;

  constructor(tasks: readonly RetentionTask[], log: Logger, intervalMs = 60 * 60 * 1000) {
    this.#tasks = tasks;
    this.#log = log;
    this.#timer = setInterval(() => void this.runOnce(), intervalMs);
    this.#timer.unref();
  }

  runOnce(): Promise<void> {
    this.#running ??= (async () => {
      for (const task of this.#tasks) {
        try {
          const removed = await task.run();
          if (removed > 0) this.#log.info({ task: task.name, removed }, 'retention: removed expired rows');
        } catch (err) {
          this.#log.warn({ err, task: task.name }, 'retention task failed');
        }
      }
    })().finally(() => {
      this.#running = undefined;
    });
    return this.#running;
  }

  async close(): Promise<void> {
    clearInterval(this.#timer);
    await this.#running;
  }
}
