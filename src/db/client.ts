import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import type { PgAsyncDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator';
import { drizzle as drizzlePostgres } from 'drizzle-orm/postgres-js';
import { migrate as migratePostgres } from 'drizzle-orm/postgres-js/migrator';
import postgres from 'postgres';
import type { Logger } from '../logger.ts';
import { withTimeout } from '../with-timeout.ts';
import { AvailabilityGate } from './availability.ts';
import { migrationsFolder } from './migrations-folder.ts';

/** The drizzle database both drivers provide; domain code is written against this type only. */
export type Db = PgAsyncDatabase<PgQueryResultHKT>;

export type DatabaseTarget =
  | { kind: 'postgres'; url: string; maxConnections?: number; log?: Logger }
  | { kind: 'pglite'; dataDir: string }
  | { kind: 'pglite'; client: PGlite };

export interface Database {
  readonly db: Db;
  readonly kind: 'postgres' | 'pglite';
  /** A short, printable description of where the data lives (no credentials). */
  readonly location: string;
  /** Resolves when the database answers a trivial query within the timeout. */
  ping(timeoutMs?: number): Promise<void>;
  /** Applies the migrations in `drizzle/` that have not run yet; safe to call from several nodes at once. */
  migrate(): Promise<void>;
  /** Sizes for the metrics endpoint. */
  poolStats(): { maxConnections: number };
  /** Opens a new connection pool and ends the old one (PostgreSQL only; see `isPostgresSocketRace`). */
  replacePool?(): void;
  close(): Promise<void>;
}

export function describePostgresUrl(url: string): string {
  const parsed = new URL(url);
  return `postgres://${parsed.hostname}:${parsed.port || '5432'}${parsed.pathname}`;
}

export async function openDatabase(target: DatabaseTarget): Promise<Database> {
  if (target.kind === 'postgres') return openPostgres(target.url, target.maxConnections ?? 10, target.log);
  // A database handed in stays its owner's to close.
  if ('client' in target) return wrapPglite(target.client, 'pglite (in memory)', false);
  const dir = path.resolve(target.dataDir, 'pgdata');
  await mkdir(dir, { recursive: true });
  return wrapPglite(await PGlite.create(dir), `pglite ${dir}`, true);
}

async function openPostgres(url: string, maxConnections: number, log: Logger | undefined): Promise<Database> {
  const connect = () =>
    postgres(url, {
      max: maxConnections,
      idle_timeout: 30,
      connect_timeout: 5,
      // A closed connection reconnects at its next query, after this delay (seconds): a little longer
      // with each failed attempt, at most 1 s. The driver's own delay grows to 20 s, which would hold
      // recovery back. While the server is away the gate below refuses calls at once.
      backoff: (attempt: number) => Math.min(0.1 * attempt, 1),
      onnotice: () => {},
      connection: { application_name: 'identity-gateway' },
    });
  let client = connect();
  const location = describePostgresUrl(url);
  const gate = new AvailabilityGate({
    location,
    probe: () => client`select 1`.execute(),
    onChange: (change) => {
      if (!change.available) log?.warn({ database: location, err: change.error }, 'PostgreSQL is unreachable: calls that need it are refused until it answers');
      else log?.info({ database: location, downMs: change.downMs }, 'PostgreSQL answers again');
    },
  });
  const database: Database = {
    db: drizzlePostgres({ client: gate.guard(() => client) }) as unknown as Db,
    kind: 'postgres',
    location,
    async ping(timeoutMs = 2000) {
      await withTimeout(client`select 1`.execute(), timeoutMs, `PostgreSQL at ${location}`);
    },
    migrate: () => migratePostgresLocked(url),
    poolStats: () => ({ maxConnections }),
    replacePool() {
      const old = client;
      const fresh = connect();
      // drizzle set its type parsers and serializers on the first client; the new one needs them too.
      Object.assign(fresh.options.parsers, old.options.parsers);
      Object.assign(fresh.options.serializers, old.options.serializers);
      client = fresh;
      void old.end({ timeout: 5 }).catch(() => {});
    },
    close: () => {
      gate.close();
      return client.end({ timeout: 5 });
    },
  };
  try {
    await database.ping(5000);
  } catch (error) {
    await client.end({ timeout: 0 }).catch(() => {});
    throw new Error(`cannot reach PostgreSQL at ${location}: ${(error as Error).message}`, { cause: error });
  }
  return database;
}

/** Gateways starting together take turns: one applies the migrations, the others then find nothing to do. */
async function migratePostgresLocked(url: string): Promise<void> {
  const client = postgres(url, { max: 1, onnotice: () => {}, connect_timeout: 5 });
  try {
    await client`select pg_advisory_lock(hashtext('identity-gateway:migrations'))`;
    await migratePostgres(drizzlePostgres({ client }), { migrationsFolder: migrationsFolder() });
    await client`select pg_advisory_unlock(hashtext('identity-gateway:migrations'))`;
  } finally {
    await client.end({ timeout: 5 });
  }
}

function wrapPglite(client: PGlite, location: string, owned: boolean): Database {
  const db = drizzlePglite({ client });
  return {
    db: db as unknown as Db,
    kind: 'pglite',
    location,
    async ping(timeoutMs = 2000) {
      if (client.closed) throw new Error('the embedded database is closed');
      await withTimeout(client.query('select 1'), timeoutMs, 'the embedded database');
    },
    migrate: async () => {
      await migratePglite(db, { migrationsFolder: migrationsFolder() });
    },
    poolStats: () => ({ maxConnections: 1 }),
    close: async () => {
      if (owned && !client.closed) await client.close();
    },
  };
}
