import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT_PASSWORD } from '../helpers/gateway.ts';
import { createUser, gql } from '../helpers/graphql.ts';
import { MAIL_TEST_ENV } from '../helpers/mail.ts';
import { createRedisPrefix, createTestDatabase, TEST_REDIS_URL, type TestDatabase } from '../helpers/services.ts';
import { TestSmtp } from '../helpers/smtp.ts';
import { spawnGateway, type SpawnedGateway } from '../helpers/spawn.ts';
import { httpCall } from '../helpers/v1.ts';

const run = promisify(execFile);
const SMTP_USER = 'tls-user';
const SMTP_PASSWORD = 'tls-password';
const TEST_SMTP = `mutation($input: SmtpTestInput) { testSmtp(input: $input) { ok code message } }`;

/** A self-signed certificate for 127.0.0.1 (openssl), as PEM. */
async function selfSigned(dir: string, name: string): Promise<{ key: string; cert: string; certFile: string }> {
  const keyFile = path.join(dir, `${name}.key`);
  const certFile = path.join(dir, `${name}.pem`);
  await run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', keyFile, '-out', certFile, '-days', '2', '-subj', `/CN=${name}`, '-addext', 'subjectAltName=IP:127.0.0.1']);
  return { key: await readFile(keyFile, 'utf8'), cert: await readFile(certFile, 'utf8'), certFile };
}

/**
 * SMTP over TLS against real servers: implicit TLS and STARTTLS with a certificate the gateway
 * trusts (NODE_EXTRA_CA_CERTS, as an operator with a private CA would set it), and one it does not.
 */
describe('SMTP over TLS (a gateway process that trusts one certificate)', () => {
  let dir: string;
  let database: TestDatabase;
  let redis: Awaited<ReturnType<typeof createRedisPrefix>>;
  let implicit: TestSmtp;
  let starttls: TestSmtp;
  let untrusted: TestSmtp;
  let gateway: SpawnedGateway;
  let root: string;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'gw-smtp-tls-'));
    const [trusted, stranger] = await Promise.all([selfSigned(dir, 'trusted'), selfSigned(dir, 'stranger')]);
    const users = { [SMTP_USER]: SMTP_PASSWORD };
    [implicit, starttls, untrusted, database, redis] = await Promise.all([
      TestSmtp.start({ users, tls: { mode: 'implicit', ...trusted } }),
      TestSmtp.start({ users, tls: { mode: 'starttls', ...trusted } }),
      TestSmtp.start({ users, tls: { mode: 'starttls', ...stranger } }),
      createTestDatabase(),
      createRedisPrefix(),
    ]);
    gateway = await spawnGateway({
      DATABASE_URL: database.url,
      REDIS_URL: TEST_REDIS_URL,
      REDIS_PREFIX: redis.prefix,
      NODE_ENV: 'production',
      NODE_EXTRA_CA_CERTS: trusted.certFile,
      SMTP_URL: `smtp://${SMTP_USER}:${SMTP_PASSWORD}@127.0.0.1:${starttls.port}`,
      ...MAIL_TEST_ENV,
    });
    const signin = await httpCall(gateway, '/v1/session/signin', [{ username: 'root', password: ROOT_PASSWORD }]);
    root = (signin.data as { token: string }).token;
  });

  afterAll(async () => {
    await gateway?.stop();
    await Promise.all([implicit?.stop(), starttls?.stop(), untrusted?.stop(), database?.drop(), redis?.clear()]);
    await rm(dir, { recursive: true, force: true });
  });

  type Reply = { ok: boolean; code: number; message: string };
  /** GraphQL `testSmtp`, which names the TLS mode (v1 takes it from the stored settings). */
  const testSmtp = async (port: number, tls: 'TLS' | 'STARTTLS'): Promise<Reply> => {
    const input = { hostname: '127.0.0.1', port, tls, username: SMTP_USER, password: SMTP_PASSWORD };
    const answer = await gql<{ testSmtp: Reply }>(gateway, TEST_SMTP, { input }, root);
    expect(answer.errors, JSON.stringify(answer.errors)).toBeUndefined();
    return answer.data!.testSmtp;
  };

  it('authenticates over implicit TLS and over STARTTLS, encrypted before AUTH', async () => {
    expect(await testSmtp(implicit.port, 'TLS')).toMatchObject({ ok: true, code: 235 });
    expect(implicit.logins).toEqual([{ username: SMTP_USER, secure: true }]);
    expect(await testSmtp(starttls.port, 'STARTTLS')).toMatchObject({ ok: true, code: 235 });
    expect(starttls.logins).toEqual([{ username: SMTP_USER, secure: true }]);
    // v1 takes the mode from the settings (SMTP_URL smtp:// gave STARTTLS) and the rest from its argument.
    const v1 = await httpCall(gateway, '/v1/admin/settings/test-smtp', [{ smtp_hostname: '127.0.0.1', smtp_port: starttls.port }], { token: root });
    expect({ status: v1.status, statusText: v1.statusText }).toEqual({ status: 235, statusText: 'Authentication successful' });
  });

  it('refuses a certificate it does not trust with a clear answer, and never sends the password', async () => {
    const refused = await testSmtp(untrusted.port, 'STARTTLS');
    expect(refused.ok).toBe(false);
    expect(refused.message).toMatch(/certificate/i);
    expect(untrusted.logins).toEqual([]);
    // Implicit TLS against a plain-text server fails too, within the test's timeout, as an answer.
    const plain = await TestSmtp.start({ users: { [SMTP_USER]: SMTP_PASSWORD } });
    try {
      expect((await testSmtp(plain.port, 'TLS')).ok).toBe(false);
      expect(plain.logins).toEqual([]);
    } finally {
      await plain.stop();
    }
  });

  it('delivers mail over STARTTLS', async () => {
    const address = `tls-${Date.now().toString(36)}@example.com`;
    await createUser(gateway, root, { username: address, email: address });
    const requested = await httpCall(gateway, '/v1/session/send-password-reset-email', [address]);
    expect(requested.status).toBe(200);
    const [mail] = await starttls.waitFor((received) => received.to.includes(address), 1, 15_000);
    expect(mail!.subject).toMatch(/password/i);
    expect(starttls.logins.every((login) => login.secure)).toBe(true);
  });
});
