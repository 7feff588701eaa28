/**
 * Mail drain: 2,000 queued outbox rows sent into a local SMTP sink, by one worker process and by
 * two (`npm run worker`, BullMQ on the tests' PostgreSQL and Redis, a database and key prefix of
 * the run's own), and by the embedded in-process runner (PGlite). Reports messages per second
 * from the moment the rows are handed to the queue until the last one arrived, and checks that
 * each message arrived exactly once and every row ended `sent`.
 *
 * `npm run bench:mail` runs it alone; `npm run bench` includes it (`--only=mail`).
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { eq, sql } from 'drizzle-orm';
import { SMTPServer } from 'smtp-server';
import { openDatabase, type Database } from '../src/db/client.ts';
import { outbox, settings } from '../src/db/schema.ts';
import { Outbox } from '../src/domain/outbox.ts';
import { Settings } from '../src/domain/settings.ts';
import { createLogger } from '../src/logger.ts';
import { startMail } from '../src/workers/mail.ts';
import { BullMailQueue } from '../src/workers/mail-queue.ts';
import { createRedisPrefix, createTestDatabase, TEST_REDIS_URL } from '../test/helpers/services.ts';

export interface MailDrainResult {
  readonly setup: string;
  readonly messages: number;
  readonly seconds: number;
  readonly perSecond: number;
  /** Messages that arrived more than once, and rows that never arrived. */
  readonly duplicates: number;
  readonly missing: number;
  readonly rowsSent: number;
}

const progress = (line: string) => process.stderr.write(`${line}\n`);

