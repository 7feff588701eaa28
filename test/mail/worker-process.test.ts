import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Db } from '../../src/db/client.ts';
import { ROOT_PASSWORD, type TestGateway } from '../helpers/gateway.ts';
import { createUser, gql, ok, rootSession, waitFor } from '../helpers/graphql.ts';
import {
  configureMail,
  gate,
  outboxRowsTo,
  SMTP_PASSWORD,
  SMTP_USER,
  spawnWorker,
  startMailGateway,
  uniqueAddress,
  waitForStatus,
  type SpawnedWorker,
} from '../helpers/mail.ts';
import { TestSmtp } from '../helpers/smtp.ts';

/**
 * Workers as their own processes (`npm run worker`) beside a gateway that runs none
 * (MAIL_WORKER=off), on PostgreSQL and Redis: a worker killed in the middle of a send and
 * restarted loses nothing and sends nothing twice; two worker processes share the rows.
 */

const REQUEST_RESET = `mutation($u: String!) { sendPasswordResetEmail(user: $u) { accepted } }`;
/** Short leases, so a killed worker's rows come back quickly. */
const WORKER_ENV = { MAIL_LEASE_MS: '2000', MAIL_RELAY_INTERVAL_MS: '300' };

// Each test starts worker processes (tsx compiles on start: seconds on a busy machine).
describe('mail worker processes (production)', { timeout: 90_000 }, () => {
  let smtp: TestSmtp;
  let gw: TestGateway;
  let root: string;
  const workers: SpawnedWorker[] = [];
  const atRecipient = new Map<string, ReturnType<typeof gate>>();
  const atReply = new Map<string, ReturnType<typeof gate>>();

  beforeAll(async () => {
    smtp = await TestSmtp.start({
      users: { [SMTP_USER]: SMTP_PASSWORD },
      onRecipient: (address) => atRecipient.get(address)?.wait() ?? Promise.resolve(),
      beforeReply: (session) => atReply.get(session.envelope.rcptTo[0]?.address ?? '')?.wait() ?? Promise.resolve(),
    });
    gw = await startMailGateway('production', smtp, { env: { MAIL_WORKER: 'off' } });
    root = await rootSession(gw, ROOT_PASSWORD);
    await configureMail(gw, root);
  });
  afterAll(async () => {
    for (const stall of [...atRecipient.values(), ...atReply.values()]) stall.open();
    await Promise.all(workers.map((worker) => worker.kill()));
    await gw?.close();
    await smtp?.stop();
  });

  async function startWorker(): Promise<SpawnedWorker> {
    const worker = await spawnWorker(gw, WORKER_ENV);
    workers.push(worker);
    return worker;
  }

  async function requestReset(email: string): Promise<void> {
    await createUser(gw, root, { email });
    ok(await gql(gw, REQUEST_RESET, { u: email }, null));
  }

  it('a worker killed in the middle of a send and restarted: the message arrives once', async () => {
    const worker = await startWorker();
    const email = uniqueAddress('killed');
    const stall = gate();
    atRecipient.set(email, stall);
    await requestReset(email);
    await waitFor(async () => stall.waiting > 0, 15_000);
    expect((await outboxRowsTo(gw, email))[0]).toMatchObject({ status: 'sending', attempts: 1, handedOverAt: null });
    await worker.kill();
    atRecipient.delete(email);
    stall.open();
    await startWorker();
    await smtp.waitFor((m) => m.to.includes(email), 1, 20_000);
    expect(await waitForStatus(gw, email, 'sent')).toMatchObject({ attempts: 2 });
    await new Promise((resolve) => setTimeout(resolve, 700));
    expect(smtp.to(email)).toHaveLength(1);
  });

  it("a worker killed after handing the message over: 'uncertain', never sent again by itself", async () => {
    const email = uniqueAddress('handed-over');
    const stall = gate();
    atReply.set(email, stall);
    const worker = workers.at(-1)!;
    await requestReset(email);
    await waitFor(async () => stall.waiting > 0, 15_000);
    expect((await outboxRowsTo(gw, email))[0]).toMatchObject({ status: 'sending', handedOverAt: expect.any(Date) });
    await worker.kill();
    stall.open();
    await startWorker();
    const row = await waitForStatus(gw, email, 'uncertain', 15_000);
    expect(row.lastReply).toMatch(/whether it was accepted is unknown/);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    // The server got the data once (it answered too late for the dead worker); nobody sent it again.
    expect(smtp.to(email).length).toBeLessThanOrEqual(1);
    expect((await outboxRowsTo(gw, email))[0]!.attempts).toBe(1);
  });

  it('two worker processes racing for the same rows send each message once', async () => {
    await startWorker();
    const prefix = `procs-${Date.now().toString(36)}`;
    const domain = gw.gateway.domain;
    const ids = await gw.gateway.database.db.transaction(async (tx) => {
      const made: string[] = [];
      for (let i = 0; i < 60; i++) {
        made.push(await domain.outbox.insert(tx as unknown as Db, { recipient: `${prefix}-${i}@example.test`, template: 'password-reset', subject: `p ${i}`, text: 't', html: '<p>h</p>' }));
      }
      return made;
    });
    // The gateway enqueues every row twice; both workers' relays find them too.
    gw.gateway.mail.enqueue(ids);
    gw.gateway.mail.enqueue(ids);
    await smtp.waitFor((m) => m.to[0]!.startsWith(prefix), ids.length, 30_000);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const arrived = smtp.received.filter((m) => m.to[0]!.startsWith(prefix));
    expect(arrived).toHaveLength(ids.length);
    expect(new Set(arrived.map((m) => m.outboxId))).toEqual(new Set(ids));
  });

  it('SIGTERM: a worker exits 0', async () => {
    const worker = workers.at(-1)!;
    expect(await worker.stop()).toBe(0);
    expect(worker.output.join('\n')).toContain('mail worker stopped');
  });
});
