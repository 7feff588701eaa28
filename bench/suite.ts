/**
 * `npm run bench` (full), `npm run bench:quick` (seconds, for development), `npm run bench:v1`
 * (the v1 facade only): the gateway against raw baselines, measured in one run on this machine.
 *
 * The gateway on real PostgreSQL and Redis (the tests', test/helpers/services.ts, in a database
 * and key prefix of the run's own), a bare node:http JSON server, a bare `ws` echo server and
 * Fastify + Mercurius with graphql-jit each run in their own process. This process is the load
 * generator: over loopback, for a bounded time, one scenario at a time, every scenario in every
 * round so baselines and gateway share the drift. It prints Markdown tables on stdout (progress
 * goes to stderr) and removes what it set up on every way out.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { loadConfig } from '../src/config.ts';
import { createRedisPrefix, createTestDatabase, TEST_REDIS_URL } from '../test/helpers/services.ts';
import { SCENARIOS, select, type Scenario, type Selection, type Server } from './catalogue.ts';
import { createUsers, gatewayMemory, liftCallRates, signInRoot, startGateway, v1Call, ROOT_PASSWORD, type GatewayProcess, type GatewayStart } from './gateway-process.ts';
import { fanoutTable, measureNotificationFanout, type FanoutResult } from './notification-fanout.ts';
import { graphqlWsIdle, httpLoad, openIdle, v1Idle, wsLoad, type IdleOpener, type LoadResult } from './load.ts';
import { mailDrainTable, measureMailDrain, type MailDrainResult } from './mail-drain.ts';
import { parseOptions, UsageError, USAGE, type Options } from './options.ts';
import { CleanUp, cpuSeconds, openFileLimit, rssBytes, startBaseline } from './processes.ts';
import {
  idleTable,
  informationTable,
  perRoundTable,
  startupTable,
  targetRows,
  targetTable,
  throughputTable,
  type IdleResult,
  type RunSample,
  type StartupResult,
} from './report.ts';

const USERS_TO_LIST = 100;

const cleanUp = new CleanUp();
let exitCode: number | undefined;

/** Exits with the code of the first way out taken, once everything is cleaned up. */
async function exit(code: number): Promise<never> {
  exitCode ??= code;
  await cleanUp.run();
  process.exit(exitCode);
}

for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
  process.once(signal, () => {
    console.error(`\n${signal}: stopping the servers and dropping the database`);
    void exit(code);
  });
}
// A reader that went away (`| head`) ends the run, cleaned up like any other way out.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') throw error;
    void exit(1);
  });
}
for (const event of ['uncaughtException', 'unhandledRejection'] as const) {
  process.on(event, (error: unknown) => {
    console.error(`${event}:`, error);
    void exit(1);
  });
}

const suiteStart = performance.now();
/** Progress on stderr, stamped with seconds since the start (to line up with a gateway's --trace-gc output). */
const progress = (line: string) => process.stderr.write(`[${((performance.now() - suiteStart) / 1000).toFixed(1).padStart(6)} s] ${line}\n`);

/** A scenario ready to run: the process it loads, one bounded run, and a check that answers are right. */
interface Runnable {
  readonly scenario: Scenario;
  readonly pid: number;
  readonly gatewayUrl?: string;
  run(seconds: number): Promise<LoadResult>;
  /** Throws unless one request now gets a correct, successful answer (after every run). */
  check(): Promise<void>;
}

async function postJson(url: string, body: unknown, headers: Record<string, string> = {}): Promise<unknown> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(30_000),
  });
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  return response.json();
}

function expect(condition: boolean, what: string, answer: unknown): void {
  if (!condition) throw new Error(`${what}: unexpected answer ${JSON.stringify(answer).slice(0, 300)}`);
}

interface Servers {
  readonly gateway?: GatewayProcess;
  readonly rawHttp?: { pid: number; port: number };
  readonly rawWs?: { pid: number; port: number };
  readonly mercurius?: { pid: number; port: number };
}

