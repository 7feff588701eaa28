/**
 * `npm run bench:v1`: the v1 facade against raw baselines, measured in one run on this machine.
 *
 * A gateway on real PostgreSQL and Redis, a bare node:http JSON server and a bare `ws` echo server
 * each run in their own process; this process drives them one at a time, interleaved over several
 * rounds (baseline, gateway, baseline, …) so drift affects all alike, over loopback, for a bounded
 * time. It prints requests/s, p50/p99 latency and the gateway/baseline ratios.
 *
 * BENCH_ROUNDS, BENCH_SECONDS, BENCH_CONNECTIONS, BENCH_WS_CONNECTIONS and BENCH_WS_IN_FLIGHT size
 * the run; PostgreSQL and Redis are the tests' (TEST_DATABASE_URL, TEST_REDIS_URL), in a database
 * and key prefix of the run's own that it removes on every way out.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import net from 'node:net';
import path from 'node:path';
import autocannon from 'autocannon';
import WebSocket from 'ws';
import { createRedisPrefix, createTestDatabase, TEST_REDIS_URL } from '../test/helpers/services.ts';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50);
/** WebSocket load: connections × requests kept in flight on each. */
const WS_CONNECTIONS = Number(process.env.BENCH_WS_CONNECTIONS ?? 10);
const WS_IN_FLIGHT = Number(process.env.BENCH_WS_IN_FLIGHT ?? 5);
const ROOT_PASSWORD = 'bench-root-password';

/**
 * What the run has set up (child servers, the database, Redis keys), undone in reverse order on
 * every way out: the end, an error, SIGINT/SIGTERM, an uncaught exception or rejection.
 */
const undo: (() => Promise<unknown>)[] = [];
let cleaning: Promise<void> | undefined;

function cleanUp(): Promise<void> {
  cleaning ??= (async () => {
    for (const step of undo.splice(0).reverse()) {
      await step().catch((error: unknown) => console.error('clean-up step failed:', error));
    }
  })();
  return cleaning;
}

let exitCode: number | undefined;

/** Exits with the code of the first way out taken, once everything is cleaned up. */
async function exit(code: number): Promise<never> {
  exitCode ??= code;
  await cleanUp();
  process.exit(exitCode);
}

for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
  process.once(signal, () => {
    console.error(`\n${signal}: stopping the servers and dropping the database`);
    void exit(code);
  });
}
for (const event of ['uncaughtException', 'unhandledRejection'] as const) {
  process.on(event, (error: unknown) => {
    console.error(`${event}:`, error);
    void exit(1);
  });
}

/** Stops a child: SIGTERM, then SIGKILL if it is still there after 10 s. */
async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

function spawnChild(args: string[], env: NodeJS.ProcessEnv, stdout: 'pipe' | 'inherit'): ChildProcess {
  const child = spawn(process.execPath, args, { env: { ...process.env, ...env }, stdio: ['ignore', stdout, 'inherit'] });
  undo.push(() => stopChild(child));
  return child;
}

/** Rejects when the child exits: a server that dies must end the wait for it. */
function exitOf(child: ChildProcess, name: string): Promise<never> {
  const exited = new Promise<never>((_resolve, reject) => {
    child.once('exit', (code, signal) => reject(new Error(`${name} exited (${signal ?? code})`)));
  });
  exited.catch(() => {});
  return exited;
}

interface Sample {
  readonly rps: number;
  readonly p50: number;
  readonly p99: number;
}

interface Target {
  readonly name: string;
  readonly baseline?: string;
  run(seconds: number): Promise<Sample>;
}

async function startProcess(script: string, ready: RegExp): Promise<RegExpMatchArray> {
  const child = spawnChild(['--import', 'tsx', path.resolve(script)], {}, 'pipe');
  let buffered = '';
  child.stdout!.setEncoding('utf8');
  const found = new Promise<RegExpMatchArray>((resolve) => {
    child.stdout!.on('data', (chunk: string) => {
      buffered += chunk;
      const match = buffered.match(ready);
      if (match) resolve(match);
    });
  });
  const timeout = new Promise<never>((_resolve, reject) => setTimeout(() => reject(new Error(`${script} did not start:\n${buffered}`)), 60_000).unref());
  return Promise.race([found, exitOf(child, script), timeout]);
}

