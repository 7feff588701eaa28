import { and, asc, count, desc, eq, gte, lt, sql, type SQL } from 'drizzle-orm';
import type { Db } from '../db/client.ts';
import { callLog, type CallLogRow } from '../db/schema.ts';
import type { Page, SortDirection } from './list-query.ts';

const DAY_MS = 24 * 3_600_000;
const PARTITION_PREFIX = 'call_log_p';

/** A call-log row before it is written. */
export interface CallLogEntry {
  readonly methodId: string;
  readonly userId: string | null;
  readonly credentialKind: 'session' | 'apiToken' | null;
  readonly credentialId: string | null;
  readonly clientAddress: string | null;
  readonly startedAt: number;
  readonly durationMs: number;
  readonly status: number;
  readonly statusText: string;
  readonly isError: boolean;
  readonly isException: boolean;
  readonly isDeclined: boolean;
  readonly declinedBy: string | null;
}

export type CallOutcome = 'ok' | 'error' | 'exception' | 'declined';

export interface CallLogFilter {
  readonly methodId?: string | null;
  readonly userId?: string | null;
  readonly outcome?: CallOutcome | null;
  /** Calls started at or after. */
  readonly from?: Date | null;
  /** Calls started before. */
  readonly to?: Date | null;
}

/** `call_log_p20261201` for the UTC day starting at `dayStartMs`. */
function partitionName(dayStartMs: number): string {
  return PARTITION_PREFIX + new Date(dayStartMs).toISOString().slice(0, 10).replaceAll('-', '');
}

function partitionDay(name: string): number | null {
  const match = /^call_log_p(\d{4})(\d{2})(\d{2})$/.exec(name);
  return match ? Date.UTC(Number(match[1]), Number(match[2]) - 1, Number(match[3])) : null;
}

const dayStart = (ms: number) => Math.floor(ms / DAY_MS) * DAY_MS;

/** The rows of `call_log` in PostgreSQL (or PGlite): written in batches, partitioned by day. */
export class CallLogStore {
  readonly #db: Db;
  /** Days known to have a partition (made here, or found made). */
  readonly #partitions = new Set<number>();

  constructor(db: Db) {
    this.#db = db;
  }

