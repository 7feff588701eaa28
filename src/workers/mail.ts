import type { MailConfig } from '../config.ts';
import type { Outbox } from '../domain/outbox.ts';
import type { Settings } from '../domain/settings.ts';
import type { Logger } from '../logger.ts';
import { MailProcessor } from './mail-processor.ts';
import { BullMailQueue, InProcessMailQueue, type MailQueue } from './mail-queue.ts';

export interface MailServiceOptions {
  readonly outbox: Outbox;
  readonly settings: Settings;
  readonly config: MailConfig;
  readonly log: Logger;
  /** With Redis: BullMQ. Without: the in-process runner. */
  readonly redis?: { readonly url: string; readonly keyPrefix: string };
  /** Run a worker (and the relay) here; otherwise only hand rows to the queue (BullMQ only). */
  readonly runWorker: boolean;
  /** Names the worker in the rows it holds. */
  readonly owner?: string;
}

/** Delivery of the outbox on one node: the queue, a worker (optional) and the relay beside it. */
export interface MailService {
  readonly queue: MailQueue;
  readonly processor: MailProcessor | undefined;
  /** Hands committed rows to the queue (the outbox's dispatch). */
  enqueue(ids: readonly string[]): void;
  /** Re-enqueues queued and abandoned rows once, now. */
  relayOnce(): Promise<number>;
  /** Stops claiming; the rows in hand finish or are given back before `deadline` (epoch ms). */
  close(deadline: number): Promise<void>;
}

/**
 * Starts mail delivery. The relay (on start, then every `relayIntervalMs`) re-enqueues rows still
 * `queued` and due, and rows whose worker's lease ran out (Redis was down, a worker died); every
 * node running a worker runs it, which is harmless: a row is claimed once.
 */
export async function startMail(options: MailServiceOptions): Promise<MailService> {
  const { config, log } = options;
  const processor = options.runWorker
    ? new MailProcessor({
          outbox: options.outbox,
          settings: options.settings,
          log,
          leaseMs: config.leaseMs,
          maxAttempts: config.maxAttempts,
          retryBaseMs: config.retryBaseMs,
        owner: options.owner,
      })
    : undefined;
  let queue: MailQueue;
  if (options.redis) {
    const bull = new BullMailQueue({
      redisUrl: options.redis.url,
      keyPrefix: options.redis.keyPrefix,
      log,
      processor: options.runWorker ? processor : undefined,
      concurrency: config.concurrency,
      leaseMs: config.leaseMs,
    });
    await bull.ready();
    queue = bull;
  } else if (processor) {
    queue = new InProcessMailQueue({ processor, concurrency: config.concurrency, log });
  } else {
    // Embedded without a worker here: rows wait for a processor started on the same database.
    queue = { kind: 'in-process', enqueue: () => {}, close: async () => {} };
  }

  const runsWorker = options.runWorker;
  let relaying: Promise<number> | undefined;
  const relayOnce = (): Promise<number> => {
    relaying ??= (async () => {
      try {
        const ids = await options.outbox.relayCandidates();
        queue.enqueue(ids);
        if (ids.length > 0) log.info({ count: ids.length }, 'mail relay: re-enqueued messages');
        return ids.length;
      } catch (err) {
        log.warn({ err }, 'mail relay failed');
        return 0;
      } finally {
        relaying = undefined;
      }
    })();
    return relaying;
  };
  let timer: NodeJS.Timeout | undefined;
  if (runsWorker) {
    timer = setInterval(() => void relayOnce(), config.relayIntervalMs);
    timer.unref();
    void relayOnce();
  }
  log.info({ queue: queue.kind, worker: runsWorker, concurrency: config.concurrency }, 'mail delivery ready');

  let closing: Promise<void> | undefined;
  return {
    queue,
    processor: runsWorker ? processor : undefined,
    enqueue: (ids) => queue.enqueue(ids),
    relayOnce,
    close(deadline) {
      closing ??= (async () => {
        clearInterval(timer);
        // Sends not handed over by a second before the deadline give their rows back.
        const abortAt = setTimeout(() => processor?.abortAll(), Math.max(0, deadline - Date.now() - 1000));
        try {
          await queue.close(deadline);
        } finally {
          clearTimeout(abortAt);
          processor?.abortAll();
          await relaying;
          processor?.close();
        }
      })();
      return closing;
    },
  };
}
