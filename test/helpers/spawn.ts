import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { stripVTControlCharacters } from 'node:util';
import { TEST_ENV } from './gateway.ts';

/**
 * How the gateway process is started:
 * - `node`: `src/main.ts` as its own process, as `npm start` runs it;
 * - `npm`: `npm start` in a process group of its own, as a supervisor runs it;
 * - `terminal`: `npm start` on a pseudo-terminal (util-linux `script`), as a person runs it; what is
 *   written to {@link SpawnedGateway.type} is typed at that terminal.
 */
export type SpawnVia = 'node' | 'npm' | 'terminal';

export interface SpawnedGateway {
  readonly process: ChildProcess;
  readonly url: string;
  /** Every line the process wrote to stdout and stderr so far (terminal output without carriage returns). */
  readonly output: string[];
  /** The exit code of the process started (npm's, or `script`'s, which is that of `npm start`). */
  readonly exited: Promise<number | null>;
  /** Sends the signal (to the whole process group for `npm`) and resolves with the exit code and the time it took. */
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; ms: number }>;
  /** Signals the process group without waiting (`npm` only). */
  signalGroup(signal: NodeJS.Signals): void;
  /** Types at the terminal (`terminal` only): `\x03` is Ctrl-C. */
  type(text: string): void;
}

/** The output as a person reads it: no colours, no carriage returns. */
export function plainText(line: string): string {
  return stripVTControlCharacters(line).replace(/\r/g, '');
}

function start(via: SpawnVia, env: Record<string, string | undefined>): ChildProcess {
  const options = { env: { ...process.env, ...TEST_ENV, LOG_LEVEL: 'info', ...env }, cwd: path.resolve('.') };
  if (via === 'node') {
    return spawn(process.execPath, ['--import', 'tsx', path.resolve('src/main.ts')], { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
  }
  if (via === 'npm') return spawn('npm', ['start'], { ...options, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  // -q: no banner, -f: flush at once, -e: exit with the command's code; the typescript goes nowhere.
  return spawn('script', ['-qfec', 'npm start', '/dev/null'], { ...options, detached: true, stdio: ['pipe', 'pipe', 'pipe'] });
}

/**
 * Starts the gateway and waits until it listens (its "gateway listening" line, JSON or pretty).
 * `timeoutMs` bounds the start: a fresh embedded database (PGlite) takes about 10 s on a loaded
 * 2-core machine, and the process suite starts three at once.
 */
export async function spawnGateway(env: Record<string, string | undefined>, via: SpawnVia = 'node', timeoutMs = 75_000): Promise<SpawnedGateway> {
  const child = start(via, env);
  const output: string[] = [];
  const exited = once(child, 'exit').then(([code]) => code as number | null);
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      // Nothing may outlive the test: the process (and its group, when it has one) goes.
      try {
        if (via === 'node') child.kill('SIGKILL');
        else process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // already gone
      }
      reject(new Error(`gateway did not start within ${timeoutMs} ms:\n${output.join('\n')}`));
    }, timeoutMs);
    const onLine = (line: string) => {
      output.push(line);
      const text = plainText(line);
      const previous = plainText(output[output.length - 2] ?? '');
      const match = text.includes('gateway listening')
        ? /"url":"(http:\/\/[^"]+)"/.exec(text)
        : previous.includes('gateway listening')
          ? /^\s+url: "(http:\/\/[^"]+)"/.exec(text)
          : null;
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    };
    for (const stream of [child.stdout!, child.stderr!]) {
      let pending = '';
      stream.setEncoding('utf8');
      stream.on('data', (chunk: string) => {
        pending += chunk;
        const lines = pending.split('\n');
        pending = lines.pop()!;
        lines.forEach((line) => onLine(line.replace(/\r$/, '')));
      });
    }
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`gateway exited with ${code} before listening:\n${output.join('\n')}`));
    });
  });
  const signalGroup = (signal: NodeJS.Signals) => {
    if (via === 'node') throw new Error('signalGroup needs a gateway started in its own process group');
    try {
      process.kill(-child.pid!, signal);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
    }
  };
  return {
    process: child,
    url,
    output,
    exited,
    signalGroup,
    type(text) {
      if (via !== 'terminal') throw new Error('type needs a gateway started on a terminal');
      child.stdin!.write(text);
    },
    async stop(signal = 'SIGTERM') {
      const started = Date.now();
      if (child.exitCode === null) {
        if (via === 'node') child.kill(signal);
        else signalGroup(signal);
      }
      const code = await exited;
      return { code, ms: Date.now() - started };
    },
  };
}

/** Runs `src/main.ts` to completion (for configurations that must refuse to start). */
export async function runGateway(env: Record<string, string | undefined>, timeoutMs = 30_000): Promise<{ code: number | null; output: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', path.resolve('src/main.ts')], {
    env: { ...process.env, ...TEST_ENV, LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const [code] = (await once(child, 'exit')) as [number | null];
  clearTimeout(timer);
  return { code, output };
}
