import { DelayedError, Queue, Worker, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import type { Logger } from '../logger.ts';
import type { MailProcessor } from './mail-processor.ts';

/** Carries outbox row ids to a processor: BullMQ on Redis, or an in-process runner. */
export interface MailQueue {
  readonly kind: 'bullmq' | 'in-process';
  /** Hands rows to the queue; a row already waiting there is not added twice. */
  enqueue(ids: readonly string[]): void;
  /** Stops taking jobs and waits (until `deadline`, epoch ms) for the ones running. */
  close(deadline: number): Promise<void>;
}

export const MAIL_QUEUE_NAME = 'outbox';

/** BullMQ refuses integer job ids, so a row's job is `mail-<id>`: one job per row. */
export function mailJobId(rowId: string): string {
  return `mail-${rowId}`;
}

export interface BullMailQueueOptions {
  readonly redisUrl: string;
  /** The deployment's key prefix (REDIS_PREFIX); BullMQ's keys go under `<prefix>bull`. */
  readonly keyPrefix: string;
  readonly log: Logger;
  /** Runs a worker on this node; without it the queue only produces. */
  readonly processor?: MailProcessor;
  readonly concurrency: number;
  /** The rows' lease: a dead worker's job is found stalled (and runs again) within it. */
  readonly leaseMs: number;
}

const retryStrategy = (attempt: number) => Math.min(100 * 2 ** attempt, 2000);

/**
 * BullMQ: the queue holds only row ids (job id = `mail-<row id>`); the row is the truth. A row that
 * must wait for its next attempt moves its own job to the delayed set, so it stays one job.
 */
export class BullMailQueue implements MailQueue {
  readonly kind = 'bullmq' as const;
  readonly #queue: Queue;
  readonly #worker: Worker | undefined;
  readonly #connections: Redis[] = [];
  readonly #log: Logger;
  #lastError = 0;

  constructor(options: BullMailQueueOptions) {
    this.#log = options.log;
    const prefix = `${options.keyPrefix}bull`;
    const onError = (err: Error) => {
      if (Date.now() - this.#lastError < 10_000) return;
      this.#lastError = Date.now();
      options.log.warn({ err }, 'mail queue: Redis error');
    };
    // Producers fail fast while Redis is away (the relay re-enqueues later); workers wait for it.
    const producer = new Redis(options.redisUrl, { enableOfflineQueue: false, maxRetriesPerRequest: 1, retryStrategy, connectionName: 'gateway-mail-producer' });
    producer.on('error', onError);
    this.#connections.push(producer);
    this.#queue = new Queue(MAIL_QUEUE_NAME, { connection: producer, prefix });
    this.#queue.on('error', onError);
    const processor = options.processor;
    if (processor) {
      const consumer = new Redis(options.redisUrl, { maxRetriesPerRequest: null, retryStrategy, connectionName: 'gateway-mail-worker' });
      consumer.on('error', onError);
      this.#connections.push(consumer);
      this.#worker = new Worker(
        MAIL_QUEUE_NAME,
        async (job: Job<{ id: string }>, token?: string) => {
          const result = await processor.process(job.data.id);
          if (result.kind === 'later' && token) {
            await job.moveToDelayed(Math.max(result.at.getTime(), Date.now() + 10), token);
            throw new DelayedError();
          }
        },
        {
          connection: consumer,
          prefix,
          concurrency: options.concurrency,
          removeOnComplete: { count: 0 },
          removeOnFail: { count: 0 },
          // Rows carry their own leases; BullMQ's stall detection only has to bring a dead worker's
          // job back (a job id is taken while it sits in the active list), as soon as its row's lease is out.
          maxStalledCount: 1000,
          lockDuration: Math.min(30_000, options.leaseMs),
          stalledInterval: Math.min(30_000, options.leaseMs),
        },
      );
      this.#worker.on('error', onError);
    }
  }

  /** Resolves once the worker (if any) is connected and taking jobs. */
  async ready(): Promise<void> {
    await this.#queue.waitUntilReady();
    await this.#worker?.waitUntilReady();
  }

  enqueue(ids: readonly string[]): void {
    if (ids.length === 0) return;
    const jobs = ids.map((id) => ({
      name: 'send',
      data: { id },
      opts: { jobId: mailJobId(id), removeOnComplete: true, removeOnFail: true },
    }));
    this.#queue.addBulk(jobs).catch((err: unknown) => {
      this.#log.debug({ err, count: ids.length }, 'mail queue: could not enqueue; the relay will');
    });
  }

  async close(deadline: number): Promise<void> {
    if (this.#worker) {
      const closing = this.#worker.close();
      const left = deadline - Date.now();
      const timedOut = await Promise.race([closing.then(() => false), new Promise<boolean>((resolve) => setTimeout(() => resolve(true), Math.max(0, left)).unref())]);
      if (timedOut) await this.#worker.close(true).catch(() => {});
    }
    await this.#queue.close().catch(() => {});
    for (const connection of this.#connections) connection.disconnect();
  }
}

/**
 * The embedded mode's queue: the same processor over the same rows, in this process. Ids waiting,
 * delayed or running are held once; `concurrency` rows are sent at a time.
 */
export class InProcessMailQueue implements MailQueue {
  readonly kind = 'in-process' as const;
  readonly #processor: MailProcessor;
  readonly #concurrency: number;
  readonly #log: Logger;
  readonly #held = new Set<string>();
  readonly #ready: string[] = [];
  readonly #timers = new Map<string, NodeJS.Timeout>();
  readonly #running = new Set<Promise<void>>();
  #closed = false;

  constructor(options: { processor: MailProcessor; concurrency: number; log: Logger }) {
    this.#processor = options.processor;
    this.#concurrency = options.concurrency;
    this.#log = options.log;
  }

  enqueue(ids: readonly string[]): void {
    if (this.#closed) return;
    for (const id of ids) {
      if (this.#held.has(id)) continue;
      this.#held.add(id);
      this.#ready.push(id);
    }
    this.#pump();
  }

  #pump(): void {
    while (!this.#closed && this.#running.size < this.#concurrency && this.#ready.length > 0) {
      const id = this.#ready.shift()!;
      const run: Promise<void> = this.#processor
        .process(id)
        .then(
          (result) => {
            if (result.kind === 'later' && !this.#closed) {
              const timer = setTimeout(() => {
                this.#timers.delete(id);
                this.#ready.push(id);
                this.#pump();
              }, Math.max(10, result.at.getTime() - Date.now()));
              timer.unref();
              this.#timers.set(id, timer);
              return;
            }
            this.#held.delete(id);
          },
          (err: unknown) => {
            this.#held.delete(id);
            this.#log.warn({ err, outboxId: id }, 'mail: processing failed');
          },
        )
        .finally(() => {
          this.#running.delete(run);
          this.#pump();
        });
      this.#running.add(run);
    }
  }

  async close(deadline: number): Promise<void> {
    this.#closed = true;
    for (const timer of this.#timers.values()) clearTimeout(timer);
    this.#timers.clear();
    const left = deadline - Date.now();
    await Promise.race([Promise.all(this.#running), new Promise((resolve) => setTimeout(resolve, Math.max(0, left)).unref())]);
  }
}
