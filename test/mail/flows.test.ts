import Api from '@softvisio/core/api';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { actionTokens, outbox } from '../../src/db/schema.ts';
import { MODES, ROOT_PASSWORD, type TestGateway } from '../helpers/gateway.ts';
import { createSignedInUser, createUser, gql, ok, rootSession, signIn, uniqueUsername, viewerOf } from '../helpers/graphql.ts';
import { APP_URL, configureMail, outboxRowsTo, startMailGateway, uniqueAddress, waitForStatus } from '../helpers/mail.ts';
import { TestSmtp, tokenIn } from '../helpers/smtp.ts';
import { apiUrl, httpCall, RawWs } from '../helpers/v1.ts';
import type { ClientResult, V1Client } from '../helpers/v1-conformance.ts';

/**
 * E-mail confirmation and password reset end to end, through the published v1 client
 * (@softvisio/core 7.x) and GraphQL, against a real SMTP server with AUTH; the token is taken from
 * the message that arrived. Both modes: BullMQ on Redis, and the in-process runner.
 */

const OUTBOX = `query($filter: OutboxFilter, $first: Int) {
  outbox(filter: $filter, first: $first) { totalCount edges { node { id recipient template subject status attempts nextAttemptAt lastReply rateLimited createdAt updatedAt sentAt } } }
}`;
const RETRY = `mutation($id: ID!) { retryOutboxMessage(id: $id) { __typename ... on OutboxMessagePayload { outboxMessage: message { id status attempts } } ... on Error { code message } } }`;

interface OutboxNode {
  id: string;
  recipient: string;
  template: string;
  subject: string;
  status: string;
  attempts: number;
  lastReply: string | null;
  rateLimited: boolean;
  sentAt: string | null;
}

function expectResult(result: Pick<ClientResult, 'status' | 'statusText'>, status: number, statusText?: string): void {
  expect({ status: result.status, ...(statusText ? { statusText: result.statusText } : {}) }).toEqual({ status, ...(statusText ? { statusText } : {}) });
}