function runnables(scenarios: readonly Scenario[], servers: Servers, token: string, options: Options): Runnable[] {
  const need = <T>(value: T | undefined): T => {
    if (value === undefined) throw new Error('a server the scenario needs was not started');
    return value;
  };
  const bearer = { authorization: `Bearer ${token}` };
  const http = (connections = options.connections) => ({ connections });
  const ws = { connections: options.wsConnections, inFlight: options.wsInFlight };
  const rpcFrame = (method: string) => (id: number) => JSON.stringify({ jsonrpc: '2.0', method, params: [], id });
  const graphql = (url: string, query: string, headers: Record<string, string> = {}) => ({
    load: { url, method: 'POST' as const, body: JSON.stringify({ query }), headers, ...http() },
    check: async (valid: (data: Record<string, unknown>) => boolean) => {
      const answer = (await postJson(url, { query }, headers)) as { data?: Record<string, unknown>; errors?: unknown };
      expect(!answer.errors && answer.data !== undefined && valid(answer.data), url, answer);
    },
  });
  const v1Check = (url: string, method: string, valid: (data: unknown) => boolean = () => true, auth?: string) => async () => {
    const { data } = await v1Call(url, method, [], auth);
    expect(valid(data), method, data);
  };
  const TYPENAME = '{ __typename }';
  const VIEWER = '{ viewer { user { id name } permissions } }';
  const isQuery = (data: Record<string, unknown>) => data.__typename === 'Query';
  const hasViewer = (data: Record<string, unknown>) => (data.viewer as { user?: { id?: string } } | null)?.user?.id !== undefined;

  return scenarios.map((scenario): Runnable => {
    const pidOf: Record<Server, () => number> = {
      gateway: () => need(servers.gateway).pid,
      'raw-http': () => need(servers.rawHttp).pid,
      'raw-ws': () => need(servers.rawWs).pid,
      mercurius: () => need(servers.mercurius).pid,
    };
    const base = { scenario, pid: pidOf[scenario.server](), gatewayUrl: scenario.server === 'gateway' ? servers.gateway?.url : undefined };
    switch (scenario.id) {
      case 'raw-http': {
        const url = `http://127.0.0.1:${need(servers.rawHttp).port}/`;
        return {
          ...base,
          run: (seconds) => httpLoad({ url, method: 'POST', body: '["x"]', ...http() }, seconds),
          check: async () => expect(((await postJson(url, ['x'])) as { result?: unknown }).result !== undefined, url, null),
        };
      }
      case 'raw-ws': {
        const url = `ws://127.0.0.1:${need(servers.rawWs).port}/`;
        return { ...base, run: (seconds) => wsLoad({ url, protocols: [], frame: rpcFrame('/v1/test/test'), ...ws }, seconds), check: async () => {} };
      }
      case 'mercurius-typename':
      case 'mercurius-viewer':
      case 'graphql-typename':
      case 'graphql-viewer': {
        const url = scenario.server === 'mercurius' ? `http://127.0.0.1:${need(servers.mercurius).port}/graphql` : `${need(servers.gateway).url}/graphql`;
        const viewer = scenario.id.endsWith('viewer');
        const target = graphql(url, viewer ? VIEWER : TYPENAME, viewer ? bearer : {});
        return { ...base, run: (seconds) => httpLoad(target.load, seconds), check: () => target.check(viewer ? hasViewer : isQuery) };
      }
      case 'v1-test-http': {
        const url = need(servers.gateway).url;
        return {
          ...base,
          run: (seconds) => httpLoad({ url: `${url}/api/v1/test/test`, method: 'POST', body: '["x"]', ...http() }, seconds),
          check: v1Check(url, '/v1/test/test'),
        };
      }
      case 'v1-profile-http': {
        const url = need(servers.gateway).url;
        return {
          ...base,
          run: (seconds) => httpLoad({ url: `${url}/api/v1/profile/read`, method: 'GET', headers: bearer, ...http() }, seconds),
          check: v1Check(url, '/v1/profile/read', (data) => (data as { name?: string }).name === 'root', token),
        };
      }
      case 'v1-users-http': {
        const url = need(servers.gateway).url;
        const args = [{ limit: USERS_TO_LIST }];
        return {
          ...base,
          run: (seconds) => httpLoad({ url: `${url}/api/v1/admin/users/read`, method: 'POST', body: JSON.stringify(args), headers: bearer, ...http() }, seconds),
          check: async () => {
            const { data } = await v1Call(url, '/v1/admin/users/read', args, token);
            expect(Array.isArray(data) && data.length === USERS_TO_LIST, `admin/users/read should return ${USERS_TO_LIST} rows`, data);
          },
        };
      }
      case 'v1-test-ws':
      case 'v1-profile-ws': {
        const url = `${need(servers.gateway).url.replace('http', 'ws')}/api/`;
        const method = scenario.id === 'v1-test-ws' ? '/v1/test/test' : '/v1/profile/read';
        return { ...base, run: (seconds) => wsLoad({ url, protocols: ['jsonrpc_2.0', token], frame: rpcFrame(method), ...ws }, seconds), check: async () => {} };
      }
      case 'signin': {
        const url = need(servers.gateway).url;
        const body = JSON.stringify([{ username: 'root', password: ROOT_PASSWORD }]);
        return {
          ...base,
          run: (seconds) => httpLoad({ url: `${url}/api/v1/session/signin`, method: 'POST', body, ...http(options.signinConnections) }, seconds),
          check: async () => void (await signInRoot(url)),
        };
      }
      default:
        throw new Error(`no runner for scenario ${scenario.id}`);
    }
  });
}

