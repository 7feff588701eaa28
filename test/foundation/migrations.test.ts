import { readdirSync } from 'node:fs';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type Database } from '../../src/db/client.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/services.ts';

const EXPECTED_TABLES = ['action_tokens', 'api_tokens', 'sessions', 'settings', 'user_passwords', 'users'];
/** Every migration drizzle-kit generated: one folder each. */
const MIGRATIONS = readdirSync(path.resolve('drizzle'), { withFileTypes: true })
  .filter((entry) => entry.isDirectory())
  .map((entry) => entry.name)
  .sort();

async function rows<T>(database: Database, query: ReturnType<typeof sql>): Promise<T[]> {
  const result = (await database.db.execute(query)) as unknown as T[] | { rows: T[] };
  return Array.isArray(result) ? result : result.rows;
}

async function publicTables(database: Database): Promise<string[]> {
  const found = await rows<{ table_name: string }>(
    database,
    sql`select table_name from information_schema.tables where table_schema = 'public' order by table_name`,
  );
  return found.map((row) => row.table_name);
}

async function appliedMigrations(database: Database): Promise<string[]> {
  const found = await rows<{ name: string }>(database, sql`select name from drizzle.__drizzle_migrations order by name`);
  return found.map((row) => row.name);
}

/** The same checks against each database engine. */
function migratedDatabaseChecks(open: () => Promise<Database>) {
  let database: Database;
  beforeAll(async () => {
    database = await open();
    await database.migrate();
  });
  afterAll(() => database?.close());

  it('applies every migration in drizzle/', async () => {
    expect(MIGRATIONS.length).toBeGreaterThan(0);
    expect(await appliedMigrations(database)).toEqual(MIGRATIONS);
  });

  it('creates the expected tables', async () => {
    const tables = await publicTables(database);
    expect(tables).toEqual(expect.arrayContaining(EXPECTED_TABLES));
  });

  it('numbers users from 100 (root is inserted as id 1)', async () => {
    const [sequence] = await rows<{ start_value: string | number }>(
      database,
      sql`select start_value from pg_sequences where schemaname = 'public' and sequencename = 'users_id_seq'`,
    );
    expect(Number(sequence?.start_value)).toBe(100);
    const [inserted] = await rows<{ id: string | number }>(database, sql`insert into users (name) values ('first-user') returning id`);
    expect(String(inserted?.id)).toBe('100');
  });

  it('does nothing when migrated again', async () => {
    const before = await publicTables(database);
    await database.migrate();
    expect(await appliedMigrations(database)).toEqual(MIGRATIONS);
    expect(await publicTables(database)).toEqual(before);
    // The data written after the first run is still there.
    const [user] = await rows<{ count: string | number }>(database, sql`select count(*) as count from users`);
    expect(Number(user?.count)).toBe(1);
  });
}

describe('migrations on the embedded database (PGlite)', () => {
  let pglite: PGlite;
  migratedDatabaseChecks(async () => {
    pglite = await PGlite.create();
    return openDatabase({ kind: 'pglite', client: pglite });
  });
  afterAll(() => pglite?.close());
});

describe('migrations on PostgreSQL', () => {
  let target: TestDatabase;
  migratedDatabaseChecks(async () => {
    target = await createTestDatabase();
    return openDatabase({ kind: 'postgres', url: target.url, maxConnections: 2 });
  });
  afterAll(() => target?.drop());
});

describe('migrations started by two nodes at once on PostgreSQL', () => {
  let target: TestDatabase;
  const nodes: Database[] = [];
  beforeAll(async () => {
    target = await createTestDatabase();
  });
  afterAll(async () => {
    await Promise.all(nodes.map((node) => node.close()));
    await target?.drop();
  });

  it('both succeed and the migrations run once', async () => {
    nodes.push(
      await openDatabase({ kind: 'postgres', url: target.url, maxConnections: 2 }),
      await openDatabase({ kind: 'postgres', url: target.url, maxConnections: 2 }),
    );
    const results = await Promise.allSettled(nodes.map((node) => node.migrate()));
    expect(results.map((result) => (result.status === 'rejected' ? String(result.reason) : 'ok'))).toEqual(['ok', 'ok']);
    expect(await appliedMigrations(nodes[0]!)).toEqual(MIGRATIONS);
    expect(await publicTables(nodes[1]!)).toEqual(expect.arrayContaining(EXPECTED_TABLES));
  });
});