describe.each(MODES)('e-mail flows (%s)', (mode) => {
  let smtp: TestSmtp;
  let gw: TestGateway;
  let root: string;
  let api: V1Client;

  beforeAll(async () => {
    smtp = await TestSmtp.start({ users: { mailer: 'smtp-secret' } });
    gw = await startMailGateway(mode, smtp);
    root = await rootSession(gw, ROOT_PASSWORD);
    await configureMail(gw, root);
    api = new Api(apiUrl(gw, 'http')) as V1Client;
  });
  afterAll(async () => {
    await gw?.close();
    await smtp?.stop();
  });

  async function listOutbox(filter: Record<string, unknown>, token = root): Promise<{ totalCount: number; nodes: OutboxNode[] }> {
    const data = ok(await gql<{ outbox: { totalCount: number; edges: { node: OutboxNode }[] } }>(gw, OUTBOX, { filter, first: 100 }, token));
    return { totalCount: data.outbox.totalCount, nodes: data.outbox.edges.map((edge) => edge.node) };
  }

  it('confirms an address with the token of the message that arrived; the token works once', async () => {
    const email = uniqueAddress('confirm');
    const user = await createUser(gw, root, { email });
    expectResult(await api.call('/v1/session/send-confirmation-email', user.name), 200);
    const [mail] = await smtp.waitFor((m) => m.to.includes(email));
    expect(mail!.from).toBe('no-reply@example.test');
    expect(mail!.subject).toBe('Confirm your e-mail address for Example App');
    expect(mail!.raw).toMatch(/^From: Example App <no-reply@example\.test>/m);
    // Plain text and HTML, each with the link under app_url.
    expect(mail!.raw).toMatch(/multipart\/alternative/);
    expect(mail!.decoded).toContain('text/html');
    const token = tokenIn(mail!, 'confirm-email');
    expect(mail!.decoded).toContain(`${APP_URL}#/confirm-email/${token}`);

    const confirmed = await api.call('/v1/session/confirm-email-by-token', token);
    expectResult(confirmed, 200);
    expect(confirmed.meta.rows).toBe(1);
    const { user: row } = ok(await gql<{ user: { emailConfirmed: boolean } }>(gw, `query($id: ID!) { user(id: $id) { emailConfirmed } }`, { id: user.id }, root));
    expect(row.emailConfirmed).toBe(true);

    expectResult(await api.call('/v1/session/confirm-email-by-token', token), 404, 'Token not found');
    // Confirmed already: nothing more is sent, and the answer is the same.
    expectResult(await api.call('/v1/session/send-confirmation-email', email), 200);
    const [sent] = await outboxRowsTo(gw, email);
    expect(sent).toMatchObject({ status: 'sent', template: 'email-confirmation', attempts: 1, textBody: '', htmlBody: '' });
    expect((await outboxRowsTo(gw, email)).length).toBe(1);
  });

  it('resets a password by e-mail: new password in force, address confirmed, other sessions and WebSockets ended', async () => {
    const email = uniqueAddress('reset');
    const user = await createSignedInUser(gw, root, { email, password: 'old-password-1' });
    const socket = await RawWs.open(apiUrl(gw, 'ws'), user.token);
    expectResult(await api.call('/v1/session/send-password-reset-email', email.toUpperCase()), 200);
    const [mail] = await smtp.waitFor((m) => m.to.includes(email));
    expect(mail!.subject).toBe('Reset your Example App password');
    const token = tokenIn(mail!, 'reset-password');
    expect(mail!.decoded).toContain(`${APP_URL}#/reset-password/${token}`);

    expectResult(await api.call('/v1/session/set-password-by-token', token, 'short'), 400);
    expectResult(await api.call('/v1/session/set-password-by-token', token, 'brand-new-password'), 200);
    const signedIn = await api.call('/v1/session/signin', { username: user.name, password: 'brand-new-password' });
    expect(signedIn.status).toBe(200);
    expect((await api.call('/v1/session/signin', { username: user.name, password: 'old-password-1' })).status).toBe(401);
    // The user is told, once, like for any other password change.
    const newToken = (signedIn.data as { token: string }).token;
    const inbox = ok(await gql<{ notifications: { edges: { node: { subject: string } }[] } }>(gw, '{ notifications(first: 100) { edges { node { subject } } } }', {}, newToken));
    expect(inbox.notifications.edges.filter((edge) => edge.node.subject === 'Password changed')).toHaveLength(1);
    expect(await viewerOf(gw, user.token)).toBeNull();
    const closed = await socket.closed;
    expect(closed.code).toBe(4000);
    const { user: row } = ok(await gql<{ user: { emailConfirmed: boolean } }>(gw, `query($id: ID!) { user(id: $id) { emailConfirmed } }`, { id: user.id }, root));
    expect(row.emailConfirmed).toBe(true);
    // Single use, and every reset token of the account is gone.
    expectResult(await api.call('/v1/session/set-password-by-token', token, 'another-password'), 404, 'Token not found');
    const left = await gw.gateway.database.db.select().from(actionTokens).where(eq(actionTokens.userId, user.id));
    expect(left).toEqual([]);
  });

  it('refuses malformed, mistyped and expired tokens', async () => {
    expectResult(await api.call('/v1/session/confirm-email-by-token', 'not-a-token'), 400, 'Token is invalid');
    const email = uniqueAddress('expire');
    const user = await createUser(gw, root, { email });
    await api.call('/v1/session/send-password-reset-email', user.name);
    const [mail] = await smtp.waitFor((m) => m.to.includes(email));
    const token = tokenIn(mail!, 'reset-password');
    // A reset token is not a confirmation token.
    expectResult(await api.call('/v1/session/confirm-email-by-token', token), 400, 'Token is invalid');
    await gw.gateway.database.db.update(actionTokens).set({ expiresAt: new Date(Date.now() - 1000) }).where(eq(actionTokens.userId, user.id));
    expectResult(await api.call('/v1/session/set-password-by-token', token, 'brand-new-password'), 400, 'Token has expired');
    expect((await api.call('/v1/session/signin', { username: user.name, password: user.password })).status).toBe(200);
  });

  it('answers 200 and sends nothing for unknown, disabled and address-less accounts', async () => {
    const disabledEmail = uniqueAddress('disabled');
    const disabled = await createUser(gw, root, { email: disabledEmail, enabled: false });
    const bare = await createUser(gw, root, { username: uniqueUsername('bare') });
    const before = smtp.received.length;
    for (const method of ['/v1/session/send-confirmation-email', '/v1/session/send-password-reset-email']) {
      for (const who of [uniqueUsername('nobody'), uniqueAddress('nobody'), disabled.name, disabledEmail, bare.name, '!!']) {
        const answer = await api.call(method, who);
        expectResult(answer, 200, 'OK');
        expect(answer.data ?? null).toBeNull();
      }
    }
    // A message requested afterwards arrives, and nothing else did.
    const sentinel = uniqueAddress('sentinel');
    await createUser(gw, root, { email: sentinel });
    await api.call('/v1/session/send-password-reset-email', sentinel);
    await smtp.waitFor((m) => m.to.includes(sentinel));
    expect(smtp.received.slice(before).map((m) => m.to)).toEqual([[sentinel]]);
    expect(await outboxRowsTo(gw, disabledEmail)).toEqual([]);
  });

  it('shows admins the outbox (filtered, newest first) and retries only failed or uncertain messages', async () => {
    const email = uniqueAddress('listed');
    const user = await createUser(gw, root, { email });
    await api.call('/v1/session/send-password-reset-email', user.name);
    await api.call('/v1/session/send-confirmation-email', user.name);
    await smtp.waitFor((m) => m.to.includes(email), 2);
    await waitForStatus(gw, email, 'sent');
    const listed = await listOutbox({ recipient: email.toUpperCase().slice(0, -5), status: ['SENT'] });
    expect(listed.totalCount).toBe(2);
    expect(listed.nodes.map((node) => node.template)).toEqual(['email-confirmation', 'password-reset']);
    expect(listed.nodes[0]).toMatchObject({ recipient: email, status: 'SENT', attempts: 1, rateLimited: false, lastReply: expect.stringMatching(/^250 /), sentAt: expect.any(String) });
    expect((await listOutbox({ recipient: email, status: ['FAILED', 'UNCERTAIN'] })).totalCount).toBe(0);

    const retried = ok(await gql<{ retryOutboxMessage: Record<string, unknown> }>(gw, RETRY, { id: listed.nodes[0]!.id }, root));
    expect(retried.retryOutboxMessage).toMatchObject({ __typename: 'NotAllowedError', code: 'NOT_RETRIABLE' });
    const missing = ok(await gql<{ retryOutboxMessage: Record<string, unknown> }>(gw, RETRY, { id: '987654321' }, root));
    expect(missing.retryOutboxMessage).toMatchObject({ __typename: 'NotFoundError' });

    const person = await createSignedInUser(gw, root);
    const refused = await gql(gw, OUTBOX, { filter: {} }, person.token);
    expect(refused.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const guest = await gql(gw, RETRY, { id: '1' }, null);
    expect(guest.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  });

  it('limits e-mails per account and per client address: still 200, nothing sent, one row admins see', async () => {
    await gql(gw, `mutation { updateSettings(input: { emailAccountLimit: 2 }) { __typename } }`, {}, root);
    try {
      const email = uniqueAddress('limited');
      const user = await createUser(gw, root, { email });
      for (let i = 0; i < 5; i++) expectResult(await api.call('/v1/session/send-password-reset-email', user.name), 200, 'OK');
      await smtp.waitFor((m) => m.to.includes(email), 2);
      const rows = await outboxRowsTo(gw, email);
      expect(rows.map((row) => [row.rateLimited, row.status])).toEqual([
        [false, expect.any(String)],
        [false, expect.any(String)],
        [true, 'failed'],
      ]);
      expect(rows[2]!.lastReply).toMatch(/^Not sent: more than 2 e-mails were requested for this account/);
      const limited = (await listOutbox({ recipient: email, status: ['FAILED'] })).nodes;
      expect(limited).toMatchObject([{ rateLimited: true, subject: 'Reset your Example App password', attempts: 0 }]);
      const retried = ok(await gql<{ retryOutboxMessage: Record<string, unknown> }>(gw, RETRY, { id: limited[0]!.id }, root));
      expect(retried.retryOutboxMessage).toMatchObject({ __typename: 'NotAllowedError', code: 'NOT_RETRIABLE' });
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(smtp.to(email)).toHaveLength(2);
    } finally {
      await gql(gw, `mutation { updateSettings(input: { emailAccountLimit: 5 }) { __typename } }`, {}, root);
    }
  });

  it('limits per client address across accounts', async () => {
    await gql(gw, `mutation { updateSettings(input: { emailIpLimit: 1 }) { __typename } }`, {}, root);
    try {
      const headers = { 'x-forwarded-for': `203.0.113.${Math.floor(Math.random() * 250) + 1}` };
      const first = uniqueAddress('ip-first');
      const second = uniqueAddress('ip-second');
      await createUser(gw, root, { email: first });
      await createUser(gw, root, { email: second });
      expectResult(await httpCall(gw, '/v1/session/send-password-reset-email', [first], { headers }), 200);
      expectResult(await httpCall(gw, '/v1/session/send-password-reset-email', [second], { headers }), 200);
      expectResult(await httpCall(gw, '/v1/session/send-password-reset-email', [second], { headers }), 200);
      await smtp.waitFor((m) => m.to.includes(first));
      const rows = await outboxRowsTo(gw, second);
      expect(rows).toMatchObject([{ rateLimited: true, status: 'failed', lastReply: expect.stringMatching(/^Not sent: more than 1 e-mails were requested from 203\.0\.113\./) }]);
    } finally {
      await gql(gw, `mutation { updateSettings(input: { emailIpLimit: 100000 }) { __typename } }`, {}, root);
    }
  });

  it('works through GraphQL too', async () => {
    const email = uniqueAddress('graphql');
    const user = await createSignedInUser(gw, root, { email });
    const other = await signIn(gw, user.name, user.password);
    const requested = ok(await gql<{ sendPasswordResetEmail: { accepted: boolean } }>(gw, `mutation($u: String!) { sendPasswordResetEmail(user: $u) { accepted } }`, { u: email }, null));
    expect(requested.sendPasswordResetEmail.accepted).toBe(true);
    const [mail] = await smtp.waitFor((m) => m.to.includes(email));
    const reset = ok(
      await gql<{ resetPassword: { __typename: string; endedSessions?: number } }>(
        gw,
        `mutation($t: String!, $p: String!) { resetPassword(token: $t, password: $p) { __typename ... on ResetPasswordPayload { endedSessions } } }`,
        { t: tokenIn(mail!, 'reset-password'), p: 'graphql-new-password' },
        user.token,
      ),
    );
    // The caller's own session stays; the other one ends.
    expect(reset.resetPassword).toEqual({ __typename: 'ResetPasswordPayload', endedSessions: 1 });
    expect(await viewerOf(gw, user.token)).not.toBeNull();
    expect(await viewerOf(gw, other.token)).toBeNull();
    const rows = await gw.gateway.database.db.select().from(outbox).where(eq(outbox.recipient, email));
    expect(rows).toHaveLength(1);
  });
});
