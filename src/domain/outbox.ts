import { and, count, desc, eq, ilike, inArray, isNotNull, isNull, lt, lte, or, sql, type SQL } from 'drizzle-orm';
import type { Db } from '../db/client.ts';
import { outbox, type OutboxRow, type OutboxStatus } from '../db/schema.ts';
import { NotAllowedError, NotFoundError } from './errors.ts';
import { containsPattern, type Page } from './list-query.ts';
import { isRecordId } from './record-ids.ts';
import { isStorableText } from './user-fields.ts';

/** A transaction of `Db`, or `Db` itself. */
export type DbExecutor = Db | Parameters<Parameters<Db['transaction']>[0]>[0];

/** A rendered message, ready to be stored. */
export interface OutboxDraft {
  readonly recipient: string;
  readonly template: string;
  readonly subject: string;
  readonly text: string;
  readonly html: string;
}

export interface OutboxFilter {
  readonly status?: readonly OutboxStatus[] | null;
  /** Case-insensitive substring of the recipient. */
  readonly recipient?: string | null;
}

/** Hands ids of committed rows to whatever delivers them (BullMQ or the in-process runner). */
export type OutboxDispatch = (ids: readonly string[]) => void;

/** A row a worker holds: what it needs to send it. */
export type ClaimedMessage = Pick<OutboxRow, 'id' | 'recipient' | 'template' | 'subject' | 'textBody' | 'htmlBody' | 'attempts'>;

export type ClaimResult =
  | { readonly kind: 'claimed'; readonly message: ClaimedMessage }
  /** Queued, but its next attempt is later: the queue should come back then. */
  | { readonly kind: 'later'; readonly at: Date }
  /** Sent, failed, uncertain, held by a live worker, or gone: nothing to do. */
  | { readonly kind: 'nothing' };

const UNCERTAIN_AFTER_CRASH =
  'The worker stopped after handing the message data to the server and before its reply: whether it was accepted is unknown.';

const now = sql`now()`;
const plusMs = (ms: number) => sql`now() + ${Math.round(ms)}::int * interval '1 millisecond'`;

/**
 * The e-mail outbox: one row per message, written in the transaction of the action that causes it
 * and handed to the queue only after that commits. Every transition a worker makes is a
 * conditional update on the row, so a duplicate job, a second worker or a retried job finds the row
 * claimed or finished and does nothing.
 */
export class Outbox {
  readonly #db: Db;
  #dispatch: OutboxDispatch | null = null;

  constructor(db: Db) {
    this.#db = db;
  }

  /** Where committed rows go; without one they wait for the relay of whichever worker runs. */
  setDispatch(dispatch: OutboxDispatch | null): void {
    this.#dispatch = dispatch;
  }

  /** Writes a message inside the caller's transaction; call {@link dispatch} once it committed. */
  async insert(executor: DbExecutor, draft: OutboxDraft): Promise<string> {
    const [row] = await executor
      .insert(outbox)
      .values({ recipient: draft.recipient, template: draft.template, subject: draft.subject, textBody: draft.text, htmlBody: draft.html })
      .returning({ id: outbox.id });
    return row!.id;
  }

  /** Records a message that was not sent because a limit was reached, for admins to see. */
  async recordLimited(draft: Omit<OutboxDraft, 'text' | 'html'>, reason: string): Promise<string> {
    const [row] = await this.#db
      .insert(outbox)
      .values({
        ...draft,
        textBody: '',
        htmlBody: '',
        status: 'failed',
        rateLimited: true,
        nextAttemptAt: null,
        lastReply: reason,
      })
      .returning({ id: outbox.id });
    return row!.id;
  }