/** A local SMTP sink that counts arrivals per outbox row (the X-Outbox-Id header). */
async function startSink(): Promise<{ port: number; seen: Map<string, number>; total: () => number; close(): Promise<void> }> {
  const seen = new Map<string, number>();
  let total = 0;
  const server = new SMTPServer({
    secure: false,
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    onData(stream, _session, callback) {
      let head = '';
      stream.on('data', (chunk: Buffer) => {
        if (head.length < 4096) head += chunk.toString('utf8');
      });
      stream.on('end', () => {
        const id = /^X-Outbox-Id:\s*(\d+)/im.exec(head)?.[1] ?? 'unknown';
        seen.set(id, (seen.get(id) ?? 0) + 1);
        total++;
        callback(null, 'Queued');
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server as unknown as { server: { address(): { port: number } } }).server.address().port;
  return { port, seen, total: () => total, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

async function prepare(database: Database, port: number, count: number): Promise<string[]> {
  await database.migrate();
  await database.db
    .insert(settings)
    .values({ id: 1, smtpHostname: '127.0.0.1', smtpPort: port, smtpTls: 'none', smtpFrom: 'Bench <bench@example.test>' })
    .onConflictDoNothing();
  const ids: string[] = [];
  for (let start = 0; start < count; start += 500) {
    const rows = Array.from({ length: Math.min(500, count - start) }, (_, i) => ({
      recipient: `drain-${start + i}@example.test`,
      template: 'password-reset',
      subject: `Drain ${start + i}`,
      textBody: `Message ${start + i}\n\nhttps://app.example.test/#/reset-password/${'x'.repeat(34)}\n`,
      htmlBody: `<p>Message ${start + i}</p><p><a href="https://app.example.test/#/reset-password/${'x'.repeat(34)}">link</a></p>`,
    }));
    ids.push(...(await database.db.insert(outbox).values(rows).returning({ id: outbox.id })).map((row) => row.id));
  }
  return ids;
}

async function waitForDrain(sink: { total: () => number }, count: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (sink.total() < count) {
    if (Date.now() > deadline) throw new Error(`only ${sink.total()} of ${count} messages arrived within ${timeoutMs / 1000} s`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function check(setup: string, database: Database, sink: Awaited<ReturnType<typeof startSink>>, ids: string[], ms: number): Promise<MailDrainResult> {
  // A moment for a duplicate to show up, had there been one.
  await new Promise((resolve) => setTimeout(resolve, 500));
  const [sent] = await database.db.select({ n: sql<number>`count(*)::int` }).from(outbox).where(eq(outbox.status, 'sent'));
  const duplicates = [...sink.seen.values()].filter((n) => n > 1).length;
  const missing = ids.filter((id) => !sink.seen.has(id)).length;
  const result = { setup, messages: ids.length, seconds: ms / 1000, perSecond: ids.length / (ms / 1000), duplicates, missing, rowsSent: sent?.n ?? 0 };
  progress(`mail  ${setup}: ${result.perSecond.toFixed(0)} messages/s, duplicates ${duplicates}, missing ${missing}, rows sent ${result.rowsSent}`);
  return result;
}

/** One or more worker processes on PostgreSQL + Redis, fed through BullMQ. */
async function drainWithProcesses(workers: number, count: number, concurrency: number): Promise<MailDrainResult> {
  const sink = await startSink();
  const [target, redis] = await Promise.all([createTestDatabase(), createRedisPrefix()]);
  const database = await openDatabase({ kind: 'postgres', url: target.url });
  const children: ReturnType<typeof spawn>[] = [];
  const { log } = createLogger('silent');
  let producer: BullMailQueue | undefined;
  try {
    const ids = await prepare(database, sink.port, count);
    // Rows wait until the workers are up: the relay must not hand them out before the clock starts.
    await database.db.update(outbox).set({ nextAttemptAt: sql`now() + interval '1 hour'` });
    const env = {
      ...process.env,
      DATABASE_URL: target.url,
      REDIS_URL: TEST_REDIS_URL,
      REDIS_PREFIX: redis.prefix,
      MAIL_CONCURRENCY: String(concurrency),
      LOG_LEVEL: 'warn',
    };
    for (let i = 0; i < workers; i++) {
      const child = spawn(process.execPath, ['--import', 'tsx', path.resolve('src/workers/main.ts')], { env: { ...env, LOG_LEVEL: 'info' }, stdio: ['ignore', 'pipe', 'inherit'] });
      children.push(child);
      await new Promise<void>((resolve, reject) => {
        child.stdout!.setEncoding('utf8');
        child.stdout!.on('data', (chunk: string) => {
          if (chunk.includes('mail worker ready')) resolve();
        });
        child.once('exit', (code) => reject(new Error(`worker exited with ${code}`)));
      });
    }
    producer = new BullMailQueue({ redisUrl: TEST_REDIS_URL, keyPrefix: redis.prefix, log, concurrency, leaseMs: 120_000 });
    await producer.ready();
    const started = Date.now();
    await database.db.update(outbox).set({ nextAttemptAt: sql`now()` });
    producer.enqueue(ids);
    await waitForDrain(sink, count, 120_000);
    return await check(`${workers} worker process${workers > 1 ? 'es' : ''} × ${concurrency} (BullMQ, PostgreSQL)`, database, sink, ids, Date.now() - started);
  } finally {
    for (const child of children) {
      child.kill('SIGTERM');
      if (child.exitCode === null) await once(child, 'exit');
    }
    await producer?.close(Date.now() + 2000);
    await database.close();
    await Promise.all([target.drop(), redis.clear(), sink.close()]);
  }
}

/** The embedded mode: the in-process runner over PGlite, in this process. */
async function drainInProcess(count: number, concurrency: number): Promise<MailDrainResult> {
  const sink = await startSink();
  const pglite = await PGlite.create();
  const database = await openDatabase({ kind: 'pglite', client: pglite });
  const { log } = createLogger('silent');
  try {
    const ids = await prepare(database, sink.port, count);
    const mail = await startMail({
      outbox: new Outbox(database.db),
      settings: new Settings(database.db),
      config: { worker: true, concurrency, maxAttempts: 8, retryBaseMs: 30_000, leaseMs: 120_000, relayIntervalMs: 3_600_000 },
      log,
      runWorker: true,
    });
    try {
      const started = Date.now();
      mail.enqueue(ids);
      await waitForDrain(sink, count, 120_000);
      return await check(`in-process runner × ${concurrency} (embedded, PGlite)`, database, sink, ids, Date.now() - started);
    } finally {
      await mail.close(Date.now() + 2000);
    }
  } finally {
    await database.close();
    await pglite.close();
    await sink.close();
  }
}

export async function measureMailDrain(count = 2000, concurrency = 4): Promise<MailDrainResult[]> {
  const results: MailDrainResult[] = [];
  results.push(await drainWithProcesses(1, count, concurrency));
  results.push(await drainWithProcesses(2, count, concurrency));
  results.push(await drainInProcess(count, concurrency));
  return results;
}

export function mailDrainTable(results: readonly MailDrainResult[]): string {
  const rows = results.map(
    (r) =>
      `| ${r.setup} | ${r.messages} | ${r.seconds.toFixed(2)} | ${r.perSecond.toFixed(0)} | ${r.duplicates} | ${r.missing} | ${r.rowsSent} | ${r.duplicates === 0 && r.missing === 0 && r.rowsSent === r.messages ? 'yes' : '**no**'} |`,
  );
  return ['| setup | messages | seconds | messages/s | duplicates | missing | rows sent | exactly once |', '| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |', ...rows].join('\n');
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve('bench/mail-drain.ts')) {
  const count = Number(process.argv.find((arg) => arg.startsWith('--messages='))?.slice(11) ?? 2000);
  const results = await measureMailDrain(count);
  console.log(`\n### Mail drain (${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC)\n\n${mailDrainTable(results)}\n`);
  process.exit(results.every((r) => r.duplicates === 0 && r.missing === 0 && r.rowsSent === r.messages) ? 0 : 1);
}
