import { randomUUID } from 'node:crypto';
import os from 'node:os';
import MailComposer from 'nodemailer/lib/mail-composer';
import type { SettingsRow } from '../db/schema.ts';
import type { ClaimedMessage, Outbox } from '../domain/outbox.ts';
import type { Settings } from '../domain/settings.ts';
import { smtpServerOf } from '../domain/smtp.ts';
import type { Logger } from '../logger.ts';
import { SmtpPool, type SendOutcome } from './smtp-pool.ts';

export interface MailProcessorOptions {
  readonly outbox: Outbox;
  readonly settings: Settings;
  readonly log: Logger;
  readonly leaseMs: number;
  readonly maxAttempts: number;
  readonly retryBaseMs: number;
  /** Names this worker in the rows it holds (default: host, pid and a random part). */
  readonly owner?: string;
}

/** What the queue does with a job once the processor is done with it. */
export type ProcessResult = { readonly kind: 'done' } | { readonly kind: 'later'; readonly at: Date };

const DONE: ProcessResult = { kind: 'done' };
/** The longest wait between attempts. */
const MAX_BACKOFF_MS = 6 * 60 * 60 * 1000;

/** The bare address of `user@example.com` or `Name <user@example.com>`. */
export function addressOf(sender: string): string {
  return /<([^<>]+)>\s*$/.exec(sender)?.[1]?.trim() ?? sender.trim();
}

/** `smtp_from`, or `no-reply@<app_url host>` when it is not set. */
export function senderOf(settings: Pick<SettingsRow, 'smtpFrom' | 'appUrl'>): string {
  if (settings.smtpFrom) return settings.smtpFrom;
  let host = 'localhost';
  try {
    if (settings.appUrl) host = new URL(settings.appUrl).hostname || host;
  } catch {
    // keep localhost
  }
  return `no-reply@${host}`;
}

/**
 * Sends one outbox row: claims it (or does nothing when it is not due, claimed or finished),
 * sends it over the SMTP pool, records the hand-over before the end of data, and records the
 * outcome: `sent`, `failed` (a permanent refusal, or the last attempt), `uncertain` (no reply after
 * the hand-over), or `queued` again after an exponential backoff. The same code runs under BullMQ
 * and in-process.
 */
export class MailProcessor {
  readonly owner: string;
  readonly #options: MailProcessorOptions;
  readonly #pool: SmtpPool;
  readonly #inFlight = new Map<string, AbortController>();
  /** The settings, read at most once a second (a changed SMTP server applies within a second). */
  #settings: { at: number; value: Promise<SettingsRow> } | undefined;

  constructor(options: MailProcessorOptions) {
    this.#options = options;
    this.owner = options.owner ?? `${os.hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
    // Every wait ends well within the lease, so a live worker never loses a row it is sending.
    const step = Math.max(500, Math.min(10_000, Math.floor(options.leaseMs / 4)));
    this.#pool = new SmtpPool({ timeouts: { connectionMs: step, greetingMs: step, socketMs: step } });
  }

  /** Rows this processor is sending right now. */
  get inFlight(): number {
    return this.#inFlight.size;
  }

  async process(id: string): Promise<ProcessResult> {
    const { outbox, log } = this.#options;
    const claim = await outbox.claim(id, this.owner, this.#options.leaseMs);
    if (claim.kind === 'later') return { kind: 'later', at: claim.at };
    if (claim.kind === 'nothing') return DONE;
    const message = claim.message;
    const controller = new AbortController();
    this.#inFlight.set(id, controller);
    try {
      const outcome = await this.#send(message, controller.signal);
      return await this.#record(message, outcome);
    } catch (err) {
      // The database failed us: the lease runs out and the relay brings the row back.
      log.warn({ err, outboxId: id }, 'mail: could not record the outcome of a message');
      return DONE;
    } finally {
      this.#inFlight.delete(id);
    }
  }

  /** Shutdown: sends not yet handed over stop and give their rows back; the others run to their reply. */
  abortAll(): void {
    for (const controller of this.#inFlight.values()) controller.abort();
  }

  close(): void {
    this.#pool.close();
  }

  async #send(message: ClaimedMessage, signal: AbortSignal): Promise<SendOutcome> {
    const settings = await this.#readSettings();
    const server = smtpServerOf(settings);
    if (!server) return { kind: 'deferred', reply: 'SMTP is not configured (smtp_hostname is not set)' };
    const from = senderOf(settings);
    const envelopeFrom = addressOf(from);
    const raw = await new MailComposer({
      from,
      to: message.recipient,
      subject: message.subject,
      text: message.textBody,
      html: message.htmlBody,
      // The same id on every attempt, so a receiver can tell a repeat of an uncertain send.
      messageId: `<outbox-${message.id}@${envelopeFrom.split('@')[1] ?? 'localhost'}>`,
      headers: { 'X-Outbox-Id': message.id },
    })
      .compile()
      .build();
    return this.#pool.send({
      server,
      from: envelopeFrom,
      to: message.recipient,
      raw,
      signal,
      beforeEnd: () => this.#options.outbox.handOver(message.id, this.owner),
    });
  }

  #readSettings(): Promise<SettingsRow> {
    const now = Date.now();
    if (!this.#settings || now - this.#settings.at > 1000) {
      const value = this.#options.settings.read();
      this.#settings = { at: now, value };
      value.catch(() => (this.#settings = undefined));
    }
    return this.#settings.value;
  }

  async #record(message: ClaimedMessage, outcome: SendOutcome): Promise<ProcessResult> {
    const { outbox, log, maxAttempts, retryBaseMs } = this.#options;
    const { id } = message;
    switch (outcome.kind) {
      case 'sent':
        await outbox.markSent(id, this.owner, outcome.reply);
        log.info({ outboxId: id, attempts: message.attempts }, 'mail: sent');
        return DONE;
      case 'rejected':
        await outbox.markFailed(id, this.owner, outcome.reply);
        log.warn({ outboxId: id, reply: outcome.reply }, 'mail: refused by the server');
        return DONE;
      case 'uncertain':
        await outbox.markUncertain(id, this.owner, outcome.reply);
        log.warn({ outboxId: id, reply: outcome.reply }, 'mail: outcome unknown');
        return DONE;
      case 'aborted':
        // Given back untouched; under BullMQ the job waits a moment for another worker.
        await outbox.release(id, this.owner);
        return { kind: 'later', at: new Date() };
      case 'deferred': {
        if (message.attempts >= maxAttempts) {
          await outbox.markFailed(id, this.owner, `Gave up after ${message.attempts} attempts: ${outcome.reply}`);
          log.warn({ outboxId: id, reply: outcome.reply }, 'mail: failed after the last attempt');
          return DONE;
        }
        const delayMs = Math.min(retryBaseMs * 2 ** (message.attempts - 1), MAX_BACKOFF_MS);
        await outbox.reschedule(id, this.owner, outcome.reply, delayMs);
        log.info({ outboxId: id, delayMs, reply: outcome.reply }, 'mail: will try again');
        return { kind: 'later', at: new Date(Date.now() + delayMs) };
      }
    }
  }
}
