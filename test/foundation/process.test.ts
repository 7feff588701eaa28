import { once } from 'node:events';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { createClient as createWsClient } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { ROOT_PASSWORD } from '../helpers/gateway.ts';
import { createTestDatabase } from '../helpers/services.ts';
import { plainText, runGateway, spawnGateway, type SpawnedGateway } from '../helpers/spawn.ts';
import { ROOT_PASSWORD_FILE } from '../../src/root-password-notice.ts';

const STACK_FRAME = '    at ';
/** The embedded defaults, whatever the environment of the test run says. */
const EMBEDDED = { DATABASE_URL: undefined, REDIS_URL: undefined, NODE_ENV: 'development', PORT: '0' };

let dataDir: string;
/**
 * Started first and together, so that their slow starts (a fresh embedded database each) overlap
 * each other and the quick refusals: `src/main.ts` run directly without ROOT_PASSWORD, so that it
 * generates one; `npm start` in its own process group, as a supervisor runs it; `npm start` on a
 * terminal, without ROOT_PASSWORD.
 */
let starting: Promise<SpawnedGateway>;
let npmStarting: Promise<SpawnedGateway>;
let terminalStarting: Promise<SpawnedGateway>;
const dirOf = (name: string) => path.join(dataDir, name);
beforeAll(async () => {
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'gateway-process-'));
  starting = spawnGateway({ ...EMBEDDED, DATA_DIR: dirOf('running'), ROOT_PASSWORD: undefined });
  npmStarting = spawnGateway({ ...EMBEDDED, DATA_DIR: dirOf('npm') }, 'npm');
  terminalStarting = spawnGateway({ ...EMBEDDED, DATA_DIR: dirOf('terminal'), ROOT_PASSWORD: undefined }, 'terminal');
  for (const gateway of [starting, npmStarting, terminalStarting]) gateway.catch(() => {}); // reported by the suite that awaits it
});
afterAll(async () => {
  const gateways = await Promise.all([starting, npmStarting, terminalStarting].map((gateway) => gateway?.catch(() => undefined)));
  for (const gateway of gateways) if (gateway && gateway.process.exitCode === null) await gateway.stop('SIGKILL');
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

/** Resolves once `condition` holds, checking every 20 ms. */
async function until(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const printed = (gateway: SpawnedGateway, text: string) => gateway.output.some((line) => plainText(line).includes(text));

/** A graphql-ws client on an endless subscription; resolves `closed` with the close code. */
async function subscribeTicks(url: string): Promise<{ closed: Promise<number> }> {
  let ticking: () => void = () => {};
  const firstTick = new Promise<void>((resolve) => (ticking = resolve));
  const closed = new Promise<number>((resolve) => {
    const client = createWsClient({
      url: `${url.replace('http', 'ws')}/graphql`,
      webSocketImpl: WebSocket,
      retryAttempts: 0,
      on: { closed: (event) => resolve((event as { code: number }).code) },
    });
    // An endless subscription keeps the connection busy until the server goes away.
    client.subscribe({ query: 'subscription { ticks(intervalMs: 50) { sequence } }' }, {
      next: () => ticking(),
      error: () => {},
      complete: () => {},
    });
  });
  await firstTick;
  return { closed };
}

describe.concurrent('the gateway process refuses to start', () => {
  it('with invalid variables: exit 1, every bad variable named, no stack trace', async () => {
    const { code, output } = await runGateway({ ...EMBEDDED, DATA_DIR: dataDir, PORT: 'abc', LOG_LEVEL: 'loud' });
    expect(code).toBe(1);
    expect(output).toMatch(/PORT must be an integer/);
    expect(output).toMatch(/LOG_LEVEL must be one of/);
    expect(output).not.toContain(STACK_FRAME);
  });

  it('with NODE_ENV=production and no URLs: exit 1, naming DATABASE_URL and REDIS_URL', async () => {
    const { code, output } = await runGateway({ ...EMBEDDED, DATA_DIR: dataDir, NODE_ENV: 'production' });
    expect(code).toBe(1);
    expect(output).toMatch(/DATABASE_URL is required when NODE_ENV=production/);
    expect(output).toMatch(/REDIS_URL is required when NODE_ENV=production/);
    expect(output).not.toContain(STACK_FRAME);
  });

  it('when PostgreSQL cannot be reached: exit 1 with a short reason, no stack trace', async () => {
    const { code, output } = await runGateway({
      ...EMBEDDED,
      DATA_DIR: dataDir,
      DATABASE_URL: 'postgres://postgres@127.0.0.1:1/x',
    });
    expect(code).toBe(1);
    expect(output).toContain('cannot reach PostgreSQL');
    expect(output).toContain('127.0.0.1:1');
    expect(output).not.toContain(STACK_FRAME);
  });

  it('without ROOT_PASSWORD when the file for the generated one cannot be written: exit 1, naming the file', async () => {
    const database = await createTestDatabase();
    try {
      const notADirectory = path.join(dataDir, 'not-a-directory');
      await writeFile(notADirectory, '');
      const file = path.join(notADirectory, 'data', ROOT_PASSWORD_FILE);
      const { code, output } = await runGateway({ ...EMBEDDED, DATABASE_URL: database.url, ROOT_PASSWORD: undefined, DATA_DIR: path.dirname(file) });
      expect(code).toBe(1);
      expect(output).toContain(`cannot write the generated root password to ${file}`);
      expect(output).toContain('make DATA_DIR writable or set ROOT_PASSWORD');
      expect(output).not.toContain(STACK_FRAME);
    } finally {
      await database.drop();
    }
  });
});

/** POST /graphql whose body is sent in two parts; resolves once the server has taken the request. */
async function startSplitRequest(url: string, body: string) {
  const cut = Math.floor(body.length / 2);
  const req = http.request(`${url}/graphql`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(body),
      // The server answers 100 Continue when its handler has the request: a sure sign it is in flight.
      expect: '100-continue',
    },
  });
  const response = new Promise<{ status: number; body: string }>((resolve, reject) => {
    req.on('response', (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      res.on('error', reject);
    });
    req.on('error', reject);
  });
  req.flushHeaders();
  await once(req, 'continue');
  req.write(body.slice(0, cut));
  return {
    response,
    finish: () => req.end(body.slice(cut)),
  };
}

describe('a running embedded gateway process', () => {
  let gateway: SpawnedGateway;

  beforeAll(async () => {
    gateway = await starting;
  });

  it('serves while it runs', async () => {
    const res = await fetch(`${gateway.url}/healthz`, { headers: { authorization: 'Bearer not-a-real-token-0123456789' } });
    expect(res.status).toBe(200);
    const query = await fetch(`${gateway.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer not-a-real-token-0123456789' },
      body: JSON.stringify({ query: '{ serverTime }' }),
    });
    expect(query.status).toBe(200);
  });

  it('logs JSON lines when stdout is not a terminal', () => {
    expect(gateway.output.length).toBeGreaterThan(3);
    for (const line of gateway.output) {
      const record = JSON.parse(line) as Record<string, unknown>;
      expect(record).toMatchObject({ level: expect.any(Number), time: expect.any(String), msg: expect.any(String) });
    }
  });

  it('hands a generated root password over in a file only its user can read, and logs where it is', async () => {
    const file = path.join(dirOf('running'), ROOT_PASSWORD_FILE);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect((await readFile(file, 'utf8')).trim()).toMatch(/^[A-Za-z0-9_-]{16}$/);
    const notices = gateway.output.map((line) => JSON.parse(line) as { level: number; msg: string; file?: string }).filter((record) => record.file);
    expect(notices).toEqual([expect.objectContaining({ level: 40, file, msg: expect.stringMatching(/generated a password for the root user/) })]);
    const signIn = await fetch(`${gateway.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        query: 'mutation($p: String!) { signIn(input: { username: "root", password: $p }) { __typename } }',
        variables: { p: (await readFile(file, 'utf8')).trim() },
      }),
    });
    expect(await signIn.json()).toEqual({ data: { signIn: { __typename: 'SignInPayload' } } });
  });

  it('drains on SIGTERM: the in-flight request completes, WebSockets close with 1001, exit 0 within 10 s', async () => {
    const ws = await subscribeTicks(gateway.url);
    const inFlight = await startSplitRequest(gateway.url, JSON.stringify({ query: '{ serverTime }' }));
    const stopped = gateway.stop('SIGTERM');
    expect(await ws.closed).toBe(1001);
    // The server is already shutting down when the rest of the body arrives.
    inFlight.finish();
    const answer = await inFlight.response;
    expect(answer.status).toBe(200);
    expect((JSON.parse(answer.body) as { data: { serverTime: string } }).data.serverTime).toMatch(/^\d{4}-/);

    const { code, ms } = await stopped;
    expect(code).toBe(0);
    expect(ms).toBeLessThan(10_000);
    expect(gateway.output.join('\n')).toContain('gateway stopped');
  });
});

