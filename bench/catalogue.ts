/**
 * What the suite measures and what it is held to: the one list of scenarios, baselines and targets
 * that the runner, the report and the README's Benchmarks section follow.
 */

/** The process a throughput scenario loads. */
export type Server = 'raw-http' | 'raw-ws' | 'mercurius' | 'gateway';

export interface Scenario {
  readonly id: string;
  readonly title: string;
  readonly server: Server;
  readonly transport: 'http' | 'ws';
  /** The scenario its ratio column is taken against. */
  readonly baseline?: string;
  /** Names `--only` accepts for it besides its id. */
  readonly groups: readonly string[];
}

/** Run in every round, in this order: each baseline just before the gateway scenarios compared with it. */
export const SCENARIOS: readonly Scenario[] = [
  { id: 'mercurius-typename', title: 'Mercurius + graphql-jit `{ __typename }`', server: 'mercurius', transport: 'http', groups: ['graphql'] },
  { id: 'graphql-typename', title: 'GraphQL `{ __typename }` POST', server: 'gateway', transport: 'http', baseline: 'mercurius-typename', groups: ['graphql'] },
  { id: 'mercurius-viewer', title: 'Mercurius + graphql-jit viewer (header)', server: 'mercurius', transport: 'http', groups: ['graphql'] },
  { id: 'raw-http', title: 'raw node:http JSON POST', server: 'raw-http', transport: 'http', groups: ['v1', 'graphql'] },
  { id: 'graphql-viewer', title: 'GraphQL viewer (session)', server: 'gateway', transport: 'http', baseline: 'raw-http', groups: ['graphql'] },
  { id: 'v1-test-http', title: 'v1 test/test (HTTP POST)', server: 'gateway', transport: 'http', baseline: 'raw-http', groups: ['v1'] },
  { id: 'v1-profile-http', title: 'v1 profile/read (HTTP GET, session)', server: 'gateway', transport: 'http', baseline: 'raw-http', groups: ['v1'] },
  { id: 'v1-users-http', title: 'v1 admin/users/read, 100 rows (HTTP)', server: 'gateway', transport: 'http', baseline: 'raw-http', groups: ['v1'] },
  { id: 'raw-ws', title: 'raw ws echo', server: 'raw-ws', transport: 'ws', groups: ['v1', 'ws'] },
  { id: 'v1-test-ws', title: 'v1 test/test (ws)', server: 'gateway', transport: 'ws', baseline: 'raw-ws', groups: ['v1', 'ws'] },
  { id: 'v1-profile-ws', title: 'v1 profile/read (ws, session)', server: 'gateway', transport: 'ws', baseline: 'raw-ws', groups: ['v1', 'ws'] },
  { id: 'signin', title: 'v1 session/signin (production argon2id)', server: 'gateway', transport: 'http', groups: ['signin'] },
];

/** A scenario against a baseline: a target when it has a `min`, otherwise shown for information. */
export interface Comparison {
  readonly scenario: string;
  readonly baseline: string;
  readonly min?: number;
  readonly stretch?: number;
}

export const COMPARISONS: readonly Comparison[] = [
  { scenario: 'graphql-typename', baseline: 'mercurius-typename', min: 1.0, stretch: 1.1 },
  { scenario: 'graphql-viewer', baseline: 'raw-http', min: 0.35 },
  { scenario: 'graphql-viewer', baseline: 'mercurius-viewer' },
  { scenario: 'v1-test-http', baseline: 'raw-http', min: 0.6 },
  { scenario: 'v1-test-ws', baseline: 'raw-ws', min: 0.5 },
  { scenario: 'v1-profile-http', baseline: 'raw-http', min: 0.35 },
  { scenario: 'v1-profile-ws', baseline: 'raw-ws', min: 0.35 },
  { scenario: 'v1-users-http', baseline: 'raw-http' },
  { scenario: 'mercurius-typename', baseline: 'raw-http' },
];

/** Measurements held to an absolute bound rather than a ratio. */
export const LIMITS = {
  /** Resident memory each idle WebSocket adds to the gateway process. */
  idleWebSocketMaxKib: 30,
  signinMinPerSecond: 60,
} as const;

/** One-off measurements outside the rounds, selected by these names (`mail`: bench/mail-drain.ts). */
export const EXTRAS = ['idle', 'startup', 'notify-fanout', 'mail'] as const;
export type Extra = (typeof EXTRAS)[number];

/** Every name `--only` accepts. */
export function selectableNames(): string[] {
  return [...new Set([...SCENARIOS.flatMap((scenario) => [scenario.id, ...scenario.groups]), ...EXTRAS])];
}

export interface Selection {
  readonly scenarios: readonly Scenario[];
  readonly extras: ReadonlySet<Extra>;
}

/**
 * The scenarios and extras that `names` select (all of them when null), each scenario's baseline
 * and the baselines of its comparisons included, in catalogue order.
 */
export function select(names: readonly string[] | null): Selection {
  if (names === null) return { scenarios: SCENARIOS, extras: new Set(EXTRAS) };
  const known = new Set(selectableNames());
  const unknown = names.filter((name) => !known.has(name));
  if (unknown.length > 0) throw new Error(`unknown scenario or group: ${unknown.join(', ')} (known: ${[...known].join(', ')})`);
  const named = new Set(SCENARIOS.filter((s) => names.includes(s.id) || s.groups.some((g) => names.includes(g))).map((s) => s.id));
  const wanted = new Set(named);
  for (const comparison of COMPARISONS) {
    if (named.has(comparison.scenario)) wanted.add(comparison.baseline);
  }
  return {
    scenarios: SCENARIOS.filter((scenario) => wanted.has(scenario.id)),
    extras: new Set(EXTRAS.filter((extra) => names.includes(extra))),
  };
}

/**
 * The call-log bench (`node --import tsx bench/call-log.ts`, apart from the rounds above): recording
 * on vs off on v1 test/test over HTTP in one run, statistics reads over seeded buckets, and the
 * apiStats tick shared by many subscribers.
 */
export const CALL_LOG_BENCH = {
  /** Throughput recording may cost on v1 test/test (HTTP), as a fraction of recording off. */
  recordingMaxCost: 0.05,
  /** p95 of read-latest-stat (all methods) and read-history-stat (one method) with the seeded statistics. */
  statsReadP95MaxMs: 50,
  seededMethods: 50,
  seededDays: 30,
  /** Subscribers of one window on one node: one computation per tick serves them all. */
  subscribers: 100,
} as const;
