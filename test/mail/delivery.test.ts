import Api from '@softvisio/core/api';
import { and, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { outbox } from '../../src/db/schema.ts';
import type { Db } from '../../src/db/client.ts';
import { MODES, ROOT_PASSWORD, type TestGateway } from '../helpers/gateway.ts';
import { createUser, gql, ok, rootSession, waitFor } from '../helpers/graphql.ts';
import { configureMail, gate, outboxRowsTo, SMTP_PASSWORD, SMTP_USER, startMailGateway, uniqueAddress, waitForStatus } from '../helpers/mail.ts';
import { TestSmtp } from '../helpers/smtp.ts';
import { apiUrl } from '../helpers/v1.ts';
import type { ClientResult, V1Client } from '../helpers/v1-conformance.ts';

/**
 * Delivery of the outbox against a real SMTP server: outages, refusals, the last attempt,
 * test-smtp, two nodes racing for the same rows, and a node stopping with a message in hand.
 * Both modes: BullMQ on Redis, and the in-process runner over the same rows.
 */

const REQUEST_RESET = `mutation($u: String!) { sendPasswordResetEmail(user: $u) { accepted } }`;
const RETRY = `mutation($id: ID!) { retryOutboxMessage(id: $id) { __typename ... on OutboxMessagePayload { outboxMessage: message { status attempts } } } }`;
const TEST_SMTP = `mutation($input: SmtpTestInput) { testSmtp(input: $input) { ok code message lines } }`;

/** Rows written straight into the outbox (as a flow would), one transaction. */
async function insertRows(gw: TestGateway, count: number, prefix: string): Promise<string[]> {
  const domain = gw.gateway.domain;
  return gw.gateway.database.db.transaction(async (tx) => {
    const ids: string[] = [];
    for (let i = 0; i < count; i++) {
      ids.push(await domain.outbox.insert(tx as unknown as Db, { recipient: `${prefix}-${i}@example.test`, template: 'password-reset', subject: `race ${i}`, text: `text ${i}`, html: `<p>html ${i}</p>` }));
    }
    return ids;
  });
}

describe.each(MODES)('mail delivery (%s)', (mode) => {
  let smtp: TestSmtp;
  let gw: TestGateway;
  let other: TestGateway;
  let root: string;
  let api: V1Client;
  const stalls = new Map<string, ReturnType<typeof gate>>();

  beforeAll(async () => {
    smtp = await TestSmtp.start({
      users: { [SMTP_USER]: SMTP_PASSWORD },
      rejectRecipient: (address) => (address.startsWith('bounce-') ? { code: 550, message: '5.1.1 No such user here' } : null),
      onRecipient: (address) => stalls.get(address)?.wait() ?? Promise.resolve(),
    });
    gw = await startMailGateway(mode, smtp, { env: { MAIL_MAX_ATTEMPTS: '6', MAIL_LEASE_MS: '20000' } });
    other = await startMailGateway(mode, smtp, { shareWith: gw, env: { MAIL_MAX_ATTEMPTS: '6', MAIL_LEASE_MS: '20000' } });
    root = await rootSession(gw, ROOT_PASSWORD);
    await configureMail(gw, root);
    api = new Api(apiUrl(gw, 'http')) as V1Client;
  });
  afterAll(async () => {
    for (const stall of stalls.values()) stall.open();
    await Promise.all([gw?.close(), other?.close()]);
    await smtp?.stop();
  });

  async function requestReset(email: string): Promise<void> {
    await createUser(gw, root, { email });
    ok(await gql(gw, REQUEST_RESET, { u: email }, null));
  }

  it('keeps a message while SMTP is down and delivers it once when it is back', async () => {
    const email = uniqueAddress('outage');
    await smtp.stop();
    try {
      await requestReset(email);
      await waitFor(async () => ((await outboxRowsTo(gw, email))[0]?.attempts ?? 0) >= 2, 10_000);
      const [waiting] = await outboxRowsTo(gw, email);
      expect(waiting).toMatchObject({ status: expect.stringMatching(/^(queued|sending)$/), lastReply: expect.stringMatching(/ECONNREFUSED|connect/) });
    } finally {
      await smtp.listen();
    }
    await smtp.waitFor((m) => m.to.includes(email));
    const sent = await waitForStatus(gw, email, 'sent');
    expect(sent.attempts).toBeGreaterThanOrEqual(2);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(smtp.to(email)).toHaveLength(1);
  });

  it("marks a message the server refuses 'failed' with the server's reply; a retry tries again", async () => {
    const email = uniqueAddress('bounce').replace(/^/, 'bounce-');
    await requestReset(email);
    const failed = await waitForStatus(gw, email, 'failed');
    expect(failed.attempts).toBe(1);
    expect(failed.lastReply).toMatch(/^550 5\.1\.1 No such user here/);
    expect(smtp.to(email)).toEqual([]);
    const retried = ok(await gql<{ retryOutboxMessage: { __typename: string; outboxMessage: { status: string; attempts: number } } }>(gw, RETRY, { id: failed.id }, root));
    expect(retried.retryOutboxMessage).toEqual({ __typename: 'OutboxMessagePayload', outboxMessage: { status: 'QUEUED', attempts: 0 } });
    await waitFor(async () => (await outboxRowsTo(gw, email))[0]!.updatedAt > failed.updatedAt && (await outboxRowsTo(gw, email))[0]!.status === 'failed', 10_000);
  });

  it("gives up after the last attempt: 'failed' with the reason; an admin's retry delivers it", async () => {
    const email = uniqueAddress('give-up');
    await smtp.stop();
    try {
      await requestReset(email);
      const [row] = await outboxRowsTo(gw, email);
      // Skip ahead to the last attempt (between two attempts, while the row waits).
      await waitFor(async () => {
        const skipped = await gw.gateway.database.db
          .update(outbox)
          .set({ attempts: 5 })
          .where(and(eq(outbox.id, row!.id), eq(outbox.status, 'queued')))
          .returning({ id: outbox.id });
        return skipped.length > 0;
      }, 5000, 20);
      const failed = await waitForStatus(gw, email, 'failed');
      expect(failed.lastReply).toMatch(/^Gave up after 6 attempts: .*(ECONNREFUSED|connect)/);
    } finally {
      await smtp.listen();
    }
    const [failed] = await outboxRowsTo(gw, email);
    ok(await gql(gw, RETRY, { id: failed!.id }, root));
    await smtp.waitFor((m) => m.to.includes(email));
    expect(await waitForStatus(gw, email, 'sent')).toMatchObject({ attempts: 1 });
  });

  it('sends each message once while two nodes race for the same rows', async () => {
    const prefix = `race-${mode}-${Date.now().toString(36)}`;
    const ids = await insertRows(gw, 40, prefix);
    // Every node is told about every row, twice, and their relays run too.
    for (const node of [gw, other, gw, other]) node.gateway.mail.enqueue(ids);
    await Promise.all([gw.gateway.mail.relayOnce(), other.gateway.mail.relayOnce()]);
    const arrived = await smtp.waitFor((m) => m.to[0]!.startsWith(prefix), ids.length, 20_000);
    await new Promise((resolve) => setTimeout(resolve, 500));
    const all = smtp.received.filter((m) => m.to[0]!.startsWith(prefix));
    expect(all).toHaveLength(ids.length);
    expect(new Set(all.map((m) => m.outboxId))).toEqual(new Set(ids));
    expect(arrived.length).toBe(ids.length);
    const rows = await gw.gateway.database.db.select({ status: outbox.status, attempts: outbox.attempts }).from(outbox).where(eq(outbox.subject, 'race 0'));
    expect(rows).toEqual([{ status: 'sent', attempts: 1 }]);
  });

  it('tests SMTP settings without storing them: 235, wrong credentials, no AUTH offered, a closed port', async () => {
    const call = (settings: Record<string, unknown>): Promise<ClientResult> => api.call('/v1/admin/settings/test-smtp', settings);
    api.token = root;
    try {
      const good = await call({ smtp_hostname: '127.0.0.1', smtp_port: smtp.port, smtp_username: SMTP_USER, smtp_password: SMTP_PASSWORD });
      expect({ ok: good.ok, status: good.status, statusText: good.statusText }).toEqual({ ok: true, status: 235, statusText: 'Authentication successful' });
      // The stored settings are the fallback for what is not given.
      expect((await call({})).status).toBe(235);

      const wrong = await call({ smtp_username: SMTP_USER, smtp_password: 'wrong-password' });
      expect({ ok: wrong.ok, status: wrong.status }).toEqual({ ok: false, status: 535 });
      expect(wrong.statusText).toMatch(/Invalid username or password/);

      const open = await TestSmtp.start();
      try {
        const noAuth = await call({ smtp_hostname: '127.0.0.1', smtp_port: open.port });
        expect({ status: noAuth.status, statusText: noAuth.statusText }).toEqual({ status: 400, statusText: 'Authentication is not supported' });
        const anonymous = ok(await gql<{ testSmtp: { ok: boolean; code: number; lines: string[] } }>(gw, TEST_SMTP, { input: { port: open.port, username: '', password: '' } }, root));
        expect(anonymous.testSmtp).toMatchObject({ ok: true, code: 250 });
      } finally {
        await open.stop();
      }

      const closedPort = smtp.port;
      await smtp.stop();
      try {
        const closed = await call({ smtp_port: closedPort });
        expect({ ok: closed.ok, status: closed.status }).toEqual({ ok: false, status: 500 });
        expect(closed.statusText).toMatch(/ECONNREFUSED/);
      } finally {
        await smtp.listen();
      }
      const settings = ok(await gql<{ settings: { smtpUsername: string; smtpPort: number; smtpPasswordSet: boolean } }>(gw, `{ settings { smtpUsername smtpPort smtpPasswordSet } }`, {}, root));
      expect(settings.settings).toEqual({ smtpUsername: SMTP_USER, smtpPort: smtp.port, smtpPasswordSet: true });
    } finally {
      api.token = null;
    }
  });

  it('a node stopping with a message in hand gives it back, and another node sends it once', async () => {
    const email = uniqueAddress('in-hand');
    const stall = gate();
    stalls.set(email, stall);
    await requestReset(email);
    await waitFor(async () => stall.waiting > 0, 10_000);
    const [row] = await outboxRowsTo(gw, email);
    expect(row!.status).toBe('sending');
    const holder = [gw, other].find((node) => node.gateway.mail.processor?.owner === row!.leaseOwner)!;
    expect(holder).toBeDefined();
    const started = Date.now();
    // Stop within a 3 s budget while the server holds the RCPT reply.
    await holder.gateway.mail.close(Date.now() + 2500);
    expect(Date.now() - started).toBeLessThan(3000);
    const [released] = await outboxRowsTo(gw, email);
    expect(released).toMatchObject({ status: 'queued', attempts: 0, leaseOwner: null });
    stalls.delete(email);
    stall.open();
    // The other node's relay (or BullMQ) hands it to the other worker.
    const survivor = holder === gw ? other : gw;
    await survivor.gateway.mail.relayOnce();
    await smtp.waitFor((m) => m.to.includes(email));
    expect(await waitForStatus(gw, email, 'sent')).toMatchObject({ attempts: 1 });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(smtp.to(email)).toHaveLength(1);
  });
});