  /** Hands committed rows to the queue. Never throws: the relay finds what did not get there. */
  dispatch(ids: readonly string[]): void {
    if (ids.length === 0 || !this.#dispatch) return;
    try {
      this.#dispatch(ids);
    } catch {
      // The relay re-enqueues rows left queued.
    }
  }

  // --- admins ---

  async count(filter: OutboxFilter): Promise<number> {
    const [row] = await this.#db.select({ total: count() }).from(outbox).where(listCondition(filter));
    return row?.total ?? 0;
  }

  /** Newest first. */
  async list(filter: OutboxFilter, page: Page): Promise<OutboxRow[]> {
    return this.#db.select().from(outbox).where(listCondition(filter)).orderBy(desc(outbox.id)).offset(page.offset).limit(page.limit);
  }

  async find(id: string): Promise<OutboxRow | null> {
    if (!isRecordId(id)) return null;
    const [row] = await this.#db.select().from(outbox).where(eq(outbox.id, id));
    return row ?? null;
  }

  /** Queues a failed or uncertain message again, with a fresh round of attempts. */
  async retry(id: string): Promise<OutboxRow> {
    const [row] = isRecordId(id)
      ? await this.#db
          .update(outbox)
          .set({
            status: 'queued',
            attempts: 0,
            nextAttemptAt: now,
            leaseOwner: null,
            leaseExpiresAt: null,
            handedOverAt: null,
            updatedAt: now,
          })
          .where(and(eq(outbox.id, id), inArray(outbox.status, ['failed', 'uncertain']), eq(outbox.rateLimited, false)))
          .returning()
      : [];
    if (!row) {
      const existing = await this.find(id);
      if (!existing) throw new NotFoundError('Outbox message not found');
      if (existing.rateLimited) {
        throw new NotAllowedError('NOT_RETRIABLE', 'This message was never composed: a limit was reached, so there is nothing to send');
      }
      throw new NotAllowedError('NOT_RETRIABLE', `Only failed or uncertain messages can be retried; this one is ${existing.status}`);
    }
    this.dispatch([row.id]);
    return row;
  }

  // --- workers ---

  /**
   * `queued` (and due) → `sending`, or takes over a row whose worker's lease ran out before it
   * handed the message over. The lease is the database's clock plus `leaseMs`.
   */
  async claim(id: string, owner: string, leaseMs: number): Promise<ClaimResult> {
    if (!isRecordId(id)) return { kind: 'nothing' };
    const [claimed] = await this.#db
      .update(outbox)
      .set({
        status: 'sending',
        attempts: sql`${outbox.attempts} + 1`,
        leaseOwner: owner,
        leaseExpiresAt: plusMs(leaseMs),
        handedOverAt: null,
        updatedAt: now,
      })
      .where(
        and(
          eq(outbox.id, id),
          or(
            and(eq(outbox.status, 'queued'), lte(outbox.nextAttemptAt, now)),
            and(eq(outbox.status, 'sending'), lt(outbox.leaseExpiresAt, now), isNull(outbox.handedOverAt)),
          ),
        ),
      )
      .returning({
        id: outbox.id,
        recipient: outbox.recipient,
        template: outbox.template,
        subject: outbox.subject,
        textBody: outbox.textBody,
        htmlBody: outbox.htmlBody,
        attempts: outbox.attempts,
      });
    if (claimed) return { kind: 'claimed', message: claimed };
    const [row] = await this.#db
      .select({ status: outbox.status, nextAttemptAt: outbox.nextAttemptAt })
      .from(outbox)
      .where(eq(outbox.id, id));
    if (row?.status === 'queued' && row.nextAttemptAt) return { kind: 'later', at: row.nextAttemptAt };
    return { kind: 'nothing' };
  }

  /**
   * The point of no return, recorded before the end of the message data goes out: true while the
   * worker still holds its lease. After it, a worker that dies leaves the row `uncertain`.
   */
  async handOver(id: string, owner: string): Promise<boolean> {
    const rows = await this.#db
      .update(outbox)
      .set({ handedOverAt: now, updatedAt: now })
      .where(and(eq(outbox.id, id), eq(outbox.status, 'sending'), eq(outbox.leaseOwner, owner), sql`${outbox.leaseExpiresAt} > now()`))
      .returning({ id: outbox.id });
    return rows.length > 0;
  }

  /** Sent: the bodies (which carry single-use links) are not kept. */
  async markSent(id: string, owner: string, reply: string): Promise<boolean> {
    return this.#finish(id, owner, { status: 'sent', sentAt: now, lastReply: reply, textBody: '', htmlBody: '', nextAttemptAt: null });
  }

  async markFailed(id: string, owner: string, reply: string): Promise<boolean> {
    return this.#finish(id, owner, { status: 'failed', lastReply: reply, nextAttemptAt: null });
  }

  async markUncertain(id: string, owner: string, reply: string): Promise<boolean> {
    return this.#finish(id, owner, { status: 'uncertain', lastReply: reply, nextAttemptAt: null });
  }

  /** Back to `queued` for another attempt at `at`. */
  async reschedule(id: string, owner: string, reply: string, delayMs: number): Promise<boolean> {
    return this.#finish(id, owner, { status: 'queued', lastReply: reply, nextAttemptAt: plusMs(delayMs) });
  }

  /** Gives a row back untouched (shutdown before the hand-over): the attempt does not count. */
  async release(id: string, owner: string): Promise<boolean> {
    return this.#finish(id, owner, { status: 'queued', attempts: sql`greatest(${outbox.attempts} - 1, 0)`, nextAttemptAt: now });
  }

  async #finish(id: string, owner: string, values: Partial<Record<keyof OutboxRow, unknown>>): Promise<boolean> {
    const rows = await this.#db
      .update(outbox)
      .set({ ...values, leaseOwner: null, leaseExpiresAt: null, handedOverAt: null, updatedAt: now } as never)
      .where(and(eq(outbox.id, id), eq(outbox.status, 'sending'), eq(outbox.leaseOwner, owner)))
      .returning({ id: outbox.id });
    return rows.length > 0;
  }

  /**
   * What the relay hands to the queue again: rows queued and due (Redis was down, a job got lost)
   * and rows whose worker's lease ran out before the hand-over (the worker died). Rows whose worker
   * died after the hand-over become `uncertain` first.
   */
  async relayCandidates(limit = 1000): Promise<string[]> {
    await this.#db
      .update(outbox)
      .set({ status: 'uncertain', lastReply: UNCERTAIN_AFTER_CRASH, leaseOwner: null, leaseExpiresAt: null, nextAttemptAt: null, updatedAt: now })
      .where(and(eq(outbox.status, 'sending'), lt(outbox.leaseExpiresAt, now), isNotNull(outbox.handedOverAt)));
    const rows = await this.#db
      .select({ id: outbox.id })
      .from(outbox)
      .where(
        or(
          and(eq(outbox.status, 'queued'), lte(outbox.nextAttemptAt, now)),
          and(eq(outbox.status, 'sending'), lt(outbox.leaseExpiresAt, now)),
        ),
      )
      .orderBy(outbox.id)
      .limit(limit);
    return rows.map((row) => row.id);
  }
}

function listCondition(filter: OutboxFilter): SQL | undefined {
  const recipient = filter.recipient;
  return and(
    filter.status && filter.status.length > 0 ? inArray(outbox.status, [...filter.status]) : undefined,
    recipient ? (isStorableText(recipient) ? ilike(outbox.recipient, containsPattern(recipient)) : sql`false`) : undefined,
  );
}
