import { randomBytes } from 'node:crypto';
import argon2 from 'argon2';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type Database } from '../../src/db/client.ts';
import { actionTokens, sessions, userPasswords } from '../../src/db/schema.ts';
import { Domain } from '../../src/domain/domain.ts';
import { NotAuthenticatedError } from '../../src/domain/errors.ts';
import { Passwords } from '../../src/domain/passwords.ts';
import type { SessionPrincipal } from '../../src/domain/principal.ts';
import { PrincipalWatch } from '../../src/domain/principal-watch.ts';
import { issueToken, parseToken, TokenType } from '../../src/domain/tokens.ts';
import { openKv, type Kv } from '../../src/kv/kv.ts';
import { MemoryHub } from '../../src/kv/memory-pubsub.ts';
import { createLogger, type Logger } from '../../src/logger.ts';
import { MODES, ROOT_PASSWORD, testConfig, type Mode } from '../helpers/gateway.ts';
import { uniqueUsername } from '../helpers/graphql.ts';
import { freshPglite } from '../helpers/pglite.ts';
import { createRedisPrefix, createTestDatabase, TEST_REDIS_URL } from '../helpers/services.ts';

const CLIENT = { address: '127.0.0.1', userAgent: 'domain test' };
const SILENT = createLogger('silent').log;

/** A fresh, migrated database and the Redis roles (or their substitutes) of one mode. */
interface Stores {
  readonly database: Database;
  readonly kv: Kv;
  close(): Promise<void>;
}

async function openStores(mode: Mode): Promise<Stores> {
  if (mode === 'embedded') {
    const pglite = await freshPglite();
    const database = await openDatabase({ kind: 'pglite', client: pglite });
    const kv = await openKv({ keyPrefix: 'domain-test:', hub: new MemoryHub() });
    return {
      database,
      kv,
      async close() {
        await kv.close();
        await pglite.close();
      },
    };
  }
  const [testDatabase, redis] = await Promise.all([createTestDatabase(), createRedisPrefix()]);
  const database = await openDatabase({ kind: 'postgres', url: testDatabase.url, maxConnections: 4 });
  await database.migrate();
  const kv = await openKv({ redisUrl: TEST_REDIS_URL, keyPrefix: redis.prefix });
  return {
    database,
    kv,
    async close() {
      await kv.close();
      await database.close();
      await Promise.all([testDatabase.drop(), redis.clear()]);
    },
  };
}

/** Collects what a logger writes, one parsed JSON object per line. */
function capturingLogger(): { log: Logger; lines: { level: number; msg: string }[] } {
  const lines: { level: number; msg: string }[] = [];
  const { log } = createLogger('info', { write: (line: string) => void lines.push(JSON.parse(line) as { level: number; msg: string }) });
  return { log, lines };
}

/** A delivery of generated root passwords that keeps what it is handed. */
function recordingDelivery(): { deliver: (password: string) => Promise<void>; delivered: string[] } {
  const delivered: string[] = [];
  return { delivered, deliver: async (password) => void delivered.push(password) };
}