describe('`npm start` signalled as a process group (as supervisors do)', () => {
  it('drains whatever number of SIGTERMs arrive: the in-flight request completes, WebSockets close with 1001, exit 0', async () => {
    const gateway = await npmStarting;
    const ws = await subscribeTicks(gateway.url);
    const inFlight = await startSplitRequest(gateway.url, JSON.stringify({ query: '{ serverTime }' }));
    const started = Date.now();
    // npm, the gateway and everything else in the group get it; npm passes it on once more.
    gateway.signalGroup('SIGTERM');
    expect(await ws.closed).toBe(1001);
    await until(() => printed(gateway, '"msg":"shutting down"'), 'the drain to start');
    // A supervisor that repeats itself while the drain goes on.
    gateway.signalGroup('SIGTERM');
    await until(() => printed(gateway, '"msg":"already shutting down"'), 'the repeated signal to be seen');
    expect(gateway.process.exitCode).toBeNull();

    inFlight.finish();
    const answer = await inFlight.response;
    expect(answer.status).toBe(200);
    expect((JSON.parse(answer.body) as { data: { serverTime: string } }).data.serverTime).toMatch(/^\d{4}-/);
    expect(await gateway.exited).toBe(0);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(printed(gateway, '"msg":"gateway stopped"')).toBe(true);
    expect(printed(gateway, 'exiting now')).toBe(false);
    // Nothing of the group is left running.
    expect(() => process.kill(-gateway.process.pid!, 0)).toThrow(expect.objectContaining({ code: 'ESRCH' }));
  });
});