/** One run with the server's CPU (from /proc), RSS, the load generator's CPU and, for the gateway, heap and GC time. */
async function measure(target: Runnable, seconds: number): Promise<RunSample> {
  const memoryBefore = target.gatewayUrl ? await gatewayMemory(target.gatewayUrl) : undefined;
  const serverBefore = cpuSeconds(target.pid);
  const clientBefore = process.cpuUsage();
  const started = performance.now();
  const load = await target.run(seconds);
  const elapsed = (performance.now() - started) / 1000;
  const serverCpu = ((cpuSeconds(target.pid) - serverBefore) / elapsed) * 100;
  const client = process.cpuUsage(clientBefore);
  const serverRss = rssBytes(target.pid);
  const memoryAfter = target.gatewayUrl ? await gatewayMemory(target.gatewayUrl) : undefined;
  await target.check();
  return {
    rps: load.rps,
    p50: load.p50,
    p99: load.p99,
    serverCpu,
    serverRss,
    clientCpu: ((client.user + client.system) / 1e6 / elapsed) * 100,
    heapUsed: memoryAfter?.heapUsed,
    gcMs: memoryBefore && memoryAfter ? (memoryAfter.gcSeconds - memoryBefore.gcSeconds) * 1000 : undefined,
  };
}

/** Spawn → /readyz 200 and the RSS a second later; a first start and a restart on the same data. */
async function measureStartups(label: string, start: GatewayStart, starts: readonly string[], keepLast: boolean): Promise<{ results: StartupResult[]; kept?: GatewayProcess }> {
  const results: StartupResult[] = [];
  let kept: GatewayProcess | undefined;
  for (const [i, name] of starts.entries()) {
    const gateway = await startGateway(cleanUp, start);
    await sleep(1000);
    results.push({ mode: label, start: name, readyMs: gateway.readyMs, idleRss: rssBytes(gateway.pid) });
    progress(`start-up  ${label}, ${name}: ${(gateway.readyMs / 1000).toFixed(2)} s (pid ${gateway.pid})`);
    if (keepLast && i === starts.length - 1) kept = gateway;
    else await gateway.stop();
  }
  return { results, kept };
}

/**
 * RSS each idle WebSocket adds to a gateway process of its own: a few connections opened and
 * closed first (so lazily compiled code and buffers are in place), VmRSS, `count` connections,
 * a pause, VmRSS again.
 */
async function measureIdle(protocol: string, start: GatewayStart, opener: (gateway: GatewayProcess, token: string) => IdleOpener, count: number): Promise<IdleResult> {
  const gateway = await startGateway(cleanUp, start);
  try {
    const needed = count + 200;
    for (const [who, limit] of [['the gateway', openFileLimit(gateway.pid)], ['the load generator', openFileLimit('self')]] as const) {
      if (limit < needed) throw new Error(`${who} may open ${limit} files, ${count} idle WebSockets need ${needed}: raise the hard limit (ulimit -Hn) or lower --idle-connections`);
    }
    const open = opener(gateway, await signInRoot(gateway.url));
    (await openIdle(open, 100)).closeAll();
    await sleep(1000);
    const rssBefore = rssBytes(gateway.pid);
    const started = performance.now();
    const idle = await openIdle(open, count);
    const openSeconds = (performance.now() - started) / 1000;
    await sleep(2000);
    const rssAfter = rssBytes(gateway.pid);
    const dropped = idle.dropped();
    idle.closeAll();
    progress(`idle  ${count} ${protocol}: ${(((rssAfter - rssBefore) / count) / 1024).toFixed(1)} KiB each`);
    return { protocol, connections: count, rssBefore, rssAfter, openSeconds, dropped };
  } finally {
    await gateway.stop();
  }
}