describe('tokens', () => {
  it('are 34 characters of base64url that carry their type and record id', () => {
    for (const [type, id] of [
      [TokenType.session, '1'],
      [TokenType.apiToken, '100'],
      [TokenType.emailConfirmation, '4294967296'],
      [TokenType.passwordReset, '9223372036854775807'],
    ] as const) {
      const issued = issueToken(type, id);
      expect(issued.token).toMatch(/^[A-Za-z0-9_-]{34}$/);
      expect(parseToken(issued.token)).toEqual({ type, id, secretHash: issued.secretHash });
      expect(issued.secretHash).not.toContain(issued.token);
    }
    // The random part makes every token of the same record different.
    const tokens = new Set(Array.from({ length: 50 }, () => issueToken(TokenType.session, '7').token));
    expect(tokens.size).toBe(50);
  });

  it('never parse as the original once tampered with', () => {
    const issued = issueToken(TokenType.session, '12345');
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    for (let position = 0; position < issued.token.length; position++) {
      const original = issued.token[position]!;
      const replacement = alphabet[(alphabet.indexOf(original) + 1 + position) % alphabet.length]!;
      const tampered = `${issued.token.slice(0, position)}${replacement}${issued.token.slice(position + 1)}`;
      const parsed = parseToken(tampered);
      // Either not a token at all, or one whose secret does not match the stored hash.
      expect(parsed === null || parsed.secretHash !== issued.secretHash, `position ${position}`).toBe(true);
    }
  });

  it('refuse anything that is not a canonical token of a known type', () => {
    const bytes = Buffer.from(issueToken(TokenType.session, '5').token, 'base64url');
    const withType = (type: number) => {
      const copy = Buffer.from(bytes);
      copy[8] = type;
      return copy.toString('base64url');
    };
    const withId = (id: bigint) => {
      const copy = Buffer.from(bytes);
      copy.writeBigUInt64BE(id ^ (~copy.readBigUInt64BE(9) & 0xffffffffffffffffn), 0);
      return copy.toString('base64url');
    };
    const valid = bytes.toString('base64url');
    // The last character carries 2 bits of data and 4 unused ones (so it is one of A, Q, g, w); setting those is not canonical.
    expect('AQgw').toContain(valid.at(-1));
    const nonCanonical = `${valid.slice(0, -1)}${String.fromCharCode(valid.charCodeAt(33) + 1)}`;
    for (const token of [
      '',
      'nope',
      valid.slice(1),
      `${valid}A`,
      `${valid.slice(0, 33)}=`,
      `${valid.slice(0, 33)}.`,
      `${valid.slice(0, 33)}+`,
      valid.replace(/./, '/'),
      withType(1),
      withType(6),
      withType(255),
      withId(0n),
      withId(0x8000000000000000n),
      ' '.repeat(34),
      nonCanonical,
    ]) {
      expect(parseToken(token), JSON.stringify(token)).toBeNull();
    }
    expect(parseToken(withType(TokenType.apiToken))?.type).toBe(TokenType.apiToken);
    expect(parseToken(withId(42n))?.id).toBe('42');
  });
});

