import { and, asc, count, desc, eq, gt, inArray, lt, max, ne, sql, type SQL } from 'drizzle-orm';
import type { Db } from '../db/client.ts';
import { notificationRecipients, notifications, users } from '../db/schema.ts';
import type { PubSub } from '../kv/pubsub.ts';
import type { Logger } from '../logger.ts';
import { ValidationError } from './errors.ts';
import type { Page, SortOrder } from './list-query.ts';
import { NotificationFeed, type AddedMessage, type FeedStore, type NotificationView } from './notification-feed.ts';
import type { AuthenticatedPrincipal } from './principal.ts';
import { PushIterator } from './push-iterator.ts';
import { isRecordId } from './record-ids.ts';
import { securityMessage, type SecurityEvent, type SecurityEventSink } from './security-events.ts';
import type { Settings } from './settings.ts';
import { isStorableText } from './user-fields.ts';

export type { NotificationView } from './notification-feed.ts';

export type NotificationSortField = 'id' | 'createdAt';

export interface NotificationFilter {
  readonly id?: string | null;
  readonly read?: boolean | null;
}

export interface NewNotification {
  readonly userIds: readonly string[];
  readonly subject: string;
  readonly body: string;
  /** When it goes; `notificationRetentionDays` after creation when not given. */
  readonly expiresAt?: Date | null;
}

export interface SendResult {
  /** How many users received it. */
  readonly recipients: number;
  /** The given ids that name no user (each once, in the order given). */
  readonly unknownUserIds: readonly string[];
  /** Null when nobody received it (then none was created). */
  readonly notificationId: string | null;
}

export interface ChangeResult {
  /** How many of the caller's notifications changed state. */
  readonly changedCount: number;
  /** The caller's unread count afterwards. */
  readonly unreadCount: number;
}

export interface NotificationsDeps {
  readonly db: Db;
  readonly settings: Settings;
  readonly pubsub: PubSub;
  readonly log: Logger;
}

export const SUBJECT_MAX_LENGTH = 255;
export const BODY_MAX_LENGTH = 10_000;
export const MAX_RECIPIENTS = 100_000;
/** Recipient rows per INSERT of a fan-out. */
const FAN_OUT_BATCH = 5000;
/** Ids per statement where callers give lists. */
const ID_BATCH = 5000;
const REPLAY_PAGE = 100;
const DAY_MS = 24 * 60 * 60 * 1000;
/**
 * Held while a notification gets its id and until its transaction commits, so ids are handed out
 * in commit order: whoever has seen id N can rely on every smaller id being committed. That is what
 * makes `after` resumes and the feed's gap check exact. ("ntfy" in ASCII.)
 */
const ID_ORDER_LOCK = 0x6e746679;

class NobodyReceivedIt extends Error {}

type Tx = Parameters<Parameters<Db['transaction']>[0]>[0];

const r = notificationRecipients;
const n = notifications;
const viewColumns = {
  id: n.id,
  subject: n.subject,
  body: n.body,
  read: r.read,
  createdAt: n.createdAt,
  expiresAt: n.expiresAt,
};
const sortColumns = { id: r.notificationId, createdAt: n.createdAt } as const;

/**
 * The notification inbox of every user: notifications (one row each) with one state row per
 * recipient (read, deleted), created by admins and by the domain's security events, read and
 * changed only by their recipients, pushed live through the node's `NotificationFeed`.
 */
export class Notifications {
  readonly #db: Db;
  readonly #settings: Settings;
  readonly #log: Logger;
  readonly #feed: NotificationFeed;
  readonly #createdListeners = new Set<(userIds: readonly string[]) => void>();

  constructor(deps: NotificationsDeps) {
    this.#db = deps.db;
    this.#settings = deps.settings;
    this.#log = deps.log;
    const store: FeedStore = {
      latestId: () => this.#latestId(this.#db),
      addedBetween: (after, before, userIds) => this.#addedBetween(after, before, userIds),
      unreadCounts: (userIds) => this.#unreadCounts(userIds),
    };
    this.#feed = new NotificationFeed(deps.pubsub, store, deps.log);
  }

  start(): Promise<void> {
    return this.#feed.start();
  }

  close(): Promise<void> {
    this.#createdListeners.clear();
    return this.#feed.close();
  }