async function main(options: Options, selection: Selection): Promise<void> {
  const defaults = loadConfig({});
  const hashing = defaults.ok ? defaults.config.passwordHashing : undefined;
  const loadBefore = os.loadavg();
  const startedAt = new Date();
  const production = async (): Promise<GatewayStart> => {
    const database = await createTestDatabase();
    cleanUp.add(() => database.drop());
    const redis = await createRedisPrefix();
    cleanUp.add(() => redis.clear());
    return { mode: { kind: 'production', databaseUrl: database.url, redisUrl: TEST_REDIS_URL, redisPrefix: redis.prefix }, nodeArgs: options.gatewayNodeArgs, output: options.gatewayOutput };
  };

  const startups: StartupResult[] = [];
  if (selection.extras.has('startup')) {
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'gateway-bench-'));
    cleanUp.add(() => rm(dataDir, { recursive: true, force: true }));
    startups.push(...(await measureStartups('embedded (PGlite)', { mode: { kind: 'embedded', dataDir } }, ['first (creates the database)', 'restart'], false)).results);
  }

  const mainStart = await production();
  const needsGateway = selection.scenarios.some((scenario) => scenario.server === 'gateway');
  let gateway: GatewayProcess | undefined;
  if (needsGateway || selection.extras.has('startup')) {
    const starts = selection.extras.has('startup') ? ['first (migrates)', 'restart'] : ['first (migrates)'];
    const measured = await measureStartups('production (PostgreSQL + Redis)', mainStart, starts, needsGateway);
    startups.push(...measured.results);
    gateway = measured.kept;
  }

  // After the start-up measurements, so that nothing else competes for the CPU while they run.
  const uses = (server: Server) => selection.scenarios.some((scenario) => scenario.server === server);
  const baselines = Promise.all([
    uses('raw-http') ? startBaseline(cleanUp, 'raw node:http', 'bench/raw-http-server.ts') : undefined,
    uses('raw-ws') ? startBaseline(cleanUp, 'raw ws echo', 'bench/raw-ws-echo.ts') : undefined,
    uses('mercurius') ? startBaseline(cleanUp, 'Mercurius', 'bench/mercurius-server.ts') : undefined,
  ]);
  baselines.catch(() => {});

  let token = '';
  if (gateway) {
    token = await signInRoot(gateway.url);
    await liftCallRates(gateway.url, token);
    if (selection.scenarios.some((scenario) => scenario.id === 'signin')) {
      // Every sign-in of the run comes from 127.0.0.1 for one account, many at once: lift the
      // per-address limit, and the per-account one that bounds how many are judged at once.
      await v1Call(gateway.url, '/v1/admin/settings/update', [{ signin_ip_limit: 1_000_000, signin_account_limit: 1000 }], token);
    }
    if (selection.scenarios.some((scenario) => scenario.id === 'v1-users-http')) {
      const setup = performance.now();
      await createUsers(gateway.url, token, USERS_TO_LIST);
      progress(`setup  ${USERS_TO_LIST} users created in ${((performance.now() - setup) / 1000).toFixed(1)} s`);
    }
  }
  const [rawHttp, rawWs, mercurius] = await baselines;

  const targets = runnables(selection.scenarios, { gateway, rawHttp, rawWs, mercurius }, token, options);
  const samples = new Map<string, RunSample[]>(targets.map((target) => [target.scenario.id, []]));
  for (const target of targets) await target.check();
  if (options.warmupSeconds > 0) for (const target of targets) await target.run(options.warmupSeconds);
  for (let round = 1; round <= options.rounds; round++) {
    for (const target of targets) {
      const sample = await measure(target, options.seconds);
      samples.get(target.scenario.id)!.push(sample);
      progress(`round ${round}  ${target.scenario.title.padEnd(44)} ${sample.rps.toFixed(0).padStart(7)} req/s  server ${sample.serverCpu.toFixed(0)}%  client ${sample.clientCpu.toFixed(0)}%`);
    }
  }

  const idle: IdleResult[] = [];
  if (selection.extras.has('idle')) {
    const wsUrl = (gw: GatewayProcess, route: string) => `${gw.url.replace('http', 'ws')}${route}`;
    idle.push(await measureIdle('v1', mainStart, (gw, t) => v1Idle(wsUrl(gw, '/api/'), t), options.idleConnections));
    idle.push(await measureIdle('graphql-ws', mainStart, (gw, t) => graphqlWsIdle(wsUrl(gw, '/graphql'), t), options.idleConnections));
  }

  // One notification to as many users as idle sockets, each subscribed over graphql-ws.
  let fanout: FanoutResult | undefined;
  if (selection.extras.has('notify-fanout')) fanout = await measureNotificationFanout(cleanUp, mainStart, options.idleConnections, progress);
  const mail: MailDrainResult[] = selection.extras.has('mail') ? await measureMailDrain() : [];

  const ws = selection.scenarios.filter((scenario) => scenario.transport === 'ws');
  const sections = [
    `## Benchmarks (${startedAt.toISOString().slice(0, 16).replace('T', ' ')} UTC)`,
    [
      `Node ${process.version}, ${os.cpus().length} cores, load average ${loadBefore.map((l) => l.toFixed(2)).join(' ')} at the start, ${os
        .loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')} at the end.`,
      ...(targets.length > 0
        ? [
            `${options.rounds} round(s) × ${options.seconds} s per scenario after a ${options.warmupSeconds} s warm-up; medians over the rounds; ratios are medians of per-round ratios.`,
            `HTTP: ${options.connections} connections (sign-in: ${options.signinConnections}); WebSocket: ${options.wsConnections} connections × ${options.wsInFlight} requests in flight.`,
            'CPU is % of one core over the run (server: /proc/<pid>/stat; client: this load generator).',
          ]
        : []),
      `Argon2id: ${hashing ? `${hashing.memoryKib} KiB, t=${hashing.timeCost}, p=${hashing.parallelism}` : 'unknown'} (src/config.ts defaults).`,
    ].join('\n'),
  ];
  if (targets.length > 0) sections.push(`### Throughput\n\n${throughputTable(selection.scenarios, samples)}`);
  if (ws.length > 0) sections.push(`### WebSocket scenarios by round\n\n${perRoundTable(ws, samples)}`);
  const targetList = targetRows(samples, idle);
  if (targetList.length > 0) sections.push(`### Targets\n\n${targetTable(targetList)}`);
  const information = informationTable(samples);
  if (information) sections.push(`### Other comparisons\n\n${information}`);
  if (idle.length > 0) sections.push(`### Idle WebSockets (a fresh gateway each, authenticated)\n\n${idleTable(idle)}`);
  if (startups.length > 0) sections.push(`### Start-up\n\n${startupTable(startups)}`);
  if (fanout) sections.push(`### Notification fan-out (graphql-ws \`notificationAdded\`, one gateway)\n\n${fanoutTable(fanout)}`);
  if (mail.length > 0) sections.push(`### Mail drain (2,000 queued messages into a local SMTP sink)\n\n${mailDrainTable(mail)}`);
  console.log(`\n${sections.join('\n\n')}\n`);
}

let options: Options;
let selection: Selection;
try {
  if (process.argv.includes('--help')) {
    console.log(USAGE);
    process.exit(0);
  }
  options = parseOptions(process.argv.slice(2), process.env);
  // The quick run is the throughput scenarios alone: fresh gateways for the idle sockets and
  // PGlite creating a database take longer than all of them together.
  selection = select(options.only ?? (options.quick ? SCENARIOS.map((scenario) => scenario.id) : null));
} catch (error) {
  console.error(error instanceof UsageError ? error.message : `${(error as Error).message}\n${USAGE}`);
  process.exit(2);
}
try {
  await main(options, selection);
} catch (error) {
  // Once a signal is cleaning up, what fails next is its consequence.
  if (!cleanUp.started) console.error(error);
  await exit(1);
}
await exit(0);
