import { cpSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { sql } from 'drizzle-orm';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator';
import { drizzle as drizzlePostgres } from 'drizzle-orm/postgres-js';
import { migrate as migratePostgres } from 'drizzle-orm/postgres-js/migrator';
import postgres from 'postgres';
import { afterAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../helpers/services.ts';

const MIGRATION = '20261201093352_sign_in_limits';
const ALL = path.resolve('drizzle');
const folders = readdirSync(ALL).sort();

/** A migrations folder holding only the migrations before the sign-in limits one. */
function foldersBefore(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'migrations-'));
  for (const name of folders.slice(0, folders.indexOf(MIGRATION))) cpSync(path.join(ALL, name), path.join(dir, name), { recursive: true });
  return dir;
}

interface Engine {
  run(query: ReturnType<typeof sql>): Promise<Record<string, unknown>[]>;
  /** Resolves to undefined when every migration applied. */
  migrate(folder: string): Promise<unknown>;
}

function scenarios(open: () => Promise<Engine>) {
  /** A fresh database with every migration before the sign-in limits one applied. */
  const openBeforeMigration = async () => {
    const engine = await open();
    const before = foldersBefore();
    try {
      expect(await engine.migrate(before)).toBeUndefined();
    } finally {
      rmSync(before, { recursive: true, force: true });
    }
    return engine;
  };

  it('keeps the window an admin set, and moves the old default ceiling of 30 to the new default', async () => {
    expect(folders).toContain(MIGRATION);
    const engine = await openBeforeMigration();
    await engine.run(sql`insert into settings (id, signin_window_seconds) values (1, 1200)`);
    expect(await engine.migrate(ALL)).toBeUndefined();
    const [row] = await engine.run(sql`select * from settings`);
    expect(row).toMatchObject({
      signin_ip_limit: 1000,
      signin_ip_failure_limit: 100,
      signin_ip_window_seconds: 1200,
      signin_account_limit: 10,
      signin_account_lockout_seconds: 60,
      signin_account_max_lockout_seconds: 900,
      signin_account_window_seconds: 43_200,
    });
    expect(row).not.toHaveProperty('signin_window_seconds');
  });

  it('keeps a ceiling an admin chose', async () => {
    const engine = await openBeforeMigration();
    await engine.run(sql`insert into settings (id, signin_ip_limit) values (1, 50)`);
    expect(await engine.migrate(ALL)).toBeUndefined();
    expect((await engine.run(sql`select signin_ip_limit from settings`))[0]).toEqual({ signin_ip_limit: 50 });
  });
}

describe('the sign-in limits migration on the embedded database (PGlite)', () => {
  const opened: PGlite[] = [];
  afterAll(() => Promise.all(opened.map((pglite) => pglite.close())));
  scenarios(async () => {
    const pglite = await PGlite.create();
    opened.push(pglite);
    const db = drizzlePglite({ client: pglite });
    return {
      run: async (query) => (await db.execute(query)).rows as Record<string, unknown>[],
      migrate: (folder) => migratePglite(db, { migrationsFolder: folder }),
    };
  });
});

describe('the sign-in limits migration on PostgreSQL', () => {
  const opened: { database: TestDatabase; client: postgres.Sql }[] = [];
  afterAll(async () => {
    for (const { database, client } of opened) {
      await client.end({ timeout: 5 });
      await database.drop();
    }
  });
  scenarios(async () => {
    const database = await createTestDatabase();
    const client = postgres(database.url, { max: 1, onnotice: () => {} });
    opened.push({ database, client });
    const db = drizzlePostgres({ client });
    return {
      run: async (query) => [...(await db.execute(query))] as Record<string, unknown>[],
      migrate: (folder) => migratePostgres(db, { migrationsFolder: folder }),
    };
  });
});
