/** Load generators, all bounded in time: HTTP through autocannon, WebSocket request/answer loops, idle sockets. */
import { once } from 'node:events';
import autocannon from 'autocannon';
import WebSocket from 'ws';
import { percentile } from './report.ts';

/** A handshake that does not finish in time fails the run rather than stalling it. */
const WS_OPTIONS = { perMessageDeflate: false, handshakeTimeout: 10_000 } as const;

let opened = 0;
/**
 * A loopback source address for the next of many WebSockets: the gateway admits 256 per client
 * address (INPUT_LIMITS.wsConnectionsPerAddress), so thousands of subscribers come from many
 * addresses of 127.0.0.0/8, 200 each, as they would from many machines.
 */
export function nextClientAddress(): string {
  const block = Math.floor(opened++ / 200) + 1;
  return `127.1.${block >> 8}.${block & 255}`;
}

/** Options of one benchmark WebSocket, from its own client address. */
export function wsOptions(): typeof WS_OPTIONS & { localAddress: string } {
  return { ...WS_OPTIONS, localAddress: nextClientAddress() };
}

export interface LoadResult {
  readonly requests: number;
  readonly rps: number;
  readonly p50: number;
  readonly p99: number;
}

export interface HttpLoad {
  readonly url: string;
  readonly method: 'GET' | 'POST';
  readonly body?: string;
  readonly headers?: Record<string, string>;
  readonly connections: number;
}

/** Fails on any non-2xx answer or socket error: a fast error page is not throughput. */
export async function httpLoad(load: HttpLoad, seconds: number): Promise<LoadResult> {
  const result = await autocannon({
    url: load.url,
    connections: load.connections,
    duration: seconds,
    // autocannon notices the end of a run at its next sample: a 0.5 s run would last a second.
    sampleInt: 100,
    method: load.method,
    headers: { 'content-type': 'application/json', ...load.headers },
    body: load.body,
  });
  if (result.non2xx > 0 || result.errors > 0 || result.timeouts > 0) {
    throw new Error(`${load.url}: ${result.non2xx} non-2xx answers, ${result.errors} errors, ${result.timeouts} timeouts`);
  }
  return { requests: result.requests.total, rps: result.requests.total / (result.duration || seconds), p50: result.latency.p50, p99: result.latency.p99 };
}

export interface WsLoad {
  readonly url: string;
  readonly protocols: readonly string[];
  /** The text frame of request `id`; its answer must carry the same `id` and no `error`. */
  readonly frame: (id: number) => string;
  readonly connections: number;
  readonly inFlight: number;
}

/**
 * Each connection keeps `inFlight` requests in flight for `seconds`. An error answer, a socket
 * error or a closed socket ends the run with an error (not a crash).
 */
