import { setTimeout as sleep } from 'node:timers/promises';
import pgClient from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT_PASSWORD } from '../helpers/gateway.ts';
import { APP_URL, MAIL_TEST_ENV, SENDER, SMTP_PASSWORD, SMTP_USER, uniqueAddress } from '../helpers/mail.ts';
import { PrivatePostgres, PrivateRedis } from '../helpers/private-services.ts';
import { TestSmtp } from '../helpers/smtp.ts';
import { createTestDatabase, createRedisPrefix, TEST_REDIS_URL, type TestDatabase } from '../helpers/services.ts';
import { spawnGateway, type SpawnedGateway } from '../helpers/spawn.ts';
import { assertEnvelope, httpCall, outcomeOf } from '../helpers/v1.ts';

type Kind = 'ok' | 'unavailable' | 'other';

interface Answer {
  readonly at: number;
  readonly call: string;
  readonly kind: Kind;
  readonly ms: number;
  readonly detail: string;
}

/**
 * One call of the steady load. Two always read PostgreSQL (a v1 read of the caller's API tokens,
 * a GraphQL read of the caller's sessions); two are served from memory while it is away (the
 * profile from the credential cache, the settings from the live copy); one needs neither store.
 */
type Call = (url: string, token: string) => Promise<{ kind: Kind; detail: string }>;

/** A v1 read over HTTP; a 503 status line is expected here, so the answer is checked by hand. */
const v1Read =
  (method: string): Call =>
  async (url, token) => {
    const response = await fetch(`${url}/api${method}`, { headers: { authorization: `Bearer ${token}` } });
    const text = await response.text();
    const envelope = assertEnvelope(JSON.parse(text), method);
    const { status } = outcomeOf(envelope);
    const json = /^application\/json\b/.test(response.headers.get('content-type') ?? '');
    const kind: Kind =
      json && response.status === 200 && status === 200
        ? 'ok'
        : json && response.status === 503 && status === 503 && response.headers.get('retry-after') === '1'
          ? 'unavailable'
          : 'other';
    return { kind, detail: `${response.status} ${text.slice(0, 200)}` };
  };

const CALLS: Record<string, Call> = {
  'v1 api-tokens/read': v1Read('/v1/api-tokens/read'),
  'graphql viewer sessions': (url, token) => graphql(url, '{ viewer { sessions { id } } }', token),
  'v1 profile/read': v1Read('/v1/profile/read'),
  'graphql settings': (url, token) => graphql(url, '{ settings { signupEnabled } }', token),
  'graphql serverTime (guest)': (url) => graphql(url, '{ serverTime }', null),
};

/** The calls of the load that cannot be served while PostgreSQL is away. */
const NEED_POSTGRES = new Set(['v1 api-tokens/read', 'graphql viewer sessions']);

/** The recipient of the e-mail calls of the load (set once its account exists). */
let mailRecipient: string | undefined;
const MAIL_CALL = 'v1 session/send-password-reset-email';
const mailCall: Call = async (url) => {
  const answer = await httpCall({ url }, '/v1/session/send-password-reset-email', [mailRecipient]);
  const kind = answer.status === 200 ? 'ok' : answer.status === 503 && answer.httpStatus === 503 ? 'unavailable' : 'other';
  return { kind, detail: `${answer.httpStatus} ${answer.status} ${answer.statusText}` };
};

/** The call log's method id of each kind of call the tests make. */
const METHOD_OF: Record<string, string> = {
  'v1 api-tokens/read': '/v1/api-tokens/read',
  'graphql viewer sessions': 'graphql/query/viewer',
  'v1 profile/read': '/v1/profile/read',
  'graphql settings': 'graphql/query/settings',
  'graphql serverTime (guest)': 'graphql/query/serverTime',
  'v1 session/signin': '/v1/session/signin',
  [MAIL_CALL]: '/v1/session/send-password-reset-email',
};

async function graphql(url: string, query: string, token: string | null): Promise<{ kind: Kind; detail: string }> {
  const res = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query }),
  });
  const body = (await res.json()) as { data?: unknown; errors?: { extensions?: { code?: string } }[] };
  const codes = (body.errors ?? []).map((error) => error.extensions?.code);
  const kind: Kind =
    res.status === 200 && !body.errors
      ? 'ok'
      : codes.length > 0 && codes.every((code) => code === 'SERVICE_UNAVAILABLE') && (res.status === 503 || res.status === 200)
        ? 'unavailable'
        : 'other';
  return { kind, detail: `${res.status} ${JSON.stringify(body).slice(0, 200)}` };
}

