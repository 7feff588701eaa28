/**
 * One notification to N users, each with an open graphql-ws `notificationAdded` subscription on
 * one gateway: the time from sending the mutation until the last subscriber has it, and the
 * gateway's RSS per idle subscribed connection. Users and their sessions are written straight to
 * the database (signing 10,000 users in at the production argon2 cost would take minutes).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { sql } from 'drizzle-orm';
import WebSocket from 'ws';
import { openDatabase } from '../src/db/client.ts';
import { sessions, users } from '../src/db/schema.ts';
import { issueToken, TokenType } from '../src/domain/tokens.ts';
import { signInRoot, startGateway, type GatewayStart } from './gateway-process.ts';
import { cpuSeconds, openFileLimit, rssBytes, type CleanUp } from './processes.ts';
import { wsOptions } from './load.ts';

export interface FanoutResult {
  readonly subscribers: number;
  /** Sending the mutation → its answer (the rows are committed and the message published). */
  readonly mutationMs: number;
  /** Sending the mutation → the first / the median / the last subscriber's `next` frame. */
  readonly firstMs: number;
  readonly medianMs: number;
  readonly lastMs: number;
  readonly missing: number;
  /** CPU the gateway process spent from the mutation until the last subscriber had it (of one core). */
  readonly gatewayCpuSeconds: number;
  readonly rssBefore: number;
  readonly rssAfter: number;
  /** Opening and subscribing every connection. */
  readonly openSeconds: number;
}

const SUBSCRIPTION = JSON.stringify({
  id: '1',
  type: 'subscribe',
  payload: { query: 'subscription { notificationAdded { id subject } }' },
});

/** Inserts `count` users with one session each; returns their ids and session tokens. */
async function seedUsers(databaseUrl: string, count: number): Promise<{ ids: string[]; tokens: string[] }> {
  const database = await openDatabase({ kind: 'postgres', url: databaseUrl, maxConnections: 2 });
  try {
    const ids: string[] = [];
    const tokens: string[] = [];
    const expiresAt = new Date(Date.now() + 24 * 3600 * 1000);
    for (let start = 0; start < count; start += 1000) {
      const size = Math.min(1000, count - start);
      const stamp = `${Date.now().toString(36)}-${start}`;
      const rows = await database.db
        .insert(users)
        .values(Array.from({ length: size }, (_, i) => ({ name: `fanout-${stamp}-${i}` })))
        .returning({ id: users.id });
      const sessionIds = (await database.db.execute(
        sql`select nextval(pg_get_serial_sequence('sessions', 'id'))::text as id from generate_series(1, ${size})`,
      )) as unknown as { id: string }[];
      const values = rows.map((row, i) => {
        const id = sessionIds[i]!.id;
        const { token, secretHash } = issueToken(TokenType.session, id);
        tokens.push(token);
        ids.push(row.id);
        return { id, userId: row.id, secretHash, expiresAt };
      });
      await database.db.insert(sessions).values(values);
    }
    return { ids, tokens };
  } finally {
    await database.close();
  }
}

interface Subscriber {
  readonly socket: WebSocket;
  receivedAt: number | null;
}

