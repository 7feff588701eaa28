import { z } from 'zod';
import { parseTrustProxy, type TrustProxy } from './trust-proxy.ts';

/** Permission names the domain reserves for its own principals; they cannot be declared. */
export const RESERVED_PERMISSIONS: readonly string[] = ['*', 'guest', 'user', 'root'];
const PERMISSION_NAME = /^[a-z][a-z0-9_]{0,63}$/;

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
const NODE_ENVS = ['development', 'production', 'test'] as const;

function unset(value: string | undefined): boolean {
  return value === undefined || value.trim() === '';
}

const optionalText = z
  .string()
  .optional()
  .transform((value) => (unset(value) ? undefined : value!.trim()));

function optionalUrl(protocols: readonly string[], example: string) {
  return optionalText.superRefine((value, ctx) => {
    if (value === undefined) return;
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      ctx.addIssue({ code: 'custom', message: `must be a URL such as ${example}` });
      return;
    }
    if (!protocols.includes(url.protocol)) {
      ctx.addIssue({ code: 'custom', message: `must use ${protocols.join(' or ')} (e.g. ${example})` });
    }
  });
}

function integer(name: string, fallback: number, min: number, max: number) {
  return optionalText.transform((value, ctx) => {
    if (value === undefined) return fallback;
    const parsed = /^\d+$/.test(value) ? Number(value) : Number.NaN;
    if (!Number.isSafeInteger(parsed) || parsed < min || parsed > max) {
      ctx.addIssue({ code: 'custom', message: `${name} must be an integer from ${min} to ${max}, got "${value}"` });
      return z.NEVER;
    }
    return parsed;
  });
}

const envSchema = z
  .object({
    PORT: integer('PORT', 8080, 0, 65535),
    HOST: optionalText.transform((value) => value ?? '127.0.0.1'),
    DATABASE_URL: optionalUrl(['postgres:', 'postgresql:'], 'postgres://user@127.0.0.1:5432/gateway'),
    REDIS_URL: optionalUrl(['redis:', 'rediss:'], 'redis://127.0.0.1:6379/0'),
    REDIS_PREFIX: optionalText.transform((value, ctx) => {
      const prefix = value ?? 'gateway:';
      if (!/^[\w:.{}-]{1,64}$/.test(prefix)) {
        ctx.addIssue({ code: 'custom', message: 'must be 1 to 64 characters of letters, digits and "_:.{}-"' });
      }
      return prefix;
    }),
    DATA_DIR: optionalText.transform((value) => value ?? './data'),
    ROOT_PASSWORD: optionalText.superRefine((value, ctx) => {
      if (value !== undefined && (value.length < 8 || value.length > 1024)) {
        ctx.addIssue({ code: 'custom', message: 'must be 8 to 1024 characters long' });
      }
    }),
    SMTP_URL: optionalUrl(['smtp:', 'smtps:'], 'smtp://user:password@mail.example.com:587'),
    PERMISSIONS: optionalText.transform((value, ctx) => {
      const names = (value ?? '')
        .split(',')
        .map((name) => name.trim())
        .filter((name) => name !== '');
      for (const name of names) {
        if (RESERVED_PERMISSIONS.includes(name)) {
          ctx.addIssue({ code: 'custom', message: `"${name}" is reserved and cannot be declared` });
        } else if (!PERMISSION_NAME.test(name)) {
          ctx.addIssue({ code: 'custom', message: `"${name}" is not a snake_case permission name` });
        }
      }
      return [...new Set(['admin', ...names])];
    }),
    LOG_LEVEL: optionalText.pipe(z.enum(LOG_LEVELS).optional()).transform((value) => value ?? 'info'),
    NODE_ENV: optionalText.pipe(z.enum(NODE_ENVS).optional()).transform((value) => value ?? 'development'),
    PASSWORD_HASH_MEMORY_KIB: integer('PASSWORD_HASH_MEMORY_KIB', 19 * 1024, 1024, 4 * 1024 * 1024),
    PASSWORD_HASH_TIME_COST: integer('PASSWORD_HASH_TIME_COST', 2, 1, 100),
    // Above the dearest ordinary sign-in (a verify and a rehash at the default argon2 cost, about
    // 300 ms here, plus the database), with headroom for a busy thread pool.
    SIGNIN_MIN_DURATION_MS: integer('SIGNIN_MIN_DURATION_MS', 500, 0, 10_000),
    MAIL_WORKER: optionalText.pipe(z.enum(['on', 'off']).optional()).transform((value) => value ?? 'on'),
    MAIL_CONCURRENCY: integer('MAIL_CONCURRENCY', 4, 1, 100),
    MAIL_MAX_ATTEMPTS: integer('MAIL_MAX_ATTEMPTS', 8, 1, 100),
    MAIL_RETRY_BASE_MS: integer('MAIL_RETRY_BASE_MS', 30_000, 10, 3_600_000),
    MAIL_LEASE_MS: integer('MAIL_LEASE_MS', 120_000, 1000, 3_600_000),
    MAIL_RELAY_INTERVAL_MS: integer('MAIL_RELAY_INTERVAL_MS', 30_000, 100, 3_600_000),
    TRUST_PROXY: optionalText.transform((value, ctx) => {
      const parsed = parseTrustProxy(value);
      if (parsed.ok) return parsed.trust;
      ctx.addIssue({ code: 'custom', message: parsed.error });
      return z.NEVER;
    }),
});