  /**
   * Writes the entries in one statement. A user deleted since the call was made gives a null user
   * (the join), and a missing partition is made before one retry.
   */
  async insert(entries: readonly CallLogEntry[]): Promise<void> {
    if (entries.length === 0) return;
    const days = new Set(entries.map((entry) => dayStart(entry.startedAt)));
    for (const day of days) if (!this.#partitions.has(day)) await this.ensurePartition(day);
    try {
      await this.#insert(entries);
    } catch (error) {
      if (!pgFailure(error, ['23514'], /no partition/i)) throw error;
      this.#partitions.clear();
      for (const day of days) await this.ensurePartition(day);
      await this.#insert(entries);
    }
  }

  async #insert(entries: readonly CallLogEntry[]): Promise<void> {
    const rows = JSON.stringify(
      entries.map((entry) => ({
        method_id: entry.methodId,
        user_id: entry.userId,
        credential_kind: entry.credentialKind,
        credential_id: entry.credentialId,
        client_address: entry.clientAddress,
        started_at: new Date(entry.startedAt).toISOString(),
        duration_ms: entry.durationMs,
        status: entry.status,
        status_text: entry.statusText,
        is_error: entry.isError,
        is_exception: entry.isException,
        is_declined: entry.isDeclined,
        declined_by: entry.declinedBy,
      })),
    );
    await this.#db.execute(sql`
      insert into call_log (method_id, user_id, credential_kind, credential_id, client_address, started_at, duration_ms,
        status, status_text, is_error, is_exception, is_declined, declined_by)
      select v.method_id, u.id, v.credential_kind, v.credential_id, v.client_address, v.started_at, v.duration_ms,
        v.status, v.status_text, v.is_error, v.is_exception, v.is_declined, v.declined_by
      from json_to_recordset(${rows}::text::json) as v(method_id text, user_id bigint, credential_kind text, credential_id text,
        client_address text, started_at timestamptz, duration_ms double precision, status integer, status_text text,
        is_error boolean, is_exception boolean, is_declined boolean, declined_by text)
      left join users u on u.id = v.user_id
    `);
  }

  /** Makes the partition of the UTC day starting at `day` unless it exists (several nodes may race: fine). */
  async ensurePartition(day: number): Promise<void> {
    const name = partitionName(day);
    const from = new Date(day).toISOString();
    const to = new Date(day + DAY_MS).toISOString();
    try {
      await this.#db.execute(
        sql.raw(`create table if not exists ${name} partition of call_log for values from ('${from}') to ('${to}')`),
      );
    } catch (error) {
      // Another node made it between the check and the create.
      if (!pgFailure(error, ['42P07', '23505'], /already exists|duplicate key/i)) throw error;
    }
    this.#partitions.add(day);
  }

  /** Partitions from yesterday to `daysAhead` days after today (what retention and start-up keep ready). */
  async ensurePartitionsAround(nowMs: number, daysAhead = 2): Promise<void> {
    const today = dayStart(nowMs);
    for (let offset = -1; offset <= daysAhead; offset++) await this.ensurePartition(today + offset * DAY_MS);
  }

  /** The days that have a partition, oldest first. */
  async partitionDays(): Promise<number[]> {
    const result = await this.#db.execute<{ name: string }>(sql`
      select c.relname as name from pg_inherits i
      join pg_class c on c.oid = i.inhrelid
      join pg_class p on p.oid = i.inhparent
      where p.relname = 'call_log'
    `);
    return rowsOf<{ name: string }>(result)
      .map((row) => partitionDay(row.name))
      .filter((day): day is number => day !== null)
      .sort((a, b) => a - b);
  }

  /**
   * Drops every partition whose whole day is older than `retentionDays` days (never a row-by-row
   * delete); returns how many were dropped.
   */
  async dropPartitionsBefore(nowMs: number, retentionDays: number): Promise<number> {
    const keepFrom = nowMs - retentionDays * DAY_MS;
    let dropped = 0;
    for (const day of await this.partitionDays()) {
      if (day + DAY_MS > keepFrom) continue;
      await this.#db.execute(sql.raw(`drop table if exists ${partitionName(day)}`));
      this.#partitions.delete(day);
      dropped++;
    }
    return dropped;
  }

  async count(filter: CallLogFilter): Promise<number> {
    const [row] = await this.#db.select({ n: count() }).from(callLog).where(conditions(filter));
    return row?.n ?? 0;
  }

  /** By start time, newest first unless told otherwise. */
  async list(filter: CallLogFilter, page: Page, direction: SortDirection = 'desc'): Promise<CallLogRow[]> {
    const order = direction === 'desc' ? [desc(callLog.startedAt), desc(callLog.id)] : [asc(callLog.startedAt), asc(callLog.id)];
    return this.#db
      .select()
      .from(callLog)
      .where(conditions(filter))
      .orderBy(...order)
      .offset(page.offset)
      .limit(page.limit);
  }
}

function conditions(filter: CallLogFilter): SQL | undefined {
  const parts: SQL[] = [];
  if (filter.methodId) parts.push(eq(callLog.methodId, filter.methodId));
  if (filter.userId) parts.push(eq(callLog.userId, filter.userId));
  if (filter.from) parts.push(gte(callLog.startedAt, filter.from));
  if (filter.to) parts.push(lt(callLog.startedAt, filter.to));
  switch (filter.outcome) {
    case 'declined':
      parts.push(eq(callLog.isDeclined, true));
      break;
    case 'exception':
      parts.push(eq(callLog.isException, true));
      break;
    case 'error':
      parts.push(and(eq(callLog.isError, true), eq(callLog.isException, false), eq(callLog.isDeclined, false))!);
      break;
    case 'ok':
      parts.push(and(eq(callLog.isError, false), eq(callLog.isDeclined, false))!);
      break;
  }
  return parts.length > 0 ? and(...parts) : undefined;
}

/** Whether the error (or one it wraps: drizzle wraps the driver's) has one of the SQLSTATE codes or a matching message. */
function pgFailure(error: unknown, codes: readonly string[], message: RegExp): boolean {
  for (let at = error as { code?: unknown; message?: unknown; cause?: unknown } | undefined; at; at = at.cause as typeof at) {
    if (typeof at.code === 'string' && codes.includes(at.code)) return true;
    if (typeof at.message === 'string' && message.test(at.message)) return true;
  }
  return false;
}

/** postgres.js returns the rows themselves; PGlite an object holding them. */
function rowsOf<T>(result: unknown): T[] {
  return Array.isArray(result) ? (result as T[]) : ((result as { rows: T[] }).rows ?? []);
}

export function outcomeOf(row: Pick<CallLogRow, 'isDeclined' | 'isException' | 'isError'>): CallOutcome {
  if (row.isDeclined) return 'declined';
  if (row.isException) return 'exception';
  return row.isError ? 'error' : 'ok';
}
