import type { Config } from '../config.ts';
import type { Db } from '../db/client.ts';
import { InvalidatingCache } from '../kv/cache.ts';
import type { Kv } from '../kv/kv.ts';
import type { Logger } from '../logger.ts';
import { AccountEmails } from './account-emails.ts';
import { ApiTokens } from './api-tokens.ts';
import { Authenticator, type CachedResolution } from './auth.ts';
import { CallLimits, type CallLimitOverrides } from './call-limits.ts';
import { LiveSettings } from './live-settings.ts';
import { bootstrap, type RootPasswordDelivery } from './bootstrap.ts';
import { CallLog, type CallLogOptions } from './call-log.ts';
import { Notifications } from './notifications.ts';
import { Passwords, type PasswordHashingOptions } from './passwords.ts';
import { PermissionCatalog } from './permissions.ts';
import { Outbox } from './outbox.ts';
import { Profile } from './profile.ts';
import { RateLimiter } from './rate-limits.ts';
import { Sessions } from './sessions.ts';
import { Settings } from './settings.ts';
import { testSmtp, type SmtpTestInput, type SmtpTestResult } from './smtp-test.ts';
import { Users } from './users.ts';

export interface DomainDeps {
  readonly db: Db;
  readonly kv: Kv;
  readonly config: Pick<Config, 'permissions' | 'rootPassword' | 'smtpUrl' | 'signinMinDurationMs'>;
  readonly log: Logger;
  readonly passwordHashing?: PasswordHashingOptions;
  /** How a generated root password reaches the operator (needed when ROOT_PASSWORD is unset). */
  readonly deliverRootPassword?: RootPasswordDelivery;
  /** Clock and intervals of the call log and statistics. */
  readonly callLog?: CallLogOptions;
}

const NO_OVERRIDES: CallLimitOverrides = Object.freeze({});

/** The business rules of the gateway, wired to their stores; transports call nothing else. */
export class Domain {
  readonly permissions: PermissionCatalog;
  readonly passwords: Passwords;
  readonly auth: Authenticator;
  readonly limiter: RateLimiter;
  readonly settings: Settings;
  readonly users: Users;
  readonly sessions: Sessions;
  readonly apiTokens: ApiTokens;
  readonly profile: Profile;
  readonly callLog: CallLog;
  /** E-mail: the outbox, and the confirmation and password-reset flows that write to it. */
  readonly outbox: Outbox;
  readonly accountEmails: AccountEmails;
  readonly notifications: Notifications;
  /** Settings every call consults, kept in memory and reread on every node after a change. */
  readonly liveSettings: LiveSettings;
  /** The per-method limits of every call (v1 methods and GraphQL root fields). */
  readonly callLimits: CallLimits;
  readonly #authCache: InvalidatingCache<CachedResolution>;

  private constructor(deps: DomainDeps, authCache: InvalidatingCache<CachedResolution>) {
    const { db, log } = deps;
    this.#authCache = authCache;
    this.permissions = new PermissionCatalog(deps.config.permissions);
    this.passwords = new Passwords(deps.passwordHashing);
    this.auth = new Authenticator(db, authCache, this.permissions, log);
    const invalidate = (tags: readonly string[]) => this.auth.invalidate(tags);
    this.limiter = new RateLimiter(deps.kv.counters);
    this.settings = new Settings(db);
    this.notifications = new Notifications({ db, settings: this.settings, pubsub: deps.kv.pubsub, log });
    const securityEvent = this.notifications.securityEvent;
    this.users = new Users({ db, settings: this.settings, passwords: this.passwords, catalog: this.permissions, invalidate, securityEvent });
    this.sessions = new Sessions({
      db,
      passwords: this.passwords,
      catalog: this.permissions,
      limiter: this.limiter,
      settings: this.settings,
      invalidate,
      signinMinDurationMs: deps.config.signinMinDurationMs,
      securityEvent,
    });
    this.apiTokens = new ApiTokens({ db, catalog: this.permissions, invalidate, securityEvent });
    this.profile = new Profile(this.users, this.passwords);
    this.callLog = new CallLog({ db, stats: deps.kv.stats, settings: this.settings, logger: log, options: deps.callLog });
    this.outbox = new Outbox(db);
    this.accountEmails = new AccountEmails({
      db,
      outbox: this.outbox,
      limiter: this.limiter,
      settings: this.settings,
      passwords: this.passwords,
      invalidate,
      securityEvent,
      log,
      minDurationMs: deps.config.signinMinDurationMs,
    });
    this.liveSettings = new LiveSettings(() => this.settings.read(), deps.kv.pubsub, log);
    this.settings.onChanged = () => this.liveSettings.changed();
    this.callLimits = new CallLimits(deps.kv.counters, () => (this.liveSettings.current?.callLimits ?? NO_OVERRIDES) as CallLimitOverrides);
  }

  /** Tries SMTP settings (given, or the stored ones) without storing anything. */
  testSmtp(input: SmtpTestInput): Promise<SmtpTestResult> {
    return testSmtp(this.settings, input);
  }

  /** Wires the domain and makes sure the root user and the settings row exist. */
  static async create(deps: DomainDeps): Promise<Domain> {
    const authCache = new InvalidatingCache<CachedResolution>(deps.kv.pubsub, 'auth-invalidation');
    await authCache.start();
    const domain = new Domain(deps, authCache);
    try {
      await domain.notifications.start();
      await bootstrap({
        db: deps.db,
        passwords: domain.passwords,
        rootPassword: deps.config.rootPassword,
        smtpUrl: deps.config.smtpUrl,
        deliverRootPassword: deps.deliverRootPassword,
      });
      await domain.callLog.start();
      await domain.liveSettings.start();
    } catch (error) {
      await domain.close();
      throw error;
    }
    return domain;
  }

  async close(): Promise<void> {
    await this.callLog.close();
    await this.notifications.close();
    await this.liveSettings.close();
    await this.#authCache.close();
  }
}