  /** Called on the creating node, after commit, with the recipients of each new notification (the v1 event). */
  onCreated(listener: (userIds: readonly string[]) => void): () => void {
    this.#createdListeners.add(listener);
    return () => this.#createdListeners.delete(listener);
  }

  /** An admin's notification to the given users; ids naming nobody are reported, not refused. */
  async send(fields: NewNotification): Promise<SendResult> {
    const subject = fields.subject.trim();
    if (subject.length === 0 || subject.length > SUBJECT_MAX_LENGTH) {
      throw new ValidationError(`Subject must be 1 to ${SUBJECT_MAX_LENGTH} characters long`, 'subject');
    }
    if (fields.body.length > BODY_MAX_LENGTH) throw new ValidationError(`Body must be at most ${BODY_MAX_LENGTH} characters long`, 'body');
    if (!isStorableText(subject) || !isStorableText(fields.body)) {
      throw new ValidationError('Subject and body must not contain NUL or unpaired surrogate characters', 'body');
    }
    if (fields.userIds.length === 0) throw new ValidationError('At least one recipient is required', 'userIds');
    if (fields.userIds.length > MAX_RECIPIENTS) throw new ValidationError(`At most ${MAX_RECIPIENTS} recipients at once`, 'userIds');
    if (fields.expiresAt && fields.expiresAt.getTime() <= Date.now()) throw new ValidationError('Expiry must be in the future', 'expiresAt');
    return this.#create(fields.userIds, subject, fields.body, fields.expiresAt ?? null);
  }

  /**
   * The one way the domain tells a user about a security event on their account (sign-in,
   * password or e-mail change, new API token, sessions ended by an admin, account enabled again).
   * Never throws: a failure is logged.
   */
  readonly securityEvent: SecurityEventSink = async (userId: string, event: SecurityEvent) => {
    try {
      const { subject, body } = securityMessage(event);
      await this.#create([userId], subject, body, null);
    } catch (err) {
      this.#log.warn({ err, userId, event: event.kind }, 'could not create a security notification');
    }
  };

  async count(owner: AuthenticatedPrincipal, filter: NotificationFilter = {}): Promise<number> {
    const [row] = await this.#db.select({ total: count() }).from(r).where(this.#visible(owner, filter));
    return row?.total ?? 0;
  }

  unreadCount(owner: AuthenticatedPrincipal): Promise<number> {
    return this.count(owner, { read: false });
  }

  async list(
    owner: AuthenticatedPrincipal,
    filter: NotificationFilter,
    order: readonly SortOrder<NotificationSortField>[],
    page: Page,
  ): Promise<NotificationView[]> {
    const last = order.at(-1)?.direction ?? 'desc';
    return this.#db
      .select(viewColumns)
      .from(r)
      .innerJoin(n, eq(n.id, r.notificationId))
      .where(this.#visible(owner, filter))
      .orderBy(...order.map(({ field, direction }) => (direction === 'desc' ? desc : asc)(sortColumns[field])), (last === 'desc' ? desc : asc)(r.notificationId))
      .offset(page.offset)
      .limit(page.limit);
  }

  /** Marks the given notifications of the caller (all of them when `ids` is null) read or unread. */
  async setRead(owner: AuthenticatedPrincipal, ids: readonly string[] | null, read: boolean): Promise<ChangeResult> {
    return this.#change(owner, ids, (condition) =>
      this.#db.update(r).set({ read }).where(and(condition, ne(r.read, read))).returning({ id: r.notificationId }),
    );
  }

  /** Deletes the given notifications (all when `ids` is null) for the caller only; other recipients keep theirs. */
  async delete(owner: AuthenticatedPrincipal, ids: readonly string[] | null): Promise<ChangeResult> {
    return this.#change(owner, ids, (condition) => this.#db.update(r).set({ deleted: true }).where(condition).returning({ id: r.notificationId }));
  }

