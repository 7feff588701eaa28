/**
 * `npm run bench:v1`: the v1 facade against raw baselines, measured in one run on this machine.
 *
 * A gateway on real PostgreSQL and Redis, a bare node:http JSON server and a bare `ws` echo server
 * each run in their own process; this process drives them one at a time, interleaved over several
 * rounds (baseline, gateway, baseline, …) so drift affects all alike, over loopback, for a bounded
 * time. It prints requests/s, p50/p99 latency and the gateway/baseline ratios.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import net from 'node:net';
import path from 'node:path';
import autocannon from 'autocannon';
import postgres from 'postgres';
import WebSocket from 'ws';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50);
/** WebSocket load: connections × requests kept in flight on each. */
const WS_CONNECTIONS = Number(process.env.BENCH_WS_CONNECTIONS ?? 10);
const WS_IN_FLIGHT = Number(process.env.BENCH_WS_IN_FLIGHT ?? 5);
const DATABASE_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379/0';
const ROOT_PASSWORD = 'bench-root-password';

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

async function startProcess(args: string[], env: NodeJS.ProcessEnv, ready: RegExp): Promise<{ child: ChildProcess; match: RegExpMatchArray }> {
  const child = spawn(process.execPath, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
  let buffered = '';
  const match = await new Promise<RegExpMatchArray>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${args.join(' ')} did not start:\n${buffered}`)), 60_000);
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (chunk: string) => {
      buffered += chunk;
      const found = buffered.match(ready);
      if (found) {
        clearTimeout(timer);
        resolve(found);
      }
    });
    child.once('exit', (code) => reject(new Error(`${args.join(' ')} exited with ${code}:\n${buffered}`)));
  });
  child.stdout!.resume();
  return { child, match };
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

/** A bounded WebSocket load: each connection keeps WS_IN_FLIGHT requests in flight for `seconds`. */
function ws(name: string, url: string, protocols: string[], frame: (id: number) => string, baseline?: string): Target {
  return {
    name,
    baseline,
    async run(seconds) {
      const sockets = await Promise.all(
        Array.from({ length: WS_CONNECTIONS }, async () => {
          const socket = new WebSocket(url, protocols, { perMessageDeflate: false });
          await once(socket, 'open');
          return socket;
        }),
      );
      const latencies: number[] = [];
      let completed = 0;
      let running = true;
      const started = process.hrtime.bigint();
      const drained = sockets.map(
        (socket) =>
          new Promise<void>((resolve, reject) => {
            const sentAt = new Map<number, bigint>();
            let next = 1;
            const send = () => {
              const id = next++;
              sentAt.set(id, process.hrtime.bigint());
              socket.send(frame(id));
            };
            socket.on('message', (data) => {
              const answer = JSON.parse(data.toString()) as { id: number; error?: unknown };
              if (answer.error) reject(new Error(`${name}: error answer ${JSON.stringify(answer.error)}`));
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
      await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
      running = false;
      const elapsed = Number(process.hrtime.bigint() - started) / 1e9;
      await Promise.all(drained);
      for (const socket of sockets) socket.close();
      latencies.sort((a, b) => a - b);
      const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0;
      return { rps: completed / elapsed, p50: at(0.5), p99: at(0.99) };
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

async function waitReady(url: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
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
  const database = `gw_bench_${randomBytes(4).toString('hex')}`;
  const admin = postgres(DATABASE_URL, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database "${database}"`);
  const databaseUrl = new URL(DATABASE_URL);
  databaseUrl.pathname = `/${database}`;
  const children: ChildProcess[] = [];
  // Interrupted runs leave no servers behind.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      for (const child of children) child.kill('SIGTERM');
      process.exit(130);
    });
  }
  try {
    const port = await freePort();
    const gatewayUrl = `http://127.0.0.1:${port}`;
    const gateway = spawn(process.execPath, ['--import', 'tsx', path.resolve('src/main.ts')], {
      env: {
        ...process.env,
        PORT: String(port),
        LOG_LEVEL: 'warn',
        NODE_ENV: 'production',
        DATABASE_URL: databaseUrl.toString(),
        REDIS_URL,
        REDIS_PREFIX: `bench:${database}:`,
        ROOT_PASSWORD,
      },
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    children.push(gateway);
    await waitReady(`${gatewayUrl}/readyz`);
    const rawHttp = await startProcess(['--import', 'tsx', path.resolve('bench/raw-http-server.ts')], {}, /"port":(\d+)/);
    children.push(rawHttp.child);
    const rawWs = await startProcess(['--import', 'tsx', path.resolve('bench/raw-ws-echo.ts')], {}, /"port":(\d+)/);
    children.push(rawWs.child);
    const rawHttpUrl = `http://127.0.0.1:${rawHttp.match[1]}/`;
    const rawWsUrl = `ws://127.0.0.1:${rawWs.match[1]}/`;

    const signin = (await (
      await fetch(`${gatewayUrl}/api/v1/session/signin`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify([{ username: 'root', password: ROOT_PASSWORD }]),
      })
    ).json()) as { result: { data: { token: string } } };
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
  } finally {
    for (const child of children) child.kill('SIGTERM');
    await Promise.all(children.map((child) => (child.exitCode === null ? once(child, 'exit') : undefined)));
    await admin.unsafe(`drop database if exists "${database}" with (force)`);
    await admin.end();
  }
}

await main();
