/**
 * The call-log bench (not a test): recording on vs off on v1 test/test over HTTP, in one run;
 * read-latest-stat (all methods) and read-history-stat (one method) with 30 days × 50 methods of
 * statistics seeded; the apiStats tick with 100 subscribers. Prints its figures.
 *
 *   node --import tsx bench/call-log.ts [--seconds=4] [--rounds=3] [--recording-only]
 */
import { Redis } from 'ioredis';
import { ApiStats } from '../src/domain/api-stats.ts';
import { bucketOf } from '../src/kv/latency-histogram.ts';
import { RedisStats } from '../src/kv/redis-stats.ts';
import { bucketStart, emptyCounts, STATS_RESOLUTIONS, type StatsIncrement } from '../src/kv/stats.ts';
import { createLogger } from '../src/logger.ts';
import { createRedisPrefix, createTestDatabase, TEST_REDIS_URL } from '../test/helpers/services.ts';
import { CALL_LOG_BENCH } from './catalogue.ts';
import { liftCallRates, ROOT_PASSWORD, signInRoot } from './gateway-process.ts';
import { httpLoad } from './load.ts';
import { CleanUp, cpuSeconds, freePort, spawnNode, waitReady } from './processes.ts';
import { percentile as sortedPercentile } from './report.ts';

const arg = (name: string, fallback: number) => Number(process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? fallback);
const SECONDS = arg('seconds', 4);
const ROUNDS = arg('rounds', 3);

const cleanUp = new CleanUp();
process.on('SIGINT', () => void cleanUp.run().then(() => process.exit(130)));

async function gateway(recording: boolean, databaseUrl: string, redisPrefix: string) {
  const port = await freePort();
  const since = performance.now();
  const child = spawnNode(cleanUp, {
    name: `gateway (recording ${recording ? 'on' : 'off'})`,
    script: 'bench/call-log-gateway.ts',
    env: {
      PORT: String(port),
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
      ROOT_PASSWORD,
      NODE_ENV: 'production',
      DATABASE_URL: databaseUrl,
      REDIS_URL: TEST_REDIS_URL,
      REDIS_PREFIX: redisPrefix,
      BENCH_RECORDING: recording ? 'on' : 'off',
    },
    output: 'inherit',
  });
  const url = `http://127.0.0.1:${port}`;
  await waitReady(`${url}/readyz`, child, since);
  return { url, child };
}

/** 30 days of 10-minute buckets and an hour of 1-minute buckets for each method, as the recorder writes them. */
async function seed(stats: RedisStats, methods: readonly string[], now: number): Promise<number> {
  let written = 0;
  for (const methodId of methods) {
    const increments: StatsIncrement[] = [];
    for (const resolution of ['tenMinutes', 'minute'] as const) {
      const { bucketMs, keepMs } = STATS_RESOLUTIONS[resolution];
      const last = bucketStart(now, resolution);
      for (let start = last - Math.floor((keepMs - bucketMs) / bucketMs) * bucketMs; start <= last; start += bucketMs) {
        const counts = emptyCounts();
        counts.accepted = 20 + (start / bucketMs) % 7;
        counts.errors = 1;
        counts.durationMicros = counts.accepted * 1800;
        counts.histogram.set(bucketOf(0.9), counts.accepted - 5);
        counts.histogram.set(bucketOf(7), 5);
        increments.push({ methodId, resolution, bucketStartMs: start, counts });
      }
    }
    for (let i = 0; i < increments.length; i += 2000) await stats.add(increments.slice(i, i + 2000), now);
    written += increments.length;
  }
  return written;
}

async function latencies(url: string, token: string, method: string, args: unknown[], count: number): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < count; i++) {
    const started = performance.now();
    const response = await fetch(`${url}/api${method}`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify(args) });
    const body = (await response.json()) as { result?: { status: number } };
    if (body.result?.status !== 200) throw new Error(`${method}: ${JSON.stringify(body).slice(0, 200)}`);
    times.push(performance.now() - started);
  }
  return times;
}

