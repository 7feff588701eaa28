import { describe, expect, it } from 'vitest';
import { loadConfig, type Config } from '../../src/config.ts';

function valid(env: Record<string, string | undefined>): Config {
  const result = loadConfig(env);
  if (!result.ok) throw new Error(`expected a valid configuration, got: ${result.errors.join('; ')}`);
  return result.config;
}

function errorsOf(env: Record<string, string | undefined>): string[] {
  const result = loadConfig(env);
  if (result.ok) throw new Error(`expected ${JSON.stringify(env)} to be refused`);
  return result.errors;
}

describe('loadConfig', () => {
  it('falls back to the documented defaults for an empty environment', () => {
    expect(valid({})).toEqual({
      port: 8080,
      host: '127.0.0.1',
      databaseUrl: undefined,
      redisUrl: undefined,
      redisPrefix: 'gateway:',
      dataDir: './data',
      rootPassword: undefined,
      smtpUrl: undefined,
      permissions: ['admin'],
      logLevel: 'info',
      nodeEnv: 'development',
      passwordHashing: { memoryKib: 19_456, timeCost: 2, parallelism: 1 },
      signinMinDurationMs: 500,
      trustProxy: { kind: 'none' },
      mail: { worker: true, concurrency: 4, maxAttempts: 8, retryBaseMs: 30_000, leaseMs: 120_000, relayIntervalMs: 30_000 },
    });
  });

  it('treats empty and blank variables as unset', () => {
    expect(valid({ PORT: '', HOST: '  ', DATABASE_URL: '', REDIS_URL: ' ', LOG_LEVEL: '', NODE_ENV: '' })).toEqual(valid({}));
  });

  it('reads every variable', () => {
    const config = valid({
      PORT: ' 0 ',
      HOST: '0.0.0.0',
      DATABASE_URL: 'postgresql://gw:secret@db.internal:5433/gateway',
      REDIS_URL: 'rediss://cache.internal:6380/2',
      REDIS_PREFIX: ' {eu-1}.gw_2: ',
      DATA_DIR: '/var/lib/gateway',
      ROOT_PASSWORD: '12345678',
      SMTP_URL: 'smtps://mailer:pw@mail.example.com:465',
      PERMISSIONS: 'billing',
      LOG_LEVEL: 'silent',
      NODE_ENV: 'production',
      PASSWORD_HASH_MEMORY_KIB: '1024',
      PASSWORD_HASH_TIME_COST: '100',
      SIGNIN_MIN_DURATION_MS: '0',
      TRUST_PROXY: '2',
      MAIL_WORKER: 'off',
      MAIL_CONCURRENCY: '16',
      MAIL_MAX_ATTEMPTS: '3',
      MAIL_RETRY_BASE_MS: '1000',
      MAIL_LEASE_MS: '60000',
      MAIL_RELAY_INTERVAL_MS: '5000',
    });
    expect(config).toEqual({
      port: 0,
      host: '0.0.0.0',
      databaseUrl: 'postgresql://gw:secret@db.internal:5433/gateway',
      redisUrl: 'rediss://cache.internal:6380/2',
      redisPrefix: '{eu-1}.gw_2:',
      dataDir: '/var/lib/gateway',
      rootPassword: '12345678',
      smtpUrl: 'smtps://mailer:pw@mail.example.com:465',
      permissions: ['admin', 'billing'],
      logLevel: 'silent',
      nodeEnv: 'production',
      passwordHashing: { memoryKib: 1024, timeCost: 100, parallelism: 1 },
      signinMinDurationMs: 0,
      trustProxy: { kind: 'hops', hops: 2 },
      mail: { worker: false, concurrency: 16, maxAttempts: 3, retryBaseMs: 1000, leaseMs: 60_000, relayIntervalMs: 5000 },
    });
    expect(
      valid({ PORT: '65535', ROOT_PASSWORD: 'x'.repeat(1024), PASSWORD_HASH_MEMORY_KIB: String(4 * 1024 * 1024), REDIS_PREFIX: 'p'.repeat(64) }),
    ).toMatchObject({
      port: 65535,
      redisPrefix: 'p'.repeat(64),
      rootPassword: 'x'.repeat(1024),
      passwordHashing: { memoryKib: 4 * 1024 * 1024 },
    });
  });

  it.each([
    ['PORT', 'abc'],
    ['PORT', '70000'],
    ['PORT', '65536'],
    ['PORT', '-1'],
    ['PORT', '80.5'],
    ['PORT', '0x50'],
    ['DATABASE_URL', 'mysql://x'],
    ['DATABASE_URL', 'not a url'],
    ['REDIS_URL', 'http://x'],
    ['REDIS_URL', 'localhost:6379'],
    ['REDIS_PREFIX', 'two words'],
    ['REDIS_PREFIX', 'slash/ed'],
    ['REDIS_PREFIX', 'x'.repeat(65)],
    ['SMTP_URL', 'http://mail.example.com'],
    ['LOG_LEVEL', 'loud'],
    ['LOG_LEVEL', 'INFO!'],
    ['NODE_ENV', 'staging'],
    ['PERMISSIONS', 'root'],
    ['PERMISSIONS', 'guest'],
    ['PERMISSIONS', 'user'],
    ['PERMISSIONS', '*'],
    ['PERMISSIONS', 'BillingAdmin'],
    ['PERMISSIONS', 'billing-admin'],
    ['PERMISSIONS', '1st'],
    ['PERMISSIONS', `a${'b'.repeat(64)}`],
    ['ROOT_PASSWORD', 'short'],
    ['ROOT_PASSWORD', 'x'.repeat(1025)],
    ['PASSWORD_HASH_MEMORY_KIB', '1023'],
    ['PASSWORD_HASH_MEMORY_KIB', String(4 * 1024 * 1024 + 1)],
    ['PASSWORD_HASH_MEMORY_KIB', 'lots'],
    ['PASSWORD_HASH_TIME_COST', '0'],
    ['PASSWORD_HASH_TIME_COST', '101'],
    ['SIGNIN_MIN_DURATION_MS', '-1'],
    ['SIGNIN_MIN_DURATION_MS', '10001'],
    ['SIGNIN_MIN_DURATION_MS', 'half a second'],
    ['TRUST_PROXY', 'true'],
    ['TRUST_PROXY', '33'],
    ['TRUST_PROXY', '-1'],
    ['TRUST_PROXY', 'proxy.internal'],
    ['TRUST_PROXY', '10.0.0.0/33'],
    ['TRUST_PROXY', '10.0.0.0/8/8'],
    ['TRUST_PROXY', '10.0.0.0/'],
    ['TRUST_PROXY', '10.0.0.0/x'],
    ['TRUST_PROXY', 'fd00::/129'],
    ['TRUST_PROXY', '10.0.0.1, 300.1.1.1'],
    ['TRUST_PROXY', '1'.repeat(400)],
  ])('refuses %s=%s, naming the variable', (name, value) => {
    const errors = errorsOf({ [name]: value });
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(new RegExp(`^${name} `));
  });

  it('says what is wrong and what is expected', () => {
    expect(errorsOf({ PORT: 'abc' })[0]).toMatch(/integer from 0 to 65535.*"abc"/);
    expect(errorsOf({ DATABASE_URL: 'mysql://x' })[0]).toMatch(/postgres/);
    expect(errorsOf({ REDIS_URL: 'http://x' })[0]).toMatch(/redis/);
    expect(errorsOf({ LOG_LEVEL: 'loud' })[0]).toMatch(/fatal, error, warn, info, debug, trace, silent/);
    expect(errorsOf({ NODE_ENV: 'staging' })[0]).toMatch(/development, production, test/);
    expect(errorsOf({ PERMISSIONS: 'root' })[0]).toMatch(/"root" is reserved/);
    expect(errorsOf({ PERMISSIONS: 'Billing' })[0]).toMatch(/"Billing" is not a snake_case/);
    expect(errorsOf({ ROOT_PASSWORD: 'short' })[0]).toMatch(/8 to 1024 characters/);
    expect(errorsOf({ PASSWORD_HASH_TIME_COST: '0' })[0]).toMatch(/from 1 to 100/);
    expect(errorsOf({ TRUST_PROXY: '10.0.0.1, proxy.internal' })[0]).toMatch(/hop count or a comma-separated list.*"proxy\.internal" is neither/);
    expect(errorsOf({ TRUST_PROXY: '40' })[0]).toMatch(/hop count from 0 to 32/);
  });

  it('never echoes a rejected ROOT_PASSWORD', () => {
    expect(errorsOf({ ROOT_PASSWORD: 'hunter2' }).join('\n')).not.toContain('hunter2');
  });

  it('reports every invalid variable at once', () => {
    const errors = errorsOf({
      PORT: 'abc',
      DATABASE_URL: 'mysql://x',
      REDIS_URL: 'http://x',
      REDIS_PREFIX: 'no spaces please',
      LOG_LEVEL: 'loud',
      NODE_ENV: 'staging',
      PERMISSIONS: 'root,Not-Snake',
      ROOT_PASSWORD: 'short',
      PASSWORD_HASH_MEMORY_KIB: '1',
      PASSWORD_HASH_TIME_COST: '1000',
    });
    const named = errors.map((error) => error.split(' ')[0]);
    expect([...new Set(named)].sort()).toEqual(
      [
        'DATABASE_URL',
        'LOG_LEVEL',
        'NODE_ENV',
        'PASSWORD_HASH_MEMORY_KIB',
        'PASSWORD_HASH_TIME_COST',
        'PERMISSIONS',
        'PORT',
        'REDIS_PREFIX',
        'REDIS_URL',
        'ROOT_PASSWORD',
      ].sort(),
    );
    // Both bad permission names are reported.
    expect(errors.filter((error) => error.startsWith('PERMISSIONS'))).toHaveLength(2);
  });

  describe('NODE_ENV=production', () => {
    it('refuses to start without DATABASE_URL and REDIS_URL, saying why', () => {
      const errors = errorsOf({ NODE_ENV: 'production' });
      expect(errors).toHaveLength(2);
      expect(errors[0]).toMatch(/^DATABASE_URL is required when NODE_ENV=production/);
      expect(errors[1]).toMatch(/^REDIS_URL is required when NODE_ENV=production/);
      for (const error of errors) expect(error).toMatch(/single node/);
    });

    it('refuses a missing REDIS_URL alone', () => {
      const errors = errorsOf({ NODE_ENV: 'production', DATABASE_URL: 'postgres://db/gateway' });
      expect(errors).toHaveLength(1);
      expect(errors[0]).toMatch(/^REDIS_URL is required when NODE_ENV=production/);
    });

    it('refuses a missing DATABASE_URL alone, and a blank one', () => {
      for (const databaseUrl of [undefined, '', '   ']) {
        const errors = errorsOf({ NODE_ENV: 'production', DATABASE_URL: databaseUrl, REDIS_URL: 'redis://cache:6379' });
        expect(errors).toHaveLength(1);
        expect(errors[0]).toMatch(/^DATABASE_URL is required when NODE_ENV=production/);
      }
    });

    it('reports the missing URLs together with the other invalid variables', () => {
      const errors = errorsOf({ NODE_ENV: 'production', PORT: 'abc' });
      expect(errors.map((error) => error.split(' ')[0]).sort()).toEqual(['DATABASE_URL', 'PORT', 'REDIS_URL']);
    });

    it('starts with both URLs', () => {
      const config = valid({ NODE_ENV: 'production', DATABASE_URL: 'postgres://db/gateway', REDIS_URL: 'redis://cache:6379' });
      expect(config.nodeEnv).toBe('production');
    });

    it('lets the other environments run on the embedded defaults', () => {
      expect(valid({ NODE_ENV: 'test' }).databaseUrl).toBeUndefined();
      expect(valid({ NODE_ENV: 'development' }).redisUrl).toBeUndefined();
    });
  });

  describe('TRUST_PROXY', () => {
    it('trusts nobody when unset, empty or 0', () => {
      for (const value of [undefined, '', ' ', '0', ' , ']) expect(valid({ TRUST_PROXY: value }).trustProxy).toEqual({ kind: 'none' });
    });

    it('takes a hop count', () => {
      expect(valid({ TRUST_PROXY: ' 1 ' }).trustProxy).toEqual({ kind: 'hops', hops: 1 });
      expect(valid({ TRUST_PROXY: '32' }).trustProxy).toEqual({ kind: 'hops', hops: 32 });
    });

    it('takes addresses and networks of both families, normalising IPv4-mapped addresses', () => {
      const trust = valid({ TRUST_PROXY: '10.0.0.0/8, 192.168.1.7 ,fd00::/8,::ffff:172.16.0.1, 2001:DB8::1/128,' }).trustProxy;
      expect(trust.kind).toBe('addresses');
      expect(trust.kind === 'addresses' && trust.entries).toEqual(['10.0.0.0/8', '192.168.1.7/32', 'fd00::/8', '172.16.0.1/32', '2001:db8::1/128']);
    });
  });

  describe('PERMISSIONS', () => {
    it('always declares admin, first', () => {
      expect(valid({}).permissions).toEqual(['admin']);
      expect(valid({ PERMISSIONS: 'billing' }).permissions).toEqual(['admin', 'billing']);
      expect(valid({ PERMISSIONS: 'billing,admin' }).permissions).toEqual(['admin', 'billing']);
    });

    it('trims whitespace, skips empty items and removes duplicates, keeping the order', () => {
      expect(valid({ PERMISSIONS: ' support , billing,support ,, admin ,  reports_2 ,billing' }).permissions).toEqual([
        'admin',
        'support',
        'billing',
        'reports_2',
      ]);
      expect(valid({ PERMISSIONS: ' , ,' }).permissions).toEqual(['admin']);
    });
  });

  it('returns a frozen configuration', () => {
    const config = valid({ PERMISSIONS: 'billing' });
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.permissions)).toBe(true);
    expect(Object.isFrozen(config.passwordHashing)).toBe(true);
    expect(() => {
      (config as { port: number }).port = 1;
    }).toThrow(TypeError);
    expect(() => (config.permissions as string[]).push('extra')).toThrow(TypeError);
    expect(config.permissions).toEqual(['admin', 'billing']);
  });

  it('is pure: reads only the map it is given and leaves it unchanged', () => {
    const saved = { PORT: process.env.PORT, LOG_LEVEL: process.env.LOG_LEVEL };
    process.env.PORT = '1234';
    process.env.LOG_LEVEL = 'debug';
    try {
      const env = Object.freeze({ PERMISSIONS: ' billing ', HOST: ' ::1 ' });
      const first = valid(env);
      expect(first.port).toBe(8080);
      expect(first.logLevel).toBe('info');
      expect(env).toEqual({ PERMISSIONS: ' billing ', HOST: ' ::1 ' });
      expect(valid(env)).toEqual(first);
      expect(valid(env)).not.toBe(first);
    } finally {
      for (const [name, value] of Object.entries(saved)) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
    }
  });
});