/** Mixed calls from a few workers until stopped; every answer is kept with when it came. */
class SteadyLoad {
  readonly answers: Answer[] = [];
  #running = true;
  readonly #workers: Promise<void>[];

  constructor(url: string, token: string, workers = 6, calls: Record<string, Call> = CALLS) {
    const names = Object.keys(calls);
    this.#workers = Array.from({ length: workers }, async (_, worker) => {
      for (let i = worker; this.#running; i++) {
        const name = names[i % names.length]!;
        const started = Date.now();
        let outcome: { kind: Kind; detail: string };
        try {
          outcome = await calls[name]!(url, token);
        } catch (error) {
          outcome = { kind: 'other', detail: String(error) };
        }
        this.answers.push({ at: started, call: name, ms: Date.now() - started, ...outcome });
        await sleep(10);
      }
    });
  }

  between(from: number, to: number): Answer[] {
    return this.answers.filter((answer) => answer.at >= from && answer.at < to);
  }

  async stop(): Promise<void> {
    this.#running = false;
    await Promise.all(this.#workers);
  }
}

async function readyz(url: string): Promise<{ status: number; dependencies: Record<string, string> }> {
  const res = await fetch(`${url}/readyz`);
  const body = (await res.json()) as { dependencies: Record<string, string> };
  return { status: res.status, dependencies: body.dependencies };
}

async function heapUsed(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  return Number(/^nodejs_heap_size_used_bytes (\d+(?:\.\d+)?)/m.exec(text)![1]);
}

