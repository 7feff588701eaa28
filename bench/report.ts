/** The suite's figures as Markdown tables: pure functions of the samples, so they can be tested alone. */
import { COMPARISONS, LIMITS, SCENARIOS, type Comparison, type Scenario } from './catalogue.ts';

/** One measured run of a throughput scenario. */
export interface RunSample {
  readonly rps: number;
  readonly p50: number;
  readonly p99: number;
  /** CPU of the server process over the run, % of one core. */
  readonly serverCpu: number;
  /** Resident memory of the server process at the end of the run. */
  readonly serverRss: number;
  /** CPU of the load generator (this process) over the run, % of one core. */
  readonly clientCpu: number;
  /** The gateway's V8 heap in use at the end of the run and its GC time during it, from /metrics. */
  readonly heapUsed?: number;
  readonly gcMs?: number;
}

/** Samples by scenario id, one per round. */
export type Samples = ReadonlyMap<string, readonly RunSample[]>;

export interface IdleResult {
  readonly protocol: string;
  readonly connections: number;
  readonly rssBefore: number;
  readonly rssAfter: number;
  readonly openSeconds: number;
  readonly dropped: number;
}

export interface StartupResult {
  readonly mode: string;
  readonly start: string;
  readonly readyMs: number;
  readonly idleRss: number;
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** The `q` quantile of already sorted values (nearest rank); 0 for none. */
export function percentile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

/**
 * A Markdown table whose columns are padded to equal width, so it reads in a terminal as well
 * as rendered. `align` is 'l' or 'r' per column (default left).
 */
export function markdownTable(headers: readonly string[], rows: readonly (readonly string[])[], align: readonly ('l' | 'r')[] = []): string {
  const widths = headers.map((header, i) => Math.max(3, header.length, ...rows.map((row) => (row[i] ?? '').length)));
  const cell = (text: string, i: number) => (align[i] === 'r' ? text.padStart(widths[i]!) : text.padEnd(widths[i]!));
  const line = (cells: readonly string[]) => `| ${headers.map((_h, i) => cell(cells[i] ?? '', i)).join(' | ')} |`;
  const rule = `| ${widths.map((width, i) => (align[i] === 'r' ? `${'-'.repeat(width - 1)}:` : '-'.repeat(width))).join(' | ')} |`;
  return [line(headers), rule, ...rows.map(line)].join('\n');
}

export const format = {
  rps: (value: number) => (Number.isFinite(value) ? value.toFixed(value < 100 ? 1 : 0) : '–'),
  ms: (value: number) => (Number.isFinite(value) ? value.toFixed(2) : '–'),
  percent: (value: number) => (Number.isFinite(value) ? `${value.toFixed(0)}%` : '–'),
  mib: (bytes: number) => (Number.isFinite(bytes) ? `${(bytes / 2 ** 20).toFixed(1)} MiB` : '–'),
  kib: (bytes: number) => (Number.isFinite(bytes) ? `${(bytes / 1024).toFixed(1)} KiB` : '–'),
  ratio: (value: number) => (Number.isFinite(value) ? `${value.toFixed(2)}×` : '–'),
  seconds: (ms: number) => `${(ms / 1000).toFixed(2)} s`,
};

/**
 * Scenario throughput over baseline throughput: the median of the per-round ratios, so drift
 * within the run (both were measured in the same round) cancels out. NaN when either is missing.
 */
export function ratioOf(samples: Samples, scenario: string, baseline: string): number {
  const of = samples.get(scenario) ?? [];
  const base = samples.get(baseline) ?? [];
  const rounds = Math.min(of.length, base.length);
  if (rounds === 0) return Number.NaN;
  return median(Array.from({ length: rounds }, (_v, i) => of[i]!.rps / base[i]!.rps));
}

export type Verdict = 'yes' | 'no' | 'not measured';

/** Whether `value` meets a lower bound (`atLeast`) or an upper bound. */
export function verdict(value: number, bound: number, atLeast: boolean): Verdict {
  if (!Number.isFinite(value)) return 'not measured';
  return (atLeast ? value >= bound : value <= bound) ? 'yes' : 'no';
}

const titleOf = (id: string) => SCENARIOS.find((scenario) => scenario.id === id)?.title ?? id;
const medianOf = (runs: readonly RunSample[], pick: (sample: RunSample) => number | undefined) =>
  median(runs.map(pick).filter((value): value is number => value !== undefined));

export function throughputTable(scenarios: readonly Scenario[], samples: Samples): string {
  const rows = scenarios
    .filter((scenario) => (samples.get(scenario.id) ?? []).length > 0)
    .map((scenario) => {
      const runs = samples.get(scenario.id)!;
      const baseline = scenario.baseline && samples.has(scenario.baseline) ? scenario.baseline : undefined;
      return [
        scenario.title,
        format.rps(medianOf(runs, (s) => s.rps)),
        runs.length > 1 ? runs.map((s) => format.rps(s.rps)).join(' / ') : '',
        format.ms(medianOf(runs, (s) => s.p50)),
        format.ms(medianOf(runs, (s) => s.p99)),
        format.percent(medianOf(runs, (s) => s.serverCpu)),
        medianOf(runs, cpuPerRequest).toFixed(1),
        format.mib(medianOf(runs, (s) => s.serverRss)),
        format.percent(medianOf(runs, (s) => s.clientCpu)),
        baseline ? `${format.ratio(ratioOf(samples, scenario.id, baseline))} ${titleOf(baseline)}` : '(baseline)',
      ];
    });
  return markdownTable(
    ['scenario', 'req/s', 'per round', 'p50 ms', 'p99 ms', 'server CPU', 'CPU µs/req', 'server RSS', 'client CPU', 'vs baseline'],
    rows,
    ['l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'l'],
  );
}

/**
 * Server CPU time per request in µs: unlike throughput, it barely moves when other processes take
 * CPU from the server, so a change across rounds points at the server itself.
 */
export function cpuPerRequest(sample: RunSample): number {
  return (sample.serverCpu / 100 / sample.rps) * 1e6;
}

/**
 * Round by round: throughput, the last round against the first, CPU per request and (for the
 * gateway) heap in use after each run and GC time during it, so a decline over the rounds can be traced.
 */
export function perRoundTable(scenarios: readonly Scenario[], samples: Samples): string {
  const rows = scenarios
    .filter((scenario) => (samples.get(scenario.id) ?? []).length > 0)
    .map((scenario) => {
      const runs = samples.get(scenario.id)!;
      const last = runs[runs.length - 1]!.rps / runs[0]!.rps - 1;
      return [
        scenario.title,
        runs.map((s) => format.rps(s.rps)).join(' / '),
        runs.length > 1 ? `${last >= 0 ? '+' : ''}${(last * 100).toFixed(1)}%` : '',
        runs.map((s) => format.percent(s.serverCpu)).join(' / '),
        runs.map((s) => cpuPerRequest(s).toFixed(1)).join(' / '),
        runs.every((s) => s.heapUsed !== undefined) ? runs.map((s) => format.mib(s.heapUsed!)).join(' / ') : '',
        runs.every((s) => s.gcMs !== undefined) ? runs.map((s) => s.gcMs!.toFixed(0)).join(' / ') : '',
      ];
    });
  return markdownTable(['scenario', 'req/s by round', 'last vs first', 'server CPU', 'server CPU µs/request', 'gateway heap after', 'GC ms during'], rows);
}

export interface TargetRow {
  readonly target: string;
  readonly measured: string;
  readonly goal: string;
  readonly met: Verdict | 'yes (stretch too)';
}

/** The ratio targets of the scenarios that ran, then the absolute ones; informational comparisons are left out. */
export function targetRows(
  samples: Samples,
  idle: readonly IdleResult[],
  comparisons: readonly Comparison[] = COMPARISONS,
): TargetRow[] {
  const rows: TargetRow[] = [];
  for (const comparison of comparisons) {
    if (comparison.min === undefined || !samples.has(comparison.scenario)) continue;
    const ratio = ratioOf(samples, comparison.scenario, comparison.baseline);
    const met = verdict(ratio, comparison.min, true);
    rows.push({
      target: `${titleOf(comparison.scenario)} vs ${titleOf(comparison.baseline)}`,
      measured: format.ratio(ratio),
      goal: `≥ ${comparison.min.toFixed(2)}×${comparison.stretch ? ` (stretch ${comparison.stretch.toFixed(2)}×)` : ''}`,
      met: met === 'yes' && comparison.stretch !== undefined && ratio >= comparison.stretch ? 'yes (stretch too)' : met,
    });
  }
  for (const result of idle) {
    const perConnection = (result.rssAfter - result.rssBefore) / result.connections;
    rows.push({
      target: `${result.connections} idle ${result.protocol} WebSockets: gateway RSS each`,
      measured: format.kib(perConnection),
      goal: `≤ ${LIMITS.idleWebSocketMaxKib} KiB`,
      met: verdict(perConnection / 1024, LIMITS.idleWebSocketMaxKib, false),
    });
  }
  const signin = samples.get('signin');
  if (signin?.length) {
    const rps = medianOf(signin, (s) => s.rps);
    rows.push({ target: 'sign-ins per second', measured: format.rps(rps), goal: `≥ ${LIMITS.signinMinPerSecond}/s`, met: verdict(rps, LIMITS.signinMinPerSecond, true) });
  }
  return rows;
}

export function targetTable(rows: readonly TargetRow[]): string {
  return markdownTable(
    ['target', 'measured', 'goal', 'met'],
    rows.map((row) => [row.target, row.measured, row.goal, row.met]),
    ['l', 'r', 'l', 'l'],
  );
}

/** Comparisons without a target, for context (e.g. the gateway's viewer query against Mercurius'). */
export function informationTable(samples: Samples, comparisons: readonly Comparison[] = COMPARISONS): string | null {
  const rows = comparisons
    .filter((comparison) => comparison.min === undefined && samples.has(comparison.scenario) && samples.has(comparison.baseline))
    .map((comparison) => [
      `${titleOf(comparison.scenario)} vs ${titleOf(comparison.baseline)}`,
      format.ratio(ratioOf(samples, comparison.scenario, comparison.baseline)),
    ]);
  return rows.length > 0 ? markdownTable(['comparison', 'ratio'], rows, ['l', 'r']) : null;
}

export function idleTable(results: readonly IdleResult[]): string {
  return markdownTable(
    ['protocol', 'connections', 'RSS before', 'RSS after', 'per connection', 'opened in', 'dropped'],
    results.map((r) => [
      r.protocol,
      String(r.connections),
      format.mib(r.rssBefore),
      format.mib(r.rssAfter),
      format.kib((r.rssAfter - r.rssBefore) / r.connections),
      format.seconds(r.openSeconds * 1000),
      String(r.dropped),
    ]),
    ['l', 'r', 'r', 'r', 'r', 'r', 'r'],
  );
}

export function startupTable(results: readonly StartupResult[]): string {
  return markdownTable(
    ['mode', 'start', 'spawn → /readyz 200', 'idle RSS'],
    results.map((r) => [r.mode, r.start, format.seconds(r.readyMs), format.mib(r.idleRss)]),
    ['l', 'l', 'r', 'r'],
  );
}
