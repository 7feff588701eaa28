import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { eq } from 'drizzle-orm';
import { outbox, type OutboxRow } from '../../src/db/schema.ts';
import { startTestGateway, TEST_ENV, type Mode, type TestGateway, type TestGatewayOptions } from './gateway.ts';
import { gql, ok, waitFor } from './graphql.ts';
import type { TestSmtp } from './smtp.ts';

export const SMTP_USER = 'mailer';
export const SMTP_PASSWORD = 'smtp-secret';
export const APP_URL = 'https://app.example.test/';
export const SENDER = 'Example App <no-reply@example.test>';

/** Fast retries and relay for tests; the lease stays long enough for any local send. */
export const MAIL_TEST_ENV: Readonly<Record<string, string>> = {
  MAIL_RETRY_BASE_MS: '200',
  MAIL_RELAY_INTERVAL_MS: '300',
  MAIL_LEASE_MS: '3000',
  MAIL_MAX_ATTEMPTS: '4',
  // Lets tests act from other client addresses (X-Forwarded-For) to try the per-address limit.
  TRUST_PROXY: '127.0.0.1',
};

export function smtpUrlOf(smtp: TestSmtp, user = SMTP_USER, password = SMTP_PASSWORD): string {
  return `smtp://${user}:${password}@127.0.0.1:${smtp.port}`;
}

/** A gateway whose settings point at the test SMTP server, with links to APP_URL. */
export async function startMailGateway(
  mode: Mode,
  smtp: TestSmtp,
  options: TestGatewayOptions & { readonly rootToken?: (token: string) => void } = {},
): Promise<TestGateway> {
  const gw = await startTestGateway(mode, { ...options, env: { SMTP_URL: smtpUrlOf(smtp), ...MAIL_TEST_ENV, ...options.env } });
  return gw;
}

const UPDATE_SETTINGS = `mutation($input: SettingsInput!) { updateSettings(input: $input) { __typename ... on Error { message } } }`;

export async function configureMail(gw: TestGateway, rootToken: string, extra: Record<string, unknown> = {}): Promise<void> {
  const result = ok(
    await gql<{ updateSettings: { __typename: string; message?: string } }>(
      gw,
      UPDATE_SETTINGS,
      // Every test request comes from 127.0.0.1: the per-address limit is tested with forwarded addresses.
      { input: { appUrl: APP_URL, smtpFrom: SENDER, emailIpLimit: 100_000, ...extra } },
      rootToken,
    ),
  );
  if (result.updateSettings.__typename !== 'SettingsPayload') throw new Error(`settings not updated: ${result.updateSettings.message}`);
}

export async function outboxRow(gw: TestGateway, id: string): Promise<OutboxRow> {
  const [row] = await gw.gateway.database.db.select().from(outbox).where(eq(outbox.id, id));
  if (!row) throw new Error(`no outbox row ${id}`);
  return row;
}

export async function outboxRowsTo(gw: TestGateway, recipient: string): Promise<OutboxRow[]> {
  return gw.gateway.database.db.select().from(outbox).where(eq(outbox.recipient, recipient)).orderBy(outbox.id);
}

/** Waits until the row of `recipient` (the only one, or the last) has `status`. */
export async function waitForStatus(gw: TestGateway, recipient: string, status: OutboxRow['status'], timeoutMs = 10_000): Promise<OutboxRow> {
  let last: OutboxRow | undefined;
  await waitFor(
    async () => {
      last = (await outboxRowsTo(gw, recipient)).at(-1);
      return last?.status === status;
    },
    timeoutMs,
    50,
  ).catch(() => {
    throw new Error(`the message to ${recipient} did not become ${status}: ${JSON.stringify(last)}`);
  });
  return last!;
}

export const uniqueAddress = (prefix: string) => `${prefix}-${Date.now().toString(36)}${Math.random().toString(36).slice(2, 7)}@example.test`;

export interface SpawnedWorker {
  readonly process: ChildProcess;
  readonly output: string[];
  readonly exited: Promise<number | null>;
  /** SIGKILL: no chance to record anything. */
  kill(): Promise<void>;
  /** SIGTERM, and the exit code. */
  stop(): Promise<number | null>;
}

/** `npm run worker` (src/workers/main.ts) as its own process on the gateway's database and Redis prefix. */
export async function spawnWorker(gw: TestGateway, env: Record<string, string> = {}, timeoutMs = 30_000): Promise<SpawnedWorker> {
  if (gw.mode !== 'production') throw new Error('worker processes need PostgreSQL and Redis');
  const child = spawn(process.execPath, ['--import', 'tsx', path.resolve('src/workers/main.ts')], {
    env: {
      ...process.env,
      ...TEST_ENV,
      ...MAIL_TEST_ENV,
      LOG_LEVEL: 'info',
      DATABASE_URL: gw.backing.databaseUrl,
      REDIS_URL: gw.backing.redisUrl,
      REDIS_PREFIX: gw.backing.keyPrefix,
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  const exited = once(child, 'exit').then(([code]) => code as number | null);
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`worker did not start within ${timeoutMs} ms:\n${output.join('\n')}`)), timeoutMs);
    for (const stream of [child.stdout!, child.stderr!]) {
      stream.setEncoding('utf8');
      stream.on('data', (chunk: string) => {
        output.push(...chunk.split('\n').filter((line) => line !== ''));
        if (chunk.includes('mail worker ready')) {
          clearTimeout(timer);
          resolve();
        }
      });
    }
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`worker exited with ${code} before it was ready:\n${output.join('\n')}`));
    });
  });
  return {
    process: child,
    output,
    exited,
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}

/** A gate a test opens by hand: `wait()` resolves once `open()` was called. */
export function gate(): { wait(): Promise<void>; open(): void; readonly waiting: number } {
  let release!: () => void;
  const opened = new Promise<void>((resolve) => (release = resolve));
  let waiting = 0;
  return {
    wait: () => {
      waiting++;
      return opened;
    },
    open: () => release(),
    get waiting() {
      return waiting;
    },
  };
}
