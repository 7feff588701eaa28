/** How big a run is: command-line arguments over environment variables over the mode's defaults. */

export interface Options {
  readonly quick: boolean;
  readonly rounds: number;
  /** Length of one measured run of a throughput scenario. */
  readonly seconds: number;
  /** Unmeasured run of every scenario before the first round (JIT, pools, caches). */
  readonly warmupSeconds: number;
  /** HTTP: connections of the load generator. */
  readonly connections: number;
  /** WebSocket load: connections × requests kept in flight on each. */
  readonly wsConnections: number;
  readonly wsInFlight: number;
  /** Sign-in: concurrent requests (argon2 runs in the gateway's libuv threadpool). */
  readonly signinConnections: number;
  /** Idle WebSockets opened for the memory measurement, per protocol. */
  readonly idleConnections: number;
  /** Scenario ids and group names to run; null runs everything. */
  readonly only: readonly string[] | null;
  /** Extra node flags for the gateway process (BENCH_GATEWAY_NODE_OPTIONS, e.g. `--trace-gc`). */
  readonly gatewayNodeArgs: readonly string[];
  /** A file for the gateway's stdout and stderr instead of this terminal (BENCH_GATEWAY_OUTPUT). */
  readonly gatewayOutput: string | null;
}

const FULL = { rounds: 3, seconds: 6, warmupSeconds: 1, idleConnections: 10_000 };
const QUICK = { rounds: 1, seconds: 0.5, warmupSeconds: 0.2, idleConnections: 1_000 };

/** Numeric settings: option name, environment variable, whether fractions are allowed, minimum. */
const NUMBERS = {
  rounds: ['BENCH_ROUNDS', false, 1],
  seconds: ['BENCH_SECONDS', true, 0.1],
  warmupSeconds: ['BENCH_WARMUP_SECONDS', true, 0],
  connections: ['BENCH_CONNECTIONS', false, 1],
  wsConnections: ['BENCH_WS_CONNECTIONS', false, 1],
  wsInFlight: ['BENCH_WS_IN_FLIGHT', false, 1],
  signinConnections: ['BENCH_SIGNIN_CONNECTIONS', false, 1],
  idleConnections: ['BENCH_IDLE_CONNECTIONS', false, 1],
} as const satisfies Record<string, readonly [string, boolean, number]>;

type NumberName = keyof typeof NUMBERS;

const flagOf = (name: NumberName) => name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
const FLAG_OF: Record<string, NumberName> = Object.fromEntries((Object.keys(NUMBERS) as NumberName[]).map((name) => [flagOf(name), name]));

export const USAGE = `usage: tsx bench/suite.ts [--quick] [--only=<name>[,<name>…]] [--rounds=N] [--seconds=S]
  [--warmup-seconds=S] [--connections=N] [--ws-connections=N] [--ws-in-flight=N]
  [--signin-connections=N] [--idle-connections=N]
Each number may also come from its BENCH_* variable (BENCH_ROUNDS, BENCH_SECONDS, …); arguments win.
BENCH_GATEWAY_NODE_OPTIONS adds node flags to the gateway (e.g. "--trace-gc" or
"--cpu-prof --cpu-prof-dir=bench-profiles"); BENCH_GATEWAY_OUTPUT sends its output to a file.`;

export class UsageError extends Error {}

function parseNumber(name: string, text: string, fraction: boolean, min: number): number {
  const value = fraction ? Number(text) : /^\d+$/.test(text) ? Number(text) : Number.NaN;
  if (text.trim() === '' || !Number.isFinite(value) || value < min) {
    throw new UsageError(`${name} must be ${fraction ? 'a number' : 'an integer'} of at least ${min}, got "${text}"`);
  }
  return value;
}

export function parseOptions(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): Options {
  const given: Partial<Record<NumberName, string>> = {};
  let quick = false;
  let only: string[] | null = null;
  for (const arg of argv) {
    if (arg === '--quick') {
      quick = true;
      continue;
    }
    const match = /^--([a-z-]+)=(.*)$/.exec(arg);
    if (match?.[1] === 'only') {
      only = match[2]!.split(',').map((name) => name.trim()).filter(Boolean);
      if (only.length === 0) throw new UsageError('--only needs at least one name');
      continue;
    }
    const name = match ? FLAG_OF[match[1]!] : undefined;
    if (!match || !name) throw new UsageError(`unknown argument "${arg}"\n${USAGE}`);
    given[name] = match[2]!;
  }
  // Every sign-in answer takes at least SIGNIN_MIN_DURATION_MS (500 ms), so the rate is at most
  // connections / 0.5 s; 48 callers allow 96/s, above what the hashing allows on two cores (and below
  // the 64 concurrent calls per method and caller the v1 facade admits).
  const defaults = { ...(quick ? QUICK : FULL), connections: 50, wsConnections: 10, wsInFlight: 5, signinConnections: 48 };
  const numbers = {} as Record<NumberName, number>;
  for (const [name, [variable, fraction, min]] of Object.entries(NUMBERS) as [NumberName, (typeof NUMBERS)[NumberName]][]) {
    const text = given[name] ?? env[variable];
    numbers[name] = text === undefined ? defaults[name] : parseNumber(given[name] === undefined ? variable : `--${flagOf(name)}`, text, fraction, min);
  }
  return {
    quick,
    ...numbers,
    only,
    gatewayNodeArgs: (env.BENCH_GATEWAY_NODE_OPTIONS ?? '').split(/\s+/).filter(Boolean),
    gatewayOutput: env.BENCH_GATEWAY_OUTPUT?.trim() || null,
  };
}