  /**
   * The caller's notifications as they arrive. With `after`, first those newer than that id
   * (oldest first), then live, with nothing missed or repeated at the seam: the live listener is
   * in place before the replay reads, and live ones the replay already gave are skipped.
   */
  added(owner: AuthenticatedPrincipal, after: string | null): AsyncIterableIterator<NotificationView> {
    if (after !== null && !isRecordId(after)) throw new ValidationError('"after" must be a notification id', 'after');
    const live = new PushIterator<NotificationView>(() => stop());
    const stop = this.#feed.onAdded(owner.user.id, (notification) => live.push(notification));
    return new ResumingIterator(live, after === null ? null : BigInt(after), (last) => this.#replayPage(owner, last));
  }

  /** The caller's unread count at once, then after every change. */
  unreadCounts(owner: AuthenticatedPrincipal): AsyncIterableIterator<{ unreadCount: number }> {
    const pushes = new PushIterator<{ unreadCount: number }>(() => stop());
    const stop = this.#feed.onUnreadCount(owner.user.id, (unreadCount) => pushes.push({ unreadCount }));
    return pushes;
  }

  async #change(
    owner: AuthenticatedPrincipal,
    ids: readonly string[] | null,
    apply: (condition: SQL | undefined) => Promise<{ id: string }[]>,
  ): Promise<ChangeResult> {
    let changed = 0;
    if (ids === null) {
      changed = (await apply(this.#visible(owner, {}))).length;
    } else {
      const valid = [...new Set(ids.map(String))].filter(isRecordId);
      for (let start = 0; start < valid.length; start += ID_BATCH) {
        const chunk = valid.slice(start, start + ID_BATCH);
        changed += (await apply(and(this.#visible(owner, {}), inArray(r.notificationId, chunk)))).length;
      }
    }
    if (changed > 0) {
      await this.#feed.publishChanged([owner.user.id]).catch((err: unknown) => this.#log.warn({ err }, 'could not publish a notification change'));
    }
    return { changedCount: changed, unreadCount: await this.unreadCount(owner) };
  }

  /** The recipient's live rows: not deleted, not expired (the purge takes expired ones later). */
  #visible(owner: AuthenticatedPrincipal, filter: NotificationFilter): SQL | undefined {
    return and(
      eq(r.userId, owner.user.id),
      eq(r.deleted, false),
      gt(r.expiresAt, sql`now()`),
      filter.id ? (isRecordId(filter.id) ? eq(r.notificationId, filter.id) : sql`false`) : undefined,
      filter.read === true || filter.read === false ? eq(r.read, filter.read) : undefined,
    );
  }

  #replayPage(owner: AuthenticatedPrincipal, after: bigint): Promise<NotificationView[]> {
    return this.#db
      .select(viewColumns)
      .from(r)
      .innerJoin(n, eq(n.id, r.notificationId))
      .where(and(this.#visible(owner, {}), gt(r.notificationId, after.toString())))
      .orderBy(asc(r.notificationId))
      .limit(REPLAY_PAGE);
  }

  async #create(userIds: readonly string[], subject: string, body: string, expiresAt: Date | null): Promise<SendResult> {
    const unique = [...new Set(userIds.map(String))];
    const candidates = unique.filter(isRecordId);
    const retentionDays = expiresAt ? 0 : (await this.#settings.read()).notificationRetentionDays;
    const expires = expiresAt ?? new Date(Date.now() + retentionDays * DAY_MS);
    let created: { message: AddedMessage; received: Set<string> };
    try {
      created = await this.#db.transaction(async (tx) => {
        await tx.execute(sql`select pg_advisory_xact_lock(${ID_ORDER_LOCK})`);
        const previousId = await this.#latestId(tx);
        const [row] = await tx.insert(n).values({ subject, body, expiresAt: expires }).returning();
        const received = new Set<string>();
        for (let start = 0; start < candidates.length; start += FAN_OUT_BATCH) {
          const chunk = candidates.slice(start, start + FAN_OUT_BATCH);
          const rows = await tx
            .insert(r)
            .select(
              tx
                .select({
                  notificationId: sql<string>`${row!.id}::bigint`.as('notification_id'),
                  userId: users.id,
                  read: sql<boolean>`false`.as('read'),
                  deleted: sql<boolean>`false`.as('deleted'),
                  expiresAt: sql<Date>`${expires.toISOString()}::timestamptz`.as('expires_at'),
                })
                .from(users)
                .where(inArray(users.id, chunk)),
            )
            .returning({ userId: r.userId });
          for (const { userId } of rows) received.add(userId);
        }
        if (received.size === 0) throw new NobodyReceivedIt();
        const message: AddedMessage = {
          id: row!.id,
          previousId,
          subject,
          body,
          createdAt: row!.createdAt.toISOString(),
          expiresAt: row!.expiresAt.toISOString(),
          userIds: [...received],
        };
        return { message, received };
      });
    } catch (error) {
      if (error instanceof NobodyReceivedIt) return { recipients: 0, unknownUserIds: unique, notificationId: null };
      throw error;
    }
    const { message, received } = created;
    await this.#feed.publishAdded(message).catch((err: unknown) => this.#log.warn({ err, id: message.id }, 'could not publish a notification'));
    for (const listener of [...this.#createdListeners]) {
      try {
        listener(message.userIds);
      } catch (err) {
        this.#log.warn({ err }, 'a notification listener failed');
      }
    }
    return { recipients: received.size, unknownUserIds: unique.filter((id) => !received.has(id)), notificationId: message.id };
  }

  async #latestId(executor: Db | Tx): Promise<string | null> {
    const [row] = await executor.select({ id: max(n.id) }).from(n);
    return row?.id ?? null;
  }

  async #addedBetween(after: bigint, before: bigint, userIds: readonly string[]): Promise<AddedMessage[]> {
    const rows = await this.#db
      .select()
      .from(n)
      .where(and(gt(n.id, after.toString()), lt(n.id, before.toString())))
      .orderBy(asc(n.id))
      .limit(1000);
    if (rows.length === 0) return [];
    const received = new Map<string, string[]>();
    for (let start = 0; start < userIds.length; start += ID_BATCH) {
      const recipients = await this.#db
        .select({ notificationId: r.notificationId, userId: r.userId })
        .from(r)
        .where(and(inArray(r.notificationId, rows.map((row) => row.id)), inArray(r.userId, userIds.slice(start, start + ID_BATCH)), eq(r.deleted, false)));
      for (const { notificationId, userId } of recipients) {
        let list = received.get(notificationId);
        if (!list) received.set(notificationId, (list = []));
        list.push(userId);
      }
    }
    return rows.map((row) => ({
      id: row.id,
      previousId: null,
      subject: row.subject,
      body: row.body,
      createdAt: row.createdAt.toISOString(),
      expiresAt: row.expiresAt.toISOString(),
      userIds: received.get(row.id) ?? [],
    }));
  }

  async #unreadCounts(userIds: readonly string[]): Promise<Map<string, number>> {
    const counts = new Map<string, number>();
    if (userIds.length === 0) return counts;
    const rows = await this.#db
      .select({ userId: r.userId, unread: count() })
      .from(r)
      .where(and(inArray(r.userId, [...userIds]), eq(r.deleted, false), eq(r.read, false), gt(r.expiresAt, sql`now()`)))
      .groupBy(r.userId);
    for (const { userId, unread } of rows) counts.set(userId, unread);
    return counts;
  }
}

/** Replays pages from the database after `after`, then goes live, skipping live ones already replayed. */
class ResumingIterator implements AsyncIterableIterator<NotificationView> {
  readonly #live: PushIterator<NotificationView>;
  readonly #load: (after: bigint) => Promise<NotificationView[]>;
  #last: bigint | null;
  #replaying: boolean;
  #page: NotificationView[] = [];
  #lastPage = false;

  constructor(live: PushIterator<NotificationView>, after: bigint | null, load: (after: bigint) => Promise<NotificationView[]>) {
    this.#live = live;
    this.#load = load;
    this.#last = after;
    this.#replaying = after !== null;
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  async next(): Promise<IteratorResult<NotificationView>> {
    while (this.#replaying && !this.#live.done) {
      const replayed = this.#page.shift();
      if (replayed) {
        this.#last = BigInt(replayed.id);
        return { done: false, value: replayed };
      }
      if (this.#lastPage) {
        this.#replaying = false;
        break;
      }
      this.#page = await this.#load(this.#last!);
      this.#lastPage = this.#page.length < REPLAY_PAGE;
    }
    for (;;) {
      const result = await this.#live.next();
      if (result.done) return result;
      const id = BigInt(result.value.id);
      if (this.#last !== null && id <= this.#last) continue;
      this.#last = id;
      return result;
    }
  }

  return(): Promise<IteratorResult<NotificationView>> {
    return this.#live.return();
  }
}
