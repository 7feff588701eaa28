import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { createClient as createWsClient } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { ROOT_PASSWORD } from '../helpers/gateway.ts';
import { runGateway, spawnGateway, type SpawnedGateway } from '../helpers/spawn.ts';

const STACK_FRAME = '    at ';
/** The embedded defaults, whatever the environment of the test run says. */
const EMBEDDED = { DATABASE_URL: undefined, REDIS_URL: undefined, NODE_ENV: 'development', PORT: '0' };

let dataDir: string;
/** Started first, so that its slow start (a fresh embedded database) overlaps the quick refusals. */
let starting: Promise<SpawnedGateway>;
beforeAll(async () => {
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'gateway-process-'));
  starting = spawnGateway({ ...EMBEDDED, DATA_DIR: path.join(dataDir, 'running') });
  starting.catch(() => {}); // reported by the suite that awaits it
});
afterAll(async () => {
  const gateway = await starting?.catch(() => undefined);
  if (gateway && gateway.process.exitCode === null) await gateway.stop('SIGKILL');
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

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

  it('drains on SIGTERM: the in-flight request completes, WebSockets close with 1001, exit 0 within 10 s', async () => {
    let closeCode: number | undefined;
    let ticking: () => void = () => {};
    const firstTick = new Promise<void>((resolve) => (ticking = resolve));
    const wsClosed = new Promise<void>((resolve) => {
      const client = createWsClient({
        url: `${gateway.url.replace('http', 'ws')}/graphql`,
        webSocketImpl: WebSocket,
        retryAttempts: 0,
        on: {
          closed: (event) => {
            closeCode = (event as { code: number }).code;
            resolve();
          },
        },
      });
      // An endless subscription keeps the connection busy until the server goes away.
      client.subscribe({ query: 'subscription { ticks(intervalMs: 50) { sequence } }' }, {
        next: () => ticking(),
        error: () => {},
        complete: () => {},
      });
    });
    await firstTick;

    const inFlight = await startSplitRequest(gateway.url, JSON.stringify({ query: '{ serverTime }' }));
    const stopped = gateway.stop('SIGTERM');
    await wsClosed;
    expect(closeCode).toBe(1001);
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

  it('printed no password and no token at info level', () => {
    // Another engineer adds a line announcing a generated root password; it is not judged here.
    const rootPasswordLine = /\broot\b.*password|password.*\broot\b/i;
    const lines = gateway.output.filter((line) => !rootPasswordLine.test(line));
    expect(lines.some((line) => line.includes('gateway listening'))).toBe(true);
    expect(lines.filter((line) => /password/i.test(line))).toEqual([]);
    expect(lines.filter((line) => line.includes(ROOT_PASSWORD))).toEqual([]);
    expect(lines.filter((line) => line.includes('not-a-real-token'))).toEqual([]);
  });
});