function http(name: string, url: string, body: string | undefined, headers: Record<string, string> = {}, baseline?: string): Target {
  return {
    name,
    baseline,
    async run(seconds) {
      const result = await autocannon({
        url,
        connections: CONNECTIONS,
        duration: seconds,
        method: body === undefined ? 'GET' : 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body,
      });
      if (result.non2xx > 0 || result.errors > 0) throw new Error(`${name}: ${result.non2xx} non-2xx answers, ${result.errors} errors`);
      return { rps: result.requests.average, p50: result.latency.p50, p99: result.latency.p99 };
    },
  };
}

/**
 * A bounded WebSocket load: each connection keeps WS_IN_FLIGHT requests in flight for `seconds`.
 * An error answer, a socket error or a closed socket ends the run with an error (not a crash).
 */
function ws(name: string, url: string, protocols: string[], frame: (id: number) => string, baseline?: string): Target {
  return {
    name,
    baseline,
    async run(seconds) {
      let fail!: (error: Error) => void;
      const failed = new Promise<never>((_resolve, reject) => (fail = reject));
      failed.catch(() => {});
      const sockets: WebSocket[] = [];
      let running = true;
      try {
        await Promise.race([
          failed,
          Promise.all(
            Array.from({ length: WS_CONNECTIONS }, async () => {
              const socket = new WebSocket(url, protocols, { perMessageDeflate: false });
              sockets.push(socket);
              socket.on('error', (error) => fail(new Error(`${name}: ${error.message}`)));
              socket.on('close', (code) => {
                if (running) fail(new Error(`${name}: the server closed a connection (${code})`));
              });
              await once(socket, 'open');
            }),
          ),
        ]);
        const latencies: number[] = [];
        let completed = 0;
        const started = process.hrtime.bigint();
        const drained = sockets.map(
          (socket) =>
            new Promise<void>((resolve) => {
              const sentAt = new Map<number, bigint>();
              let next = 1;
              const send = () => {
                const id = next++;
                sentAt.set(id, process.hrtime.bigint());
                socket.send(frame(id));
              };
              socket.on('message', (data) => {
                let answer: { id: number; error?: unknown };
                try {
                  answer = JSON.parse(data.toString()) as typeof answer;
                } catch {
                  return fail(new Error(`${name}: an answer is not JSON: ${data.toString().slice(0, 200)}`));
                }
                if (answer.error) return fail(new Error(`${name}: error answer ${JSON.stringify(answer.error)}`));
                const sent = sentAt.get(answer.id);
                if (sent === undefined) return;
                sentAt.delete(answer.id);
                if (running) {
                  latencies.push(Number(process.hrtime.bigint() - sent) / 1e6);
                  completed++;
                  send();
                } else if (sentAt.size === 0) {
                  resolve();
                }
              });
              for (let i = 0; i < WS_IN_FLIGHT; i++) send();
            }),
        );
        await Promise.race([failed, new Promise((resolve) => setTimeout(resolve, seconds * 1000))]);
        running = false;
        const elapsed = Number(process.hrtime.bigint() - started) / 1e9;
        const stuck = new Promise<never>((_resolve, reject) =>
          setTimeout(() => reject(new Error(`${name}: answers still missing 10 s after the run`)), 10_000).unref(),
        );
        await Promise.race([failed, stuck, Promise.all(drained)]);
        latencies.sort((a, b) => a - b);
        const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0;
        return { rps: completed / elapsed, p50: at(0.5), p99: at(0.99) };
      } finally {
        running = false;
        for (const socket of sockets) socket.terminate();
      }
    },
  };
}

async function freePort(): Promise<number> {
  const server = net.createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function waitReady(url: string, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`the gateway exited (${child.signalCode ?? child.exitCode})`);
    const answer = await fetch(url).catch(() => null);
    if (answer?.status === 200) return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`${url} did not become ready`);
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