try {
  const database = await createTestDatabase();
  cleanUp.add(() => database.drop());
  const redis = await createRedisPrefix();
  cleanUp.add(() => redis.clear());
  const [on, off] = await Promise.all([gateway(true, database.url, redis.prefix), gateway(false, database.url, redis.prefix)]);
  await liftCallRates(on.url, await signInRoot(on.url));
  // The other gateway reads the changed setting within a second.
  await new Promise((resolve) => setTimeout(resolve, 1500));

  // Recording on vs off, alternating, the same load each time.
  const load = { method: 'POST' as const, body: '["bench"]', connections: 50 };
  await httpLoad({ ...load, url: `${on.url}/api/v1/test/test` }, 2);
  await httpLoad({ ...load, url: `${off.url}/api/v1/test/test` }, 2);
  const rps = { on: [] as number[], off: [] as number[] };
  // The gateway's own CPU per call (the flush included, which runs within the round), apart from
  // PostgreSQL and the load generator, which share the machine's cores.
  const cpuPerCall = { on: [] as number[], off: [] as number[] };
  for (let round = 1; round <= ROUNDS; round++) {
    for (const [name, gw] of [['off', off], ['on', on]] as const) {
      const cpuBefore = cpuSeconds(gw.child.pid);
      const result = await httpLoad({ ...load, url: `${gw.url}/api/v1/test/test` }, SECONDS);
      const microseconds = ((cpuSeconds(gw.child.pid) - cpuBefore) / result.requests) * 1e6;
      rps[name].push(result.rps);
      cpuPerCall[name].push(microseconds);
      console.log(`round ${round}  recording ${name.padEnd(3)} ${result.rps.toFixed(0).padStart(7)} req/s  p99 ${result.p99} ms  gateway CPU ${microseconds.toFixed(1)} µs/call`);
    }
  }
  const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
  const ratios = rps.on.map((value, i) => value / rps.off[i]!);
  const cost = 1 - median(ratios);
  const cpuCost = median(cpuPerCall.on) / median(cpuPerCall.off) - 1;
  const cpuLine = `gateway CPU per call: off ${median(cpuPerCall.off).toFixed(1)} µs, on ${median(cpuPerCall.on).toFixed(1)} µs (+${(cpuCost * 100).toFixed(1)} %)`;
  if (process.argv.includes('--recording-only')) {
    console.log(`\nrecording off ${median(rps.off).toFixed(0)} req/s, on ${median(rps.on).toFixed(0)} req/s: cost ${(cost * 100).toFixed(1)} % (median of per-round ratios ${ratios.map((r) => r.toFixed(2)).join(' ')})\n${cpuLine}`);
  } else {
    await statistics();
  }

  async function statistics(): Promise<void> {

  // Statistics reads with 30 days × 50 methods seeded.
  const client = new Redis(TEST_REDIS_URL, { lazyConnect: true });
  await client.connect();
  cleanUp.add(async () => client.disconnect());
  const store = new RedisStats(client, redis.prefix);
  const methods = Array.from({ length: CALL_LOG_BENCH.seededMethods }, (_, i) => `/v1/bench/method-${String(i).padStart(2, '0')}`);
  const seedStart = performance.now();
  const buckets = await seed(store, methods, Date.now());
  console.log(`seeded ${buckets} buckets (${methods.length} methods) in ${((performance.now() - seedStart) / 1000).toFixed(1)} s`);
  const token = await signInRoot(on.url);
  const latest = await latencies(on.url, token, '/v1/admin/api-call-log/read-latest-stat', [], 200);
  const history = await latencies(on.url, token, '/v1/admin/api-call-log/read-history-stat', [methods[0]], 200);

  // The tick: 100 subscribers of one window, one computation per tick.
  const { log } = createLogger('warn');
  const ticker = new ApiStats({ store, logger: log, refreshMs: { lastHour: 500, last30Days: 500 } });
  const computeStart = performance.now();
  await ticker.snapshot('lastHour');
  const hourComputeMs = performance.now() - computeStart;
  const historyStart = performance.now();
  await ticker.snapshot('last30Days', [methods[0]!]);
  const historyComputeMs = performance.now() - historyStart;
  const before = ticker.computations;
  let pushes = 0;
  const stops = Array.from({ length: CALL_LOG_BENCH.subscribers }, () => ticker.subscribe('lastHour', null, () => pushes++));
  await new Promise((resolve) => setTimeout(resolve, 2600));
  stops.forEach((stop) => stop());
  const computations = ticker.computations - before;
  ticker.close();

  const percentile = (values: readonly number[], q: number) => sortedPercentile([...values].sort((a, b) => a - b), q / 100);
  const p95 = (values: number[]) => percentile(values, 95);
  console.log(`
### Call log and statistics (${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC)

| measure | value | target |
| --- | --- | --- |
| v1 test/test HTTP, recording off (median of ${ROUNDS} × ${SECONDS} s) | ${median(rps.off).toFixed(0)} req/s | |
| v1 test/test HTTP, recording on | ${median(rps.on).toFixed(0)} req/s | |
| cost of recording (median of per-round ratios) | ${(cost * 100).toFixed(1)} % | ≤ ${CALL_LOG_BENCH.recordingMaxCost * 100} % |
| gateway CPU per call, recording off / on (medians) | ${median(cpuPerCall.off).toFixed(1)} / ${median(cpuPerCall.on).toFixed(1)} µs (+${(cpuCost * 100).toFixed(1)} %) | |
| read-latest-stat, all ${methods.length} methods: p50 / p95 (200 calls) | ${percentile(latest, 50).toFixed(1)} / ${p95(latest).toFixed(1)} ms | p95 < ${CALL_LOG_BENCH.statsReadP95MaxMs} ms |
| read-history-stat, one method (4,320 points): p50 / p95 (200 calls) | ${percentile(history, 50).toFixed(1)} / ${p95(history).toFixed(1)} ms | p95 < ${CALL_LOG_BENCH.statsReadP95MaxMs} ms |
| first read-latest-stat (computed, not cached) | ${latest[0]!.toFixed(1)} ms | |
| first read-history-stat (computed, not cached) | ${history[0]!.toFixed(1)} ms | |
| one computation of the last hour, all methods (in-process) | ${hourComputeMs.toFixed(1)} ms | |
| one computation of 30 days, one method (in-process) | ${historyComputeMs.toFixed(1)} ms | |
| ${CALL_LOG_BENCH.subscribers} subscribers, 2.6 s at a 500 ms tick: computations / pushes | ${computations} / ${pushes} | one per tick |
`);
  }
} finally {
  await cleanUp.run();
}