describe.each(MODES)('the domain on its own (%s)', (mode) => {
  let stores: Stores;
  let domain: Domain;
  let root: SessionPrincipal;
  const config = testConfig({ PERMISSIONS: 'billing' });

  beforeAll(async () => {
    stores = await openStores(mode);
    domain = await Domain.create({ db: stores.database.db, kv: stores.kv, config, log: SILENT, passwordHashing: config.passwordHashing });
    root = (await domain.sessions.signIn({ username: 'root', password: ROOT_PASSWORD }, null, CLIENT)).principal;
  });
  afterAll(async () => {
    await domain?.close();
    await stores?.close();
  });

  const db = () => stores.database.db;
  const storedHash = async (userId: string) => (await db().select().from(userPasswords).where(eq(userPasswords.userId, userId)))[0]!.hash;

  it('turns a session token into its principal, and a tampered one into a guest', async () => {
    const { user, password } = await domain.users.create(root, { username: uniqueUsername('tok') });
    const { token, principal } = await domain.sessions.signIn({ username: user.name, password }, null, CLIENT);
    const resolved = await domain.auth.resolve(token);
    expect(resolved).toMatchObject({ kind: 'session', sessionId: principal.sessionId, user: { id: user.id }, root: false });
    const tampered = `${token.slice(0, 20)}${token[20] === 'x' ? 'y' : 'x'}${token.slice(21)}`;
    expect((await domain.auth.resolve(tampered)).kind).toBe('guest');
    expect((await domain.auth.resolveDetailed(tampered)).failure).toMatch(/^(unknown|malformed)$/);
    expect((await domain.auth.resolveDetailed(`${token.slice(0, 33)}=`)).failure).toBe('malformed');
  });

  it('re-checks a watched connection whose principal was invalidated while it was being resolved', async () => {
    const { user, password } = await domain.users.create(root, { username: uniqueUsername('watch') });
    const { token } = await domain.sessions.signIn({ username: user.name, password }, null, CLIENT);
    const watch = new PrincipalWatch(domain.auth);
    try {
      const before = domain.auth.epoch;
      const principal = await domain.auth.resolve(token);
      // The change lands between resolving and watching: nobody is listening for it yet.
      await domain.auth.invalidate([`user:${user.id}`]);
      let stale = 0;
      let current = 0;
      watch.watch(principal, () => stale++, before);
      watch.watch(principal, () => current++, domain.auth.epoch);
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect({ stale, current }).toEqual({ stale: 1, current: 0 });
      await domain.auth.invalidate([`user:${user.id}`]);
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect({ stale, current }).toEqual({ stale: 2, current: 1 });
    } finally {
      watch.close();
    }
  });

  it('re-hashes a password stored with other argon2 parameters at the next sign-in', async () => {
    const password = 'an old password';
    const { user } = await domain.users.create(root, { username: uniqueUsername('rehash'), password });
    const legacy = new Passwords({ memoryKib: 2048, timeCost: 2, parallelism: 1 });
    const oldHash = await legacy.hash(password);
    expect(oldHash).toMatch(/\$m=2048,t=2,p=1\$/);
    await db().update(userPasswords).set({ hash: oldHash }).where(eq(userPasswords.userId, user.id));

    // A failed sign-in leaves the hash alone.
    await expect(domain.sessions.signIn({ username: user.name, password: 'not the password' }, null, CLIENT)).rejects.toBeInstanceOf(
      NotAuthenticatedError,
    );
    expect(await storedHash(user.id)).toBe(oldHash);

    await domain.sessions.signIn({ username: user.name, password }, null, CLIENT);
    const newHash = await storedHash(user.id);
    expect(newHash).not.toBe(oldHash);
    expect(newHash).toMatch(new RegExp(`\\$m=${config.passwordHashing.memoryKib},t=${config.passwordHashing.timeCost},p=1\\$`));
    expect(await domain.passwords.verify(newHash, password)).toEqual({ ok: true, needsRehash: false });
    expect(await argon2.verify(newHash, password)).toBe(true);

    // Signing in again does not hash anew: the parameters match now.
    await domain.sessions.signIn({ username: user.name, password }, null, CLIENT);
    expect(await storedHash(user.id)).toBe(newHash);
  });

  it('treats an expired session as a guest, and purgeExpired removes it', async () => {
    const { user, password } = await domain.users.create(root, { username: uniqueUsername('exp') });
    const expiring = await domain.sessions.signIn({ username: user.name, password }, null, CLIENT);
    const lasting = await domain.sessions.signIn({ username: user.name, password }, null, CLIENT);
    await db()
      .update(sessions)
      .set({ expiresAt: new Date(Date.now() - 1000) })
      .where(eq(sessions.id, expiring.principal.sessionId));
    const resolution = await domain.auth.resolveDetailed(expiring.token);
    expect(resolution).toEqual({ principal: { kind: 'guest' }, failure: 'expired' });
    expect((await domain.auth.resolve(expiring.token)).kind).toBe('guest');
    expect((await domain.sessions.listForUser(user.id)).map((session) => session.id)).toEqual([lasting.principal.sessionId]);

    await db()
      .insert(actionTokens)
      .values({ userId: user.id, kind: 'password_reset', email: 'x@example.com', secretHash: 'h', expiresAt: new Date(Date.now() - 1000) });
    await db()
      .insert(actionTokens)
      .values({ userId: user.id, kind: 'email_confirmation', email: 'x@example.com', secretHash: 'h', expiresAt: new Date(Date.now() + 3_600_000) });
    expect(await domain.sessions.purgeExpired()).toBeGreaterThanOrEqual(2);
    const left = await db().select({ id: sessions.id }).from(sessions).where(eq(sessions.userId, user.id));
    expect(left.map((row) => row.id)).toEqual([lasting.principal.sessionId]);
    const tokensLeft = await db().select({ kind: actionTokens.kind }).from(actionTokens).where(eq(actionTokens.userId, user.id));
    expect(tokensLeft).toEqual([{ kind: 'email_confirmation' }]);
    expect((await domain.auth.resolve(lasting.token)).kind).toBe('session');
    expect(await domain.sessions.purgeExpired()).toBe(0);
  });

  it('slides the expiry of a session that is used', async () => {
    const { user, password } = await domain.users.create(root, { username: uniqueUsername('slide') });
    const { token, principal } = await domain.sessions.signIn({ username: user.name, password }, null, CLIENT);
    const soon = new Date(Date.now() + 60_000);
    await db()
      .update(sessions)
      .set({ expiresAt: soon, lastUsedAt: new Date(Date.now() - 11 * 60_000) })
      .where(eq(sessions.id, principal.sessionId));
    const resolved = await domain.auth.resolve(token);
    expect(resolved.kind).toBe('session');
    expect((resolved as SessionPrincipal).expiresAt.getTime()).toBeGreaterThan(Date.now() + 29 * 24 * 3_600_000);
    // The new expiry is written in the background.
    let stored = soon;
    for (let i = 0; i < 50 && stored.getTime() === soon.getTime(); i++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      stored = (await db().select().from(sessions).where(eq(sessions.id, principal.sessionId)))[0]!.expiresAt;
    }
    expect(stored.getTime()).toBeGreaterThan(Date.now() + 29 * 24 * 3_600_000);
  });
});