export async function wsLoad(load: WsLoad, seconds: number): Promise<LoadResult> {
  let fail!: (error: Error) => void;
  const failed = new Promise<never>((_resolve, reject) => (fail = reject));
  failed.catch(() => {});
  const sockets: WebSocket[] = [];
  let running = true;
  try {
    await Promise.race([
      failed,
      Promise.all(
        Array.from({ length: load.connections }, async () => {
          const socket = new WebSocket(load.url, [...load.protocols], WS_OPTIONS);
          sockets.push(socket);
          socket.on('error', (error) => fail(new Error(`${load.url}: ${error.message}`)));
          socket.on('close', (code) => {
            if (running) fail(new Error(`${load.url}: the server closed a connection (${code})`));
          });
          await once(socket, 'open');
        }),
      ),
    ]);
    const latencies: number[] = [];
    const started = performance.now();
    const drained = sockets.map(
      (socket) =>
        new Promise<void>((resolve) => {
          const sentAt = new Map<number, number>();
          let next = 1;
          const send = () => {
            const id = next++;
            sentAt.set(id, performance.now());
            socket.send(load.frame(id));
          };
          socket.on('message', (data) => {
            let answer: { id: number; error?: unknown };
            try {
              answer = JSON.parse(data.toString()) as typeof answer;
            } catch {
              return fail(new Error(`${load.url}: an answer is not JSON: ${data.toString().slice(0, 200)}`));
            }
            if (answer.error) return fail(new Error(`${load.url}: error answer ${JSON.stringify(answer.error)}`));
            const sent = sentAt.get(answer.id);
            if (sent === undefined) return;
            sentAt.delete(answer.id);
            if (running) {
              latencies.push(performance.now() - sent);
              send();
            } else if (sentAt.size === 0) {
              resolve();
            }
          });
          for (let i = 0; i < load.inFlight; i++) send();
        }),
    );
    await Promise.race([failed, new Promise((resolve) => setTimeout(resolve, seconds * 1000))]);
    running = false;
    const elapsed = (performance.now() - started) / 1000;
    let timer: NodeJS.Timeout | undefined;
    const stuck = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => reject(new Error(`${load.url}: answers still missing 10 s after the run`)), 10_000);
    });
    await Promise.race([failed, stuck, Promise.all(drained)]).finally(() => clearTimeout(timer));
    latencies.sort((a, b) => a - b);
    return { requests: latencies.length, rps: latencies.length / elapsed, p50: percentile(latencies, 0.5), p99: percentile(latencies, 0.99) };
  } finally {
    running = false;
    for (const socket of sockets) socket.terminate();
  }
}

/** How one idle connection is opened: resolves once the server has accepted it at the protocol level. */
export type IdleOpener = () => Promise<WebSocket>;

export function v1Idle(url: string, token: string): IdleOpener {
  return async () => {
    const socket = new WebSocket(url, ['jsonrpc_2.0', token], wsOptions());
    await settle(socket, once(socket, 'open'));
    return socket;
  };
}

/** graphql-ws (`graphql-transport-ws`): open, `connection_init` with the bearer token, wait for the ack. */
export function graphqlWsIdle(url: string, token: string): IdleOpener {
  return async () => {
    const socket = new WebSocket(url, 'graphql-transport-ws', wsOptions());
    const acked = new Promise<void>((resolve, reject) => {
      socket.on('message', (data) => {
        const type = (JSON.parse(data.toString()) as { type?: string }).type;
        if (type === 'connection_ack') resolve();
        else if (type !== 'ping' && type !== 'pong') reject(new Error(`graphql-ws: unexpected ${type} before connection_ack`));
      });
    });
    socket.once('open', () => socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${token}` } })));
    await settle(socket, acked);
    return socket;
  };
}

/** `ready`, or the socket's error or close, or 10 s, whichever comes first. */
async function settle(socket: WebSocket, ready: Promise<unknown>): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const broken = new Promise<never>((_resolve, reject) => {
    socket.once('error', reject);
    socket.once('close', (code) => reject(new Error(`closed (${code}) before it was ready`)));
    timer = setTimeout(() => reject(new Error('not ready after 10 s')), 10_000);
  });
  broken.catch(() => {});
  try {
    await Promise.race([ready, broken]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Opens `count` connections, `parallel` at a time. They stay open until `closeAll`; a connection
 * the server drops while idle is counted in `dropped`.
 */
export async function openIdle(open: IdleOpener, count: number, parallel = 100): Promise<{ sockets: WebSocket[]; dropped(): number; closeAll(): void }> {
  const sockets: WebSocket[] = [];
  let dropped = 0;
  let closing = false;
  let next = 0;
  const closeAll = () => {
    closing = true;
    for (const socket of sockets) socket.terminate();
  };
  try {
    await Promise.all(
      Array.from({ length: Math.min(parallel, count) }, async () => {
        while (next < count) {
          next++;
          const socket = await open();
          sockets.push(socket);
          socket.on('error', () => {});
          socket.on('close', () => {
            if (!closing) dropped++;
          });
        }
      }),
    );
  } catch (error) {
    closeAll();
    throw new Error(`opening idle WebSocket ${sockets.length + 1} of ${count} failed: ${(error as Error).message}`);
  }
  return { sockets, dropped: () => dropped, closeAll };
}