async function until<T>(what: string, timeoutMs: number, check: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what} did not happen within ${timeoutMs} ms`);
    await sleep(100);
  }
}

/** What a loss check gets once the stores are back (or the drained node has exited). */
interface LossCheckContext {
  /** The database the gateway wrote to (the private PostgreSQL, or the test database of the SIGTERM test). */
  readonly databaseUrl: string;
  /** Every call of the load, with its outcome; `kind === 'ok'` ones were served. */
  readonly answers: readonly Answer[];
}

/**
 * Checks that nothing served was lost: each runs after the outages (and after the drain) and
 * asserts on the database. The call log adds "every served call has its row" here and the
 * e-mail outbox "no message lost or sent twice"; each is one entry.
 */
const LOSS_CHECKS: readonly { readonly name: string; run(context: LossCheckContext): Promise<void> }[] = [
  {
    // Rows are flushed every second and kept in memory while PostgreSQL is away.
    name: 'every served call has its call-log row',
    async run({ databaseUrl, answers }) {
      const served = new Map<string, number>();
      for (const answer of answers) {
        if (answer.kind !== 'ok') continue;
        const method = METHOD_OF[answer.call];
        if (!method) throw new Error(`no method id for ${answer.call}`);
        served.set(method, (served.get(method) ?? 0) + 1);
      }
      const sql = pgClient(databaseUrl, { max: 1, onnotice: () => {} });
      try {
        const logged = await until('the call log to hold every served call', 15_000, async () => {
          const rows = await sql<{ method_id: string; count: number }[]>`
            select method_id, count(*)::int as count from call_log where status = 200 group by method_id`;
          const counts = Object.fromEntries(rows.map((row) => [row.method_id, row.count]));
          return [...served].every(([method, count]) => (counts[method] ?? 0) >= count) ? counts : undefined;
        }).catch(async (error: Error) => {
          const rows = await sql`select method_id, count(*)::int as count from call_log where status = 200 group by method_id`;
          throw new Error(`${error.message}: served ${JSON.stringify(Object.fromEntries(served))}, logged ${JSON.stringify(rows)}`);
        });
        for (const [method, count] of served) expect(logged[method], method).toBeGreaterThanOrEqual(count);
      } finally {
        await sql.end();
      }
    },
  },
];

const summary = (answers: readonly Answer[]) => answers.map((answer) => `${answer.call}: ${answer.kind} ${answer.detail}`).slice(0, 10).join('\n');

describe('failing services: a private Redis and PostgreSQL stopped and restarted under a steady load', () => {
  let redis: PrivateRedis;
  let postgres: PrivatePostgres;
  let gateway: SpawnedGateway;
  let token: string;
  let smtp: TestSmtp;

  beforeAll(async () => {
    [redis, postgres, smtp] = await Promise.all([PrivateRedis.start(), PrivatePostgres.start(), TestSmtp.start({ users: { [SMTP_USER]: SMTP_PASSWORD } })]);
    gateway = await spawnGateway({
      DATABASE_URL: postgres.url,
      REDIS_URL: redis.url,
      REDIS_PREFIX: 'faults:',
      NODE_ENV: 'production',
      SMTP_URL: `smtp://${SMTP_USER}:${SMTP_PASSWORD}@127.0.0.1:${smtp.port}`,
      ...MAIL_TEST_ENV,
    });
    const signin = await httpCall(gateway, '/v1/session/signin', [{ username: 'root', password: ROOT_PASSWORD }]);
    token = (signin.data as { token: string }).token;
    // An account to send password-reset mail to all along, with the e-mail limits out of reach.
    mailRecipient = uniqueAddress('faults');
    const created = await graphql(gateway.url, `mutation { createUser(input: { username: "${mailRecipient}", password: "faults password 1" }) { __typename } }`, token);
    expect(created.kind, created.detail).toBe('ok');
    const settings = await httpCall(
      gateway,
      '/v1/admin/settings/update',
      [
        {
          app_url: APP_URL,
          smtp_from: SENDER,
          email_ip_limit: 100_000,
          email_account_limit: 100_000,
          call_limits: { '/v1/session/send-password-reset-email': { perAddress: null, perAccount: null, concurrent: null, concurrentPerCaller: null } },
        },
      ],
      { token },
    );
    expect(settings.status, JSON.stringify(settings.envelope)).toBe(200);
  }, 120_000);

  afterAll(async () => {
    await gateway?.stop();
    await Promise.all([redis?.stop(), postgres?.remove(), smtp?.stop()]);
  }, 30_000);

  it('serves through a Redis outage, answers 503 while PostgreSQL is away, recovers by itself, loses nothing, and keeps memory bounded', async () => {
    const load = new SteadyLoad(gateway.url, token);
    // E-mail requests on a worker of their own: they are judged by what arrives, not by how fast they answer.
    const mailLoad = new SteadyLoad(gateway.url, token, 1, { [MAIL_CALL]: mailCall });
    try {
      await sleep(1500);
      const heapBefore = await heapUsed(gateway.url);
      expect(load.answers.length).toBeGreaterThan(10);
      expect(summary(load.answers.filter((answer) => answer.kind !== 'ok'))).toBe('');

      // Redis away: every call is still served (limits count per node meanwhile).
      const redisDown = Date.now();
      await redis.stop();
      await sleep(3000);
      const duringRedis = load.between(redisDown, Date.now());
      expect(duringRedis.length).toBeGreaterThan(20);
      expect(summary(duringRedis.filter((answer) => answer.kind !== 'ok'))).toBe('');
      const degraded = await readyz(gateway.url);
      expect(degraded).toMatchObject({ status: 200, dependencies: { database: 'ok', redis: 'degraded' } });
      await redis.start();
      await until('Redis reported ok again', 10_000, async () => ((await readyz(gateway.url)).dependencies.redis === 'ok' ? true : undefined));

      // PostgreSQL away: calls that need it are refused at once with 503-class answers; the others are served.
      // From when the server has gone (pg_ctl returns once it has), not from when it was asked to.
      await postgres.stop();
      const postgresDown = Date.now();
      await sleep(3000);
      const duringPostgres = load.between(postgresDown, Date.now() - 500);
      expect(summary(duringPostgres.filter((answer) => answer.kind === 'other'))).toBe('');
      expect(duringPostgres.length).toBeGreaterThan(60);
      // Those that need it are refused, every time; one that needs neither store is still served.
      // (The profile and the settings are served from memory until a cached entry goes stale.)
      const needing = duringPostgres.filter((answer) => NEED_POSTGRES.has(answer.call));
      expect(needing.length).toBeGreaterThan(10);
      expect(summary(needing.filter((answer) => answer.kind !== 'unavailable'))).toBe('');
      const storeless = duringPostgres.filter((answer) => answer.call === 'graphql serverTime (guest)');
      expect(storeless.length).toBeGreaterThan(5);
      expect(summary(storeless.filter((answer) => answer.kind !== 'ok'))).toBe('');
      expect(Math.max(...duringPostgres.map((answer) => answer.ms))).toBeLessThan(4000);
      expect((await fetch(`${gateway.url}/healthz`)).status).toBe(200);
      expect(await readyz(gateway.url)).toMatchObject({ status: 503, dependencies: { database: 'down' } });
      await postgres.start();
      const restarted = Date.now();
      await until('the calls that need PostgreSQL served again', 10_000, async () => {
        const recent = load.between(Date.now() - 500, Date.now());
        return recent.length > 3 && recent.every((answer) => answer.kind === 'ok') ? true : undefined;
      });
      expect(Date.now() - restarted).toBeLessThan(10_000);
      await sleep(1000);
      const after = load.between(Date.now() - 800, Date.now());
      expect(summary(after.filter((answer) => answer.kind !== 'ok'))).toBe('');
      expect((await readyz(gateway.url)).status).toBe(200);

      // Memory: what piled up while a store was away is gone (a generous bound; the heap moves with GC).
      const heapAfter = await heapUsed(gateway.url);
      expect(heapAfter - heapBefore).toBeLessThan(96 * 1024 * 1024);
      expect(load.answers.filter((answer) => answer.kind === 'ok').length).toBeGreaterThan(50);
    } catch (error) {
      // What the gateway said last, and whether it is still running, belong with the failure.
      const exited = gateway.process.exitCode ?? gateway.process.signalCode;
      const tail = gateway.output.slice(-40).join('\n');
      throw new Error(`${(error as Error).message}\n--- gateway ${exited === null ? 'running' : `exited (${exited})`}, last output:\n${tail}`, { cause: error });
    } finally {
      await Promise.all([load.stop(), mailLoad.stop()]);
    }
    for (const check of LOSS_CHECKS) await check.run({ databaseUrl: postgres.url, answers: [...load.answers, ...mailLoad.answers] });

    // Mail: every request that was answered wrote one message, and each arrives exactly once,
    // including those queued while Redis was away (they waited in the outbox).
    const requested = mailLoad.answers.filter((answer) => answer.kind === 'ok').length;
    expect(requested).toBeGreaterThan(10);
    const sql = pgClient(postgres.url, { max: 1, onnotice: () => {} });
    try {
      const rows = await until('every requested e-mail to be sent', 30_000, async () => {
        const found = await sql<{ id: string; status: string }[]>`select id::text, status from outbox where recipient = ${mailRecipient!}`;
        return found.length >= requested && found.every((row) => row.status === 'sent') ? found : undefined;
      }).catch(async (error: Error) => {
        const found = await sql`select status, count(*)::int from outbox group by status`;
        throw new Error(`${error.message}: ${requested} requested, outbox ${JSON.stringify(found)}`);
      });
      expect(rows).toHaveLength(requested);
      const received = smtp.received.filter((mail) => mail.to.includes(mailRecipient!)).map((mail) => mail.outboxId);
      expect([...received].sort()).toEqual(rows.map((row) => row.id).sort());
    } finally {
      await sql.end();
    }
  }, 120_000);
});