/** Production runs several nodes, so in-process substitutes for shared state are refused there. */
function productionErrors(env: Readonly<Record<string, string | undefined>>): string[] {
  if (env.NODE_ENV?.trim() !== 'production') return [];
  return (['DATABASE_URL', 'REDIS_URL'] as const)
    .filter((name) => unset(env[name]))
    .map(
      (name) =>
        `${name} is required when NODE_ENV=production: the embedded database and in-process Redis substitutes serve a single node only`,
    );
}

type ParsedEnv = z.output<typeof envSchema>;

export interface Config {
  readonly port: number;
  readonly host: string;
  readonly databaseUrl: string | undefined;
  readonly redisUrl: string | undefined;
  /** Prefix of every Redis key and channel, so deployments sharing a Redis never meet. */
  readonly redisPrefix: string;
  readonly dataDir: string;
  readonly rootPassword: string | undefined;
  readonly smtpUrl: string | undefined;
  /** Declared permission names: `admin` first, then those named in PERMISSIONS. */
  readonly permissions: readonly string[];
  readonly logLevel: ParsedEnv['LOG_LEVEL'];
  readonly nodeEnv: ParsedEnv['NODE_ENV'];
  /** argon2id cost; hashes made with other parameters are replaced at the next sign-in. */
  readonly passwordHashing: { readonly memoryKib: number; readonly timeCost: number; readonly parallelism: number };
  /** Every sign-in answer takes at least this long, so its timing does not tell which check failed. */
  readonly signinMinDurationMs: number;
  /** Proxies whose forwarding headers name the client (none by default). */
  readonly trustProxy: TrustProxy;
  /** E-mail delivery (README: E-mail). */
  readonly mail: MailConfig;
}

export interface MailConfig {
  /** Whether this gateway runs mail workers itself (`off` when `npm run worker` processes run apart). */
  readonly worker: boolean;
  /** Messages one worker sends at once (and SMTP connections it keeps). */
  readonly concurrency: number;
  /** Attempts before a message is marked failed. */
  readonly maxAttempts: number;
  /** Wait before the second attempt; each further one waits twice as long. */
  readonly retryBaseMs: number;
  /** How long a claimed message is reserved for its worker. */
  readonly leaseMs: number;
  /** How often the relay re-enqueues queued and abandoned messages. */
  readonly relayIntervalMs: number;
}

export type ConfigResult = { ok: true; config: Config } | { ok: false; errors: string[] };

/** Reads the configuration from an environment map; reports every invalid variable at once. */
export function loadConfig(env: Readonly<Record<string, string | undefined>>): ConfigResult {
  const parsed = envSchema.safeParse(env);
  const errors = parsed.success
    ? []
    : parsed.error.issues.map((issue) => {
        const name = issue.path.length > 0 ? String(issue.path[0]) : 'environment';
        const message = issue.code === 'invalid_value' ? `must be one of ${issue.values.join(', ')}` : issue.message;
        return `${name} ${message.startsWith(name) ? message.slice(name.length + 1) : message}`;
      });
  errors.push(...productionErrors(env));
  if (!parsed.success || errors.length > 0) return { ok: false, errors };
  const e = parsed.data;
  return {
    ok: true,
    config: Object.freeze({
      port: e.PORT,
      host: e.HOST,
      databaseUrl: e.DATABASE_URL,
      redisUrl: e.REDIS_URL,
      redisPrefix: e.REDIS_PREFIX,
      dataDir: e.DATA_DIR,
      rootPassword: e.ROOT_PASSWORD,
      smtpUrl: e.SMTP_URL,
      permissions: Object.freeze(e.PERMISSIONS),
      logLevel: e.LOG_LEVEL,
      nodeEnv: e.NODE_ENV,
      passwordHashing: Object.freeze({ memoryKib: e.PASSWORD_HASH_MEMORY_KIB, timeCost: e.PASSWORD_HASH_TIME_COST, parallelism: 1 }),
      signinMinDurationMs: e.SIGNIN_MIN_DURATION_MS,
      trustProxy: e.TRUST_PROXY,
      mail: Object.freeze({
        worker: e.MAIL_WORKER === 'on',
        concurrency: e.MAIL_CONCURRENCY,
        maxAttempts: e.MAIL_MAX_ATTEMPTS,
        retryBaseMs: e.MAIL_RETRY_BASE_MS,
        leaseMs: e.MAIL_LEASE_MS,
        relayIntervalMs: e.MAIL_RELAY_INTERVAL_MS,
      }),
    }),
  };
}

/** For entry points: the configuration, or every problem on stderr and exit status 1. */
export function configOrExit(env: Readonly<Record<string, string | undefined>>): Config {
  const result = loadConfig(env);
  if (result.ok) return result.config;
  process.stderr.write(`Invalid configuration:\n${result.errors.map((error) => `  - ${error}`).join('\n')}\n`);
  process.exit(1);
}
