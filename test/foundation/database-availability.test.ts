import { sql } from 'drizzle-orm';
import postgres from 'postgres';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type Database } from '../../src/db/client.ts';
import { DATABASE_UNAVAILABLE, isPostgresSocketRace } from '../../src/db/availability.ts';
import { isServiceUnavailable } from '../../src/domain/errors.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/services.ts';
import { TcpProxy } from '../helpers/tcp-proxy.ts';

/** The outcome of one statement: 'ok', or the code of the failure (its own or the one it wraps). */
async function attempt(database: Database): Promise<string> {
  try {
    await database.db.execute(sql`select 1`);
    return 'ok';
  } catch (error) {
    if (!isServiceUnavailable(error)) throw error;
    for (let current: unknown = error; current instanceof Error; current = current.cause) {
      const code = (current as { code?: unknown }).code;
      if (typeof code === 'string') return code;
    }
    return 'unavailable';
  }
}

async function until(what: string, timeoutMs: number, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`${what}: not within ${timeoutMs} ms`);
}

describe('PostgreSQL away: queries are refused at once and served again by themselves', () => {
  let testDatabase: TestDatabase;
  let proxy: TcpProxy;
  let database: Database;

  beforeAll(async () => {
    testDatabase = await createTestDatabase();
    const url = new URL(testDatabase.url);
    proxy = new TcpProxy({ host: url.hostname, port: Number(url.port || 5432) });
    await proxy.start();
    database = await openDatabase({ kind: 'postgres', url: proxy.rewrite(testDatabase.url), maxConnections: 4 });
  });

  afterEach(async () => {
    proxy.unstall();
    if (!proxy.listening) await proxy.start();
    await until('the database answering again between tests', 10_000, async () => (await attempt(database)) === 'ok');
  });

  afterAll(async () => {
    await database?.close();
    await proxy?.stop();
    await testDatabase?.drop();
  });

  it('refuses every query after the first connection failure without trying the server, and recovers when it is back', async () => {
    expect(await attempt(database)).toBe('ok');
    await proxy.stop();
    const first = await attempt(database);
    expect(first).not.toBe('ok');
    expect(first).not.toBe(DATABASE_UNAVAILABLE);

    // Hundreds of calls in the outage reach the pool as a handful of spaced probes, and each is refused.
    const accepted = proxy.accepted;
    const outcomes = await Promise.all(Array.from({ length: 200 }, () => attempt(database)));
    expect(new Set(outcomes)).toEqual(new Set([DATABASE_UNAVAILABLE]));
    await expect(database.db.transaction(async (tx) => tx.execute(sql`select 1`))).rejects.toMatchObject({ code: DATABASE_UNAVAILABLE });
    expect(proxy.accepted - accepted).toBeLessThanOrEqual(1);

    await proxy.start();
    await until('queries served again after the server came back', 5000, async () => (await attempt(database)) === 'ok');
    const after = await Promise.all(Array.from({ length: 20 }, () => attempt(database)));
    expect(new Set(after)).toEqual(new Set(['ok']));
  });

  it('refuses at once while the host takes connections and never answers, instead of waiting out connect_timeout on each query', async () => {
    expect(await attempt(database)).toBe('ok');
    proxy.stall();
    // Open connections are cut: the failure that starts the outage comes at once.
    expect(await attempt(database)).not.toBe('ok');
    const refusals = await Promise.all(Array.from({ length: 50 }, () => attempt(database)));
    expect(new Set(refusals)).toEqual(new Set([DATABASE_UNAVAILABLE]));
    // The probe meanwhile hangs on the stalled host; the calls do not.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect(await attempt(database)).toBe(DATABASE_UNAVAILABLE);
    proxy.unstall();
    // Unstalling cuts the hanging probe; the next one finds the server.
    await until('queries served again after the host answered', 8000, async () => (await attempt(database)) === 'ok');
  });

  it('a connection the server ends on its own refuses calls only until the next probe answers', async () => {
    expect(await attempt(database)).toBe('ok');
    const admin = postgres(testDatabase.url, { max: 1, onnotice: () => {} });
    try {
      await admin`select pg_terminate_backend(pid) from pg_stat_activity where application_name = 'identity-gateway' and datname = current_database()`;
    } finally {
      await admin.end({ timeout: 1 });
    }
    const outcomes: string[] = [];
    await until('served again after the ended connections', 2000, async () => {
      const outcome = await attempt(database);
      outcomes.push(outcome);
      return outcome === 'ok';
    });
    expect(outcomes.filter((outcome) => outcome !== 'ok' && outcome !== DATABASE_UNAVAILABLE && !outcome.startsWith('57P') && !outcome.startsWith('CONNECTION_'))).toEqual([]);
  });
});

describe('the postgres.js socket race', () => {
  // The error and stack as a gateway printed them when PostgreSQL went away under load.
  const raced = Object.assign(new TypeError("Cannot read properties of null (reading 'write')"), {
    stack: [
      "TypeError: Cannot read properties of null (reading 'write')",
      '    at Immediate.nextWrite (file:///work/main/node_modules/postgres/src/connection.js:255:22)',
      '    at process.processImmediate (node:internal/timers:483:21)',
    ].join('\n'),
  });

  it('is told apart from every other uncaught error', () => {
    expect(isPostgresSocketRace(raced)).toBe(true);
    expect(isPostgresSocketRace(new TypeError("Cannot read properties of null (reading 'write')"))).toBe(false);
    expect(isPostgresSocketRace(Object.assign(new TypeError('x is not a function'), { stack: raced.stack!.replace(/^.*\n/, 'TypeError: x\n') }))).toBe(false);
    expect(isPostgresSocketRace(new Error('boom'))).toBe(false);
  });

  it('is survived by replacing the pool: queries go on, with the same value types', async () => {
    const testDatabase = await createTestDatabase();
    const database = await openDatabase({ kind: 'postgres', url: testDatabase.url, maxConnections: 2 });
    try {
      const read = async () => (await database.db.execute(sql`select now() as at, 1::bigint as n, '{"a":1}'::jsonb as j`)) as unknown as Record<string, unknown>[];
      const before = await read();
      database.replacePool!();
      const after = await read();
      expect(typeof after[0]!.at).toBe(typeof before[0]!.at);
      expect([after[0]!.n, after[0]!.j]).toEqual([before[0]!.n, before[0]!.j]);
      await expect(database.db.transaction(async (tx) => tx.execute(sql`select 1`))).resolves.toBeDefined();
    } finally {
      await database.close();
      await testDatabase.drop();
    }
  });
});