describe('`npm start` in a terminal', () => {
  let gateway: SpawnedGateway;
  beforeAll(async () => {
    gateway = await terminalStarting;
  });

  it('prints readable log lines, not JSON', () => {
    const lines = gateway.output.map(plainText);
    expect(lines).toContainEqual(expect.stringMatching(/^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: gateway listening$/));
    expect(lines).toContainEqual(`    url: "${gateway.url}"`);
    expect(lines.filter((line) => line.startsWith('{'))).toEqual([]);
  });

  it('shows the generated root password on a line of its own, the one in the owner-only file', async () => {
    const file = path.join(dirOf('terminal'), ROOT_PASSWORD_FILE);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    const password = (await readFile(file, 'utf8')).trim();
    const lines = gateway.output.map(plainText);
    const at = lines.indexOf(`      ${password}`);
    expect(at).toBeGreaterThan(0);
    expect(lines.slice(at - 3, at + 2)).toEqual(['', `  Generated password for the root user (also in ${file}):`, '', `      ${password}`, '']);
    expect(lines.filter((line) => line.includes(password))).toHaveLength(1);
  });

  it('drains on Ctrl-C, also when the press arrives twice; a second press a moment later exits at once', async () => {
    const inFlight = await startSplitRequest(gateway.url, JSON.stringify({ query: '{ serverTime }' }));
    inFlight.response.catch(() => {}); // cut off by the second press
    gateway.type('\x03');
    await until(() => printed(gateway, 'INFO: shutting down'), 'the drain to start');
    // A press reaches npm and the gateway, and npm passes it on: a SIGINT that follows closely is the same press.
    await new Promise((resolve) => setTimeout(resolve, 200));
    gateway.type('\x03');
    await until(() => printed(gateway, 'INFO: already shutting down'), 'the repeated interrupt to be seen');
    await new Promise((resolve) => setTimeout(resolve, 1300));
    expect(gateway.process.exitCode).toBeNull();
    expect(printed(gateway, 'exiting now')).toBe(false);

    gateway.type('\x03');
    // The gateway exits with 1. npm passes that on, unless the press reaches npm only after the
    // gateway has gone: npm has then stopped forwarding signals and dies of the SIGINT itself (130).
    expect([1, 130]).toContain(await gateway.exited);
    expect(printed(gateway, 'WARN: interrupted again: exiting now')).toBe(true);
    expect(printed(gateway, 'gateway stopped')).toBe(false);
  });
});

describe('the log (all that a gateway not on a terminal printed)', () => {
  it('holds no password and no token', async () => {
    const outputs = await Promise.all([starting, npmStarting]);
    const generated = (await readFile(path.join(dirOf('running'), ROOT_PASSWORD_FILE), 'utf8')).trim();
    const lines = outputs.flatMap((gateway) => gateway.output);
    expect(lines.some((line) => line.includes('gateway listening'))).toBe(true);
    for (const secret of [generated, ROOT_PASSWORD, 'not-a-real-token']) {
      expect(lines.filter((line) => line.includes(secret))).toEqual([]);
    }
    // The one line that speaks of a password says where it is, and nothing else does.
    expect(lines.filter((line) => /password/i.test(line))).toEqual([expect.stringContaining(`"file":"${path.join(dirOf('running'), ROOT_PASSWORD_FILE)}"`)]);
  });
});