async function openSubscriber(url: string, token: string): Promise<Subscriber> {
  const socket = new WebSocket(url, 'graphql-transport-ws', wsOptions());
  const subscriber: Subscriber = { socket, receivedAt: null };
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('not subscribed after 30 s')), 30_000);
    socket.on('message', (data) => {
      const type = (JSON.parse(data.toString()) as { type?: string }).type;
      if (type === 'connection_ack') {
        socket.send(SUBSCRIPTION);
        clearTimeout(timer);
        resolve();
      } else if (type === 'next') {
        subscriber.receivedAt ??= performance.now();
      } else if (type === 'error') {
        reject(new Error(`subscription refused: ${data.toString()}`));
      }
    });
    socket.once('open', () => socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${token}` } })));
    socket.once('error', reject);
    socket.once('close', (code) => reject(new Error(`closed (${code}) before it subscribed`)));
  });
  return subscriber;
}

export async function measureNotificationFanout(cleanUp: CleanUp, start: GatewayStart, count: number, progress: (line: string) => void): Promise<FanoutResult> {
  if (start.mode.kind !== 'production') throw new Error('the fan-out bench runs on PostgreSQL and Redis');
  const needed = count + 200;
  if (openFileLimit('self') < needed) throw new Error(`this process may open ${openFileLimit('self')} files, ${count} subscribers need ${needed}: raise ulimit -n`);
  const gateway = await startGateway(cleanUp, start);
  const subscribers: Subscriber[] = [];
  try {
    const root = await signInRoot(gateway.url);
    const seeded = performance.now();
    const { ids, tokens } = await seedUsers(start.mode.databaseUrl, count);
    progress(`fan-out  ${count} users and sessions written in ${((performance.now() - seeded) / 1000).toFixed(1)} s`);
    const url = `${gateway.url.replace('http', 'ws')}/graphql`;
    // Warm the code paths, then measure memory around the rest.
    for (const token of tokens.slice(0, 50)) subscribers.push(await openSubscriber(url, token));
    await sleep(1000);
    const rssBefore = rssBytes(gateway.pid);
    const opening = performance.now();
    let next = 50;
    await Promise.all(
      Array.from({ length: 50 }, async () => {
        while (next < tokens.length) subscribers.push(await openSubscriber(url, tokens[next++]!));
      }),
    );
    const openSeconds = (performance.now() - opening) / 1000;
    // The last subscribe frames reach the server's listener registry.
    await sleep(3000);
    const rssAfter = rssBytes(gateway.pid);
    progress(`fan-out  ${count} subscriptions open in ${openSeconds.toFixed(1)} s; RSS ${(rssBefore / 2 ** 20).toFixed(0)} → ${(rssAfter / 2 ** 20).toFixed(0)} MiB`);

    const cpuBefore = cpuSeconds(gateway.pid);
    const sent = performance.now();
    const response = await fetch(`${gateway.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${root}` },
      body: JSON.stringify({
        query: 'mutation($ids: [ID!]!) { sendNotification(input: { userIds: $ids, subject: "Fan-out", body: "to everyone" }) { ... on SendNotificationPayload { recipients } } }',
        variables: { ids },
      }),
    });
    const answer = (await response.json()) as { data?: { sendNotification?: { recipients?: number } } };
    const mutationMs = performance.now() - sent;
    if (answer.data?.sendNotification?.recipients !== count) throw new Error(`sendNotification answered ${JSON.stringify(answer)}`);
    const deadline = performance.now() + 30_000;
    while (subscribers.some((subscriber) => subscriber.receivedAt === null) && performance.now() < deadline) await sleep(5);
    const gatewayCpuSeconds = cpuSeconds(gateway.pid) - cpuBefore;
    const times = subscribers
      .map((subscriber) => subscriber.receivedAt)
      .filter((at): at is number => at !== null)
      .map((at) => at - sent)
      .sort((a, b) => a - b);
    const result: FanoutResult = {
      subscribers: count,
      mutationMs,
      firstMs: times[0] ?? Number.NaN,
      medianMs: times[Math.floor(times.length / 2)] ?? Number.NaN,
      lastMs: times.at(-1) ?? Number.NaN,
      missing: count - times.length,
      gatewayCpuSeconds,
      rssBefore,
      rssAfter,
      openSeconds,
    };
    progress(
      `fan-out  mutation ${mutationMs.toFixed(0)} ms, first ${result.firstMs.toFixed(0)} ms, last ${result.lastMs.toFixed(0)} ms, missing ${result.missing}, gateway CPU ${gatewayCpuSeconds.toFixed(2)} s`,
    );
    return result;
  } finally {
    for (const subscriber of subscribers) subscriber.socket.terminate();
    await gateway.stop();
  }
}

export function fanoutTable(result: FanoutResult): string {
  const perConnection = (result.rssAfter - result.rssBefore) / (result.subscribers - 50) / 1024;
  return [
    '| subscribers | mutation answered | first has it | median | last has it | missing | gateway CPU | RSS per idle subscribed connection |',
    '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    `| ${result.subscribers} | ${result.mutationMs.toFixed(0)} ms | ${result.firstMs.toFixed(0)} ms | ${result.medianMs.toFixed(0)} ms | ${result.lastMs.toFixed(0)} ms | ${result.missing} | ${result.gatewayCpuSeconds.toFixed(2)} s | ${perConnection.toFixed(1)} KiB |`,
  ].join('\n');
}