describe('SIGTERM under load', () => {
  let database: TestDatabase;
  let redisPrefix: Awaited<ReturnType<typeof createRedisPrefix>>;

  beforeAll(async () => {
    [database, redisPrefix] = await Promise.all([createTestDatabase(), createRedisPrefix()]);
  });
  afterAll(async () => {
    await Promise.all([database?.drop(), redisPrefix?.clear()]);
  });

  it('lets every call in flight complete, then exits 0', async () => {
    const gateway = await spawnGateway({
      DATABASE_URL: database.url,
      REDIS_URL: TEST_REDIS_URL,
      REDIS_PREFIX: redisPrefix.prefix,
      NODE_ENV: 'production',
      // Sign-ins stay in flight for a second: long enough to be caught by the signal.
      SIGNIN_MIN_DURATION_MS: '1000',
    });
    const signIn = () => httpCall(gateway, '/v1/session/signin', [{ username: 'root', password: ROOT_PASSWORD }]);
    const first = await signIn();
    const token = (first.data as { token: string }).token;
    // Sign-ins take at least a second: those sent half a second before the signal are in flight.
    const inFlight = Array.from({ length: 8 }, signIn);
    // A steady load of reads besides: every one the node answers is served (others find it closed).
    let draining = true;
    const reads: Promise<number | 'refused'>[] = [];
    const steady = (async () => {
      while (draining) {
        reads.push(httpCall(gateway, '/v1/profile/read', [], { token }).then((answer) => answer.status, () => 'refused' as const));
        await sleep(20);
      }
    })();
    await sleep(500);
    const stopped = gateway.stop('SIGTERM');
    const answers = await Promise.all(inFlight);
    draining = false;
    await steady;
    expect(answers.map((answer) => answer.status)).toEqual(answers.map(() => 200));
    const readStatuses = await Promise.all(reads);
    expect(readStatuses.filter((status) => status !== 200 && status !== 'refused')).toEqual([]);
    expect(readStatuses.filter((status) => status === 200).length).toBeGreaterThan(5);
    expect((await stopped).code).toBe(0);
    const served = answers.map((): Answer => ({ at: 0, call: 'v1 session/signin', kind: 'ok', ms: 0, detail: '' }));
    for (const check of LOSS_CHECKS) await check.run({ databaseUrl: database.url, answers: served });
  }, 120_000);
});
