/**
 * The bench's child processes and what it knows about them from /proc: CPU time, resident memory,
 * open-file limit. Everything started is registered with a `CleanUp`, undone on every way out.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { openSync, closeSync, readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';

/**
 * What a run has set up (child servers, databases, Redis keys, directories), undone in reverse
 * order, once, however the run ends.
 */
export class CleanUp {
  readonly #steps: (() => Promise<unknown>)[] = [];
  #running: Promise<void> | undefined;

  add(step: () => Promise<unknown>): void {
    this.#steps.push(step);
  }

  get started(): boolean {
    return this.#running !== undefined;
  }

  run(): Promise<void> {
    this.#running ??= (async () => {
      for (const step of this.#steps.splice(0).reverse()) {
        await step().catch((error: unknown) => console.error('clean-up step failed:', error));
      }
    })();
    return this.#running;
  }
}

/** Stops a child: SIGTERM, then SIGKILL if it is still there after 10 s. */
export async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

export interface NodeChild {
  readonly name: string;
  readonly child: ChildProcess;
  readonly pid: number;
  /** Rejects when the child exits, so a server that dies ends any wait for it. */
  readonly exited: Promise<never>;
  stop(): Promise<void>;
}

export interface SpawnOptions {
  readonly name: string;
  readonly script: string;
  readonly env?: NodeJS.ProcessEnv;
  /** Extra node flags before the script (`--trace-gc`, `--cpu-prof`, …). */
  readonly nodeArgs?: readonly string[];
  /** `pipe` to read it, `inherit`, or a file path that receives stdout and stderr. */
  readonly output: 'pipe' | 'inherit' | { readonly file: string };
}

/** A TypeScript script in a node process of its own, stopped at clean-up. */
export function spawnNode(cleanUp: CleanUp, options: SpawnOptions): NodeChild {
  let stdio: ('ignore' | 'pipe' | 'inherit' | number)[];
  let fd: number | undefined;
  if (typeof options.output === 'object') {
    fd = openSync(options.output.file, 'a');
    stdio = ['ignore', fd, fd];
  } else {
    stdio = ['ignore', options.output, 'inherit'];
  }
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), '--import', 'tsx', path.resolve(options.script)], {
    env: { ...process.env, ...options.env },
    stdio,
  });
  if (fd !== undefined) closeSync(fd);
  if (child.pid === undefined) throw new Error(`${options.name} could not be started`);
  const stop = () => stopChild(child);
  cleanUp.add(stop);
  const exited = new Promise<never>((_resolve, reject) => {
    child.once('exit', (code, signal) => reject(new Error(`${options.name} exited (${signal ?? code})`)));
  });
  exited.catch(() => {});
  return { name: options.name, child, pid: child.pid, exited, stop };
}

/** A baseline server: it prints `{"port":N}` on its first line once it listens. */
export async function startBaseline(cleanUp: CleanUp, name: string, script: string): Promise<NodeChild & { readonly port: number }> {
  const server = spawnNode(cleanUp, { name, script, output: 'pipe' });
  let buffered = '';
  server.child.stdout!.setEncoding('utf8');
  const port = new Promise<number>((resolve) => {
    server.child.stdout!.on('data', (chunk: string) => {
      buffered += chunk;
      const match = /"port":(\d+)/.exec(buffered);
      if (match) resolve(Number(match[1]));
    });
  });
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`${name} did not start within 60 s:\n${buffered}`)), 60_000);
  });
  try {
    return { ...server, port: await Promise.race([port, server.exited, timeout]) };
  } finally {
    clearTimeout(timer);
  }
}

/** Polls `url` until it answers 200; the time from `since` (ms, performance.now()) to then. */
export async function waitReady(url: string, server: NodeChild, since: number, timeoutMs = 120_000): Promise<number> {
  const deadline = since + timeoutMs;
  while (performance.now() < deadline) {
    const answer = await Promise.race([fetch(url, { signal: AbortSignal.timeout(5_000) }).catch(() => null), server.exited]);
    if (answer?.status === 200) return performance.now() - since;
    await answer?.body?.cancel();
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`${url} did not answer 200 within ${timeoutMs / 1000} s`);
}

export async function freePort(): Promise<number> {
  const server = net.createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

let clockTicks: number | undefined;

/** Clock ticks per second, the unit of /proc/<pid>/stat times. */
function ticksPerSecond(): number {
  if (clockTicks === undefined) {
    const value = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
    clockTicks = Number.isFinite(value) && value > 0 ? value : 100;
  }
  return clockTicks;
}

/** CPU seconds (user + system) a process has used: /proc/<pid>/stat fields 14 and 15. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may hold spaces; the fields after its closing parenthesis start at field 3.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond();
}

/** Resident memory in bytes: VmRSS of /proc/<pid>/status. */
export function rssBytes(pid: number): number {
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!match) throw new Error(`no VmRSS for process ${pid}`);
  return Number(match[1]) * 1024;
}

/** The soft limit on open files of a process (Node raises its own to the hard limit at start). */
export function openFileLimit(pid: number | 'self'): number {
  const match = /^Max open files\s+(\d+|unlimited)/m.exec(readFileSync(`/proc/${pid}/limits`, 'utf8'));
  if (!match) throw new Error(`no open-file limit for process ${pid}`);
  return match[1] === 'unlimited' ? Number.POSITIVE_INFINITY : Number(match[1]);
}