async function main(): Promise<void> {
  // The same PostgreSQL and Redis as the tests (TEST_DATABASE_URL, TEST_REDIS_URL), in a fresh database and key prefix.
  const database = await createTestDatabase();
  undo.push(() => database.drop());
  const redis = await createRedisPrefix();
  undo.push(() => redis.clear());

  const port = await freePort();
  const gatewayUrl = `http://127.0.0.1:${port}`;
  const gateway = spawnChild(
    ['--import', 'tsx', path.resolve('src/main.ts')],
    {
      PORT: String(port),
      LOG_LEVEL: 'warn',
      NODE_ENV: 'production',
      DATABASE_URL: database.url,
      REDIS_URL: TEST_REDIS_URL,
      REDIS_PREFIX: redis.prefix,
      ROOT_PASSWORD,
    },
    'inherit',
  );
  await waitReady(`${gatewayUrl}/readyz`, gateway);
  const rawHttp = await startProcess('bench/raw-http-server.ts', /"port":(\d+)/);
  const rawWs = await startProcess('bench/raw-ws-echo.ts', /"port":(\d+)/);
  const rawHttpUrl = `http://127.0.0.1:${rawHttp[1]}/`;
  const rawWsUrl = `ws://127.0.0.1:${rawWs[1]}/`;

  const signin = (await (
    await fetch(`${gatewayUrl}/api/v1/session/signin`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify([{ username: 'root', password: ROOT_PASSWORD }]),
    })
  ).json()) as { result?: { data: { token: string } }; error?: unknown };
  if (!signin.result) throw new Error(`root could not sign in: ${JSON.stringify(signin.error)}`);
  const token = signin.result.data.token;
  const wsUrl = `${gatewayUrl.replace('http', 'ws')}/api/`;
  const call = (method: string) => (id: number) => JSON.stringify({ jsonrpc: '2.0', method, params: [], id });

  const targets: Target[] = [
    http('raw node:http JSON POST', rawHttpUrl, '["x"]'),
    http('v1 test/test (HTTP POST)', `${gatewayUrl}/api/v1/test/test`, '["x"]', {}, 'raw node:http JSON POST'),
    http('v1 profile/read (HTTP GET, session)', `${gatewayUrl}/api/v1/profile/read`, undefined, { authorization: `Bearer ${token}` }, 'raw node:http JSON POST'),
    ws('raw ws echo', rawWsUrl, [], call('/v1/test/test')),
    ws('v1 test/test (ws)', wsUrl, ['jsonrpc_2.0'], call('/v1/test/test'), 'raw ws echo'),
    ws('v1 profile/read (ws, session)', wsUrl, ['jsonrpc_2.0', token], call('/v1/profile/read'), 'raw ws echo'),
  ];

  const samples = new Map<string, Sample[]>(targets.map((target) => [target.name, []]));
  // Warm-up: JIT, connection pools, caches.
  for (const target of targets) await target.run(1);
  for (let round = 1; round <= ROUNDS; round++) {
    for (const target of targets) {
      const sample = await target.run(SECONDS);
      samples.get(target.name)!.push(sample);
      console.log(`round ${round}  ${target.name.padEnd(38)} ${sample.rps.toFixed(0).padStart(7)} req/s`);
    }
  }

  const summary = targets.map((target) => {
    const runs = samples.get(target.name)!;
    return { target, rps: median(runs.map((s) => s.rps)), p50: median(runs.map((s) => s.p50)), p99: median(runs.map((s) => s.p99)) };
  });
  console.log(
    `\n${ROUNDS} rounds × ${SECONDS} s; HTTP: ${CONNECTIONS} connections; WebSocket: ${WS_CONNECTIONS} connections × ${WS_IN_FLIGHT} in flight (medians)\n`,
  );
  console.log(`${'target'.padEnd(38)} ${'req/s'.padStart(8)} ${'p50 ms'.padStart(8)} ${'p99 ms'.padStart(8)}  ratio`);
  for (const { target, rps, p50, p99 } of summary) {
    const base = summary.find((entry) => entry.target.name === target.baseline);
    const ratio = base ? `${((rps / base.rps) * 100).toFixed(1)}% of ${base.target.name}` : '(baseline)';
    console.log(`${target.name.padEnd(38)} ${rps.toFixed(0).padStart(8)} ${p50.toFixed(2).padStart(8)} ${p99.toFixed(2).padStart(8)}  ${ratio}`);
  }
}

try {
  await main();
} catch (error) {
  // Once a signal is cleaning up, what fails next is its consequence.
  if (cleaning === undefined) console.error(error);
  await exit(1);
}
await exit(0);