describe.each(MODES)('root bootstrap (%s)', (mode) => {
  const signInRoot = (domain: Domain, password: string) => domain.sessions.signIn({ username: 'root', password }, null, CLIENT);

  it('uses ROOT_PASSWORD (a changed one replaces it at the next start) and seeds the settings from SMTP_URL once', async () => {
    const stores = await openStores(mode);
    try {
      const first = recordingDelivery();
      const config = testConfig({ SMTP_URL: `smtp://mailer:${randomBytes(4).toString('hex')}@mail.example.com:2525` });
      const domain = await Domain.create({
        db: stores.database.db,
        kv: stores.kv,
        config,
        log: SILENT,
        passwordHashing: config.passwordHashing,
        deliverRootPassword: first.deliver,
      });
      try {
        expect((await signInRoot(domain, ROOT_PASSWORD)).principal).toMatchObject({ root: true, user: { id: '1', name: 'root' } });
        expect(first.delivered).toEqual([]);
        expect(await domain.settings.view()).toMatchObject({
          smtpHostname: 'mail.example.com',
          smtpPort: 2525,
          smtpUsername: 'mailer',
          smtpPassword: null,
          smtpPasswordSet: true,
          smtpTls: 'starttls',
        });
      } finally {
        await domain.close();
      }
      const changed = testConfig({ ROOT_PASSWORD: 'a different root password', SMTP_URL: 'smtps://other.example.com' });
      const again = await Domain.create({ db: stores.database.db, kv: stores.kv, config: changed, log: SILENT, passwordHashing: changed.passwordHashing });
      try {
        expect((await signInRoot(again, 'a different root password')).principal.root).toBe(true);
        await expect(signInRoot(again, ROOT_PASSWORD)).rejects.toBeInstanceOf(NotAuthenticatedError);
        expect(await again.settings.view()).toMatchObject({ smtpHostname: 'mail.example.com', smtpPort: 2525, smtpTls: 'starttls' });
      } finally {
        await again.close();
      }
    } finally {
      await stores.close();
    }
  });

  it('without ROOT_PASSWORD generates one, hands it over once (never to the log), and keeps it', async () => {
    const stores = await openStores(mode);
    try {
      const config = testConfig({ ROOT_PASSWORD: '' });
      expect(config.rootPassword).toBeUndefined();
      const create = (log: Logger, deliverRootPassword?: (password: string) => Promise<void>) =>
        Domain.create({ db: stores.database.db, kv: stores.kv, config, log, passwordHashing: config.passwordHashing, deliverRootPassword });

      // A delivery that fails (say, DATA_DIR is not writable) stops the start and stores nothing.
      const failing = async () => {
        throw new Error('cannot write the file');
      };
      await expect(create(SILENT, failing)).rejects.toThrow('cannot write the file');

      // Two nodes starting together: only one of them generates (and hands over) a password.
      const [a, b] = [capturingLogger(), capturingLogger()];
      const [deliveredA, deliveredB] = [recordingDelivery(), recordingDelivery()];
      const [domainA, domainB] = await Promise.all([create(a.log, deliveredA.deliver), create(b.log, deliveredB.deliver)]);
      const delivered = [...deliveredA.delivered, ...deliveredB.delivered];
      expect(delivered).toHaveLength(1);
      const password = delivered[0]!;
      expect(password).toMatch(/^[A-Za-z0-9_-]{16}$/);
      expect([...a.lines, ...b.lines].filter((line) => JSON.stringify(line).includes(password))).toEqual([]);
      await Promise.all([domainA.close(), domainB.close()]);

      const later = recordingDelivery();
      const domain = await create(SILENT, later.deliver);
      try {
        expect(later.delivered).toEqual([]);
        expect((await signInRoot(domain, password)).principal.root).toBe(true);
        await expect(signInRoot(domain, ROOT_PASSWORD)).rejects.toBeInstanceOf(NotAuthenticatedError);
      } finally {
        await domain.close();
      }
    } finally {
      await stores.close();
    }
  });
});
