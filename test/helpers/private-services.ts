import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { chmod, chown, mkdtemp, readdir, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** A TCP port nobody listens on right now. */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function waitFor(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${what} did not come up within ${timeoutMs} ms`);
}

/** A Redis server of the test's own, on a free port; it can be stopped and started again on that port. */
export class PrivateRedis {
  readonly port: number;
  #process: ChildProcess | undefined;

  private constructor(port: number) {
    this.port = port;
  }

  static async start(): Promise<PrivateRedis> {
    const redis = new PrivateRedis(await freePort());
    await redis.start();
    return redis;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}/0`;
  }

  async start(): Promise<void> {
    this.#process = spawn('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
      stdio: 'ignore',
    });
    await waitFor(async () => (await run('redis-cli', ['-p', String(this.port), 'ping'])).stdout.trim() === 'PONG', 10_000, 'redis-server');
  }

  async stop(): Promise<void> {
    const child = this.#process;
    this.#process = undefined;
    if (!child || child.exitCode !== null) return;
    child.kill('SIGKILL');
    await once(child, 'exit');
  }
}

/**
 * A PostgreSQL server of the test's own: `initdb` into a temporary directory and `pg_ctl` on a free
 * port, so it can be stopped and started without touching the machine's. PostgreSQL refuses to
 * run as root, so when the tests run as root the server runs as the `postgres` user (runuser).
 */
export class PrivatePostgres {
  readonly port: number;
  readonly #dir: string;
  readonly #bin: string;
  readonly #asUser: string | undefined;

  private constructor(port: number, dir: string, bin: string, asUser: string | undefined) {
    this.port = port;
    this.#dir = dir;
    this.#bin = bin;
    this.#asUser = asUser;
  }

  static async start(): Promise<PrivatePostgres> {
    const versions = (await readdir('/usr/lib/postgresql')).sort((a, b) => Number(b) - Number(a));
    if (versions.length === 0) throw new Error('no PostgreSQL binaries under /usr/lib/postgresql/*/bin');
    const bin = `/usr/lib/postgresql/${versions[0]}/bin`;
    const dir = await mkdtemp(path.join(tmpdir(), 'gw-pg-'));
    const asUser = userInfo().uid === 0 ? 'postgres' : undefined;
    if (asUser) {
      const { stdout } = await run('id', ['-u', asUser]);
      const { stdout: gid } = await run('id', ['-g', asUser]);
      await chown(dir, Number(stdout.trim()), Number(gid.trim()));
      await chmod(dir, 0o700);
    }
    const postgres = new PrivatePostgres(await freePort(), dir, bin, asUser);
    await postgres.#run('initdb', ['-D', path.join(dir, 'data'), '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync']);
    await postgres.start();
    return postgres;
  }

  get url(): string {
    return `postgres://postgres@127.0.0.1:${this.port}/postgres`;
  }

  async start(): Promise<void> {
    const options = `-p ${this.port} -c listen_addresses=127.0.0.1 -k ${this.#dir} -c fsync=off -c max_connections=60`;
    await this.#run('pg_ctl', ['-D', path.join(this.#dir, 'data'), '-o', options, '-l', path.join(this.#dir, 'log'), '-w', 'start']);
  }

  /** Stops at once (`-m immediate`): open connections are cut, as when the server crashes. */
  async stop(mode: 'fast' | 'immediate' = 'immediate'): Promise<void> {
    await this.#run('pg_ctl', ['-D', path.join(this.#dir, 'data'), '-m', mode, '-w', 'stop']);
  }

  async remove(): Promise<void> {
    await this.stop().catch(() => {});
    await rm(this.#dir, { recursive: true, force: true });
  }

  async #run(command: string, args: string[]): Promise<void> {
    const binary = path.join(this.#bin, command);
    if (this.#asUser) await run('runuser', ['-u', this.#asUser, '--', binary, ...args], { cwd: this.#dir });
    else await run(binary, args, { cwd: this.#dir });
  }
}
