/** The gateway under test, in a process of its own, and the few v1 calls the suite's setup makes. */
import { freePort, spawnNode, waitReady, type CleanUp, type NodeChild } from './processes.ts';

export const ROOT_PASSWORD = 'bench-root-password';

export interface GatewayProcess extends NodeChild {
  readonly url: string;
  /** Spawn → first 200 from /readyz. */
  readonly readyMs: number;
}

export interface GatewayStart {
  /** Production: PostgreSQL and Redis; embedded: a data directory (PGlite, in-process Redis roles). */
  readonly mode: { readonly kind: 'production'; readonly databaseUrl: string; readonly redisUrl: string; readonly redisPrefix: string } | { readonly kind: 'embedded'; readonly dataDir: string };
  readonly nodeArgs?: readonly string[];
  readonly output?: string | null;
}

/**
 * Starts `src/main.ts` as in production: the default argon2id cost (no PASSWORD_HASH_* passed
 * on), logging warnings only. Embedded mode cannot run with NODE_ENV=production, which demands
 * the URLs, so it runs as development.
 */
export async function startGateway(cleanUp: CleanUp, start: GatewayStart): Promise<GatewayProcess> {
  const port = await freePort();
  const env: NodeJS.ProcessEnv = { PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'warn', ROOT_PASSWORD };
  if (start.mode.kind === 'production') {
    Object.assign(env, { NODE_ENV: 'production', DATABASE_URL: start.mode.databaseUrl, REDIS_URL: start.mode.redisUrl, REDIS_PREFIX: start.mode.redisPrefix });
  } else {
    Object.assign(env, { NODE_ENV: 'development', DATABASE_URL: '', REDIS_URL: '', DATA_DIR: start.mode.dataDir });
  }
  for (const name of ['PASSWORD_HASH_MEMORY_KIB', 'PASSWORD_HASH_TIME_COST']) env[name] = '';
  const since = performance.now();
  const child = spawnNode(cleanUp, {
    name: `gateway (${start.mode.kind})`,
    script: 'src/main.ts',
    env,
    nodeArgs: start.nodeArgs,
    output: start.output ? { file: start.output } : 'inherit',
  });
  const url = `http://127.0.0.1:${port}`;
  const readyMs = await waitReady(`${url}/readyz`, child, since);
  return { ...child, url, readyMs };
}

interface V1Answer {
  readonly result?: { readonly status: number; readonly data: unknown; readonly meta?: Record<string, unknown> };
  readonly error?: unknown;
}

/** One v1 call over HTTP; anything but a 2xx v1 result is an error. */
export async function v1Call(url: string, method: string, args: unknown[], token?: string): Promise<{ data: unknown; meta?: Record<string, unknown> }> {
  const response = await fetch(`${url}/api${method}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(args),
    signal: AbortSignal.timeout(30_000),
  });
  const answer = (await response.json()) as V1Answer;
  if (!answer.result || answer.result.status < 200 || answer.result.status > 299) {
    throw new Error(`${method}: ${JSON.stringify(answer.error ?? answer.result)}`);
  }
  return { data: answer.result.data, meta: answer.result.meta };
}

/**
 * A benchmark's calls come from one address and one account, far above the per-method rates a
 * client gets: raise them out of reach (through the settings, so every gateway on the database
 * applies it). They are still counted, so their cost is measured.
 */
export async function liftCallRates(url: string, token: string): Promise<void> {
  const unreachable = { max: 10_000_000, windowSeconds: 60 };
  const rates = { perAddress: unreachable, perAccount: unreachable, perToken: unreachable };
  await v1Call(url, '/v1/admin/settings/update', [{ call_limits: { '*': rates, '/v1/session/signin': rates, signIn: rates } }], token);
}

export async function signInRoot(url: string): Promise<string> {
  const { data } = await v1Call(url, '/v1/session/signin', [{ username: 'root', password: ROOT_PASSWORD }]);
  return (data as { token: string }).token;
}

/** Creates `count` users (each hashes a password at the production cost), `parallel` at a time. */
export async function createUsers(url: string, token: string, count: number, parallel = 8): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      while (next < count) {
        const n = ++next;
        await v1Call(url, '/v1/admin/users/create', [{ username: `bench-user-${n}@example.com`, password: `bench-password-${n}` }], token);
      }
    }),
  );
}

/** The gateway's V8 heap in use and its total GC time so far, from /metrics (prom-client's default metrics). */
export async function gatewayMemory(url: string): Promise<{ heapUsed: number; gcSeconds: number }> {
  const text = await (await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(10_000) })).text();
  const heapUsed = Number(/^nodejs_heap_size_used_bytes (\S+)$/m.exec(text)?.[1] ?? Number.NaN);
  let gcSeconds = 0;
  for (const match of text.matchAll(/^nodejs_gc_duration_seconds_sum\{[^}]*\} (\S+)$/gm)) gcSeconds += Number(match[1]);
  return { heapUsed, gcSeconds };
}
