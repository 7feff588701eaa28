import { asc, inArray, lte, sql } from 'drizzle-orm';
import type { Db } from '../db/client.ts';
import { notificationRecipients, notifications } from '../db/schema.ts';
import type { RetentionTask } from './retention.ts';

export interface NotificationPurgeOptions {
  /** Expired notifications taken per round. */
  readonly notificationsPerRound?: number;
  /** Recipient rows deleted per statement. */
  readonly recipientsPerStatement?: number;
}

/**
 * Deletes notifications past their expiry (set at creation: `expiresAt`, or
 * `notificationRetentionDays` after sending). Each statement is its own transaction and touches a
 * bounded number of rows: recipient rows a batch at a time, then the notifications, so a purge of a
 * notification sent to a million users never holds a million row locks, and inboxes keep working.
 * Returns how many rows (notifications and recipient rows) went.
 */
export async function purgeExpiredNotifications(db: Db, now = new Date(), options: NotificationPurgeOptions = {}): Promise<number> {
  const perRound = options.notificationsPerRound ?? 100;
  const perStatement = options.recipientsPerStatement ?? 5000;
  const r = notificationRecipients;
  let removed = 0;
  for (;;) {
    const expired = await db
      .select({ id: notifications.id })
      .from(notifications)
      .where(lte(notifications.expiresAt, now))
      .orderBy(asc(notifications.expiresAt))
      .limit(perRound);
    if (expired.length === 0) return removed;
    const ids = expired.map(({ id }) => id);
    for (;;) {
      const batch = db.select({ notificationId: r.notificationId, userId: r.userId }).from(r).where(inArray(r.notificationId, ids)).limit(perStatement);
      const gone = await db
        .delete(r)
        .where(sql`(${r.notificationId}, ${r.userId}) in (${batch})`)
        .returning({ notificationId: r.notificationId });
      removed += gone.length;
      if (gone.length < perStatement) break;
    }
    removed += (await db.delete(notifications).where(inArray(notifications.id, ids)).returning({ id: notifications.id })).length;
  }
}

export function notificationRetention(db: Db): RetentionTask {
  return { name: 'expired notifications', run: () => purgeExpiredNotifications(db) };
}
