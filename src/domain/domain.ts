import type { Config } from '../config.ts';
import type { Db } from '../db/client.ts';
import { InvalidatingCache } from '../kv/cache.ts';
import type { Kv } from '../kv/kv.ts';
import type { Logger } from '../logger.ts';
import { ApiTokens } from './api-tokens.ts';
import { Authenticator, type CachedResolution } from './auth.ts';
import { CallLimits, type CallLimitOverrides } from './call-limits.ts';
import { LiveSettings } from './live-settings.ts';
import { bootstrap, type RootPasswordDelivery } from './bootstrap.ts';
import { Passwords, type PasswordHashingOptions } from './passwords.ts';
import { PermissionCatalog } from './permissions.ts';
import { Profile } from './profile.ts';
import { RateLimiter } from './rate-limits.ts';
import { Sessions } from './sessions.ts';
import { Settings } from './settings.ts';
import { Users } from './users.ts';

export interface DomainDeps {
  readonly db: Db;
  readonly kv: Kv;
  readonly config: Pick<Config, 'permissions' | 'rootPassword' | 'smtpUrl' | 'signinMinDurationMs'>;
  readonly log: Logger;
  readonly passwordHashing?: PasswordHashingOptions;
  /** How a generated root password reaches the operator (needed when ROOT_PASSWORD is unset). */
  readonly deliverRootPassword?: RootPasswordDelivery;
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
    this.users = new Users({ db, settings: this.settings, passwords: this.passwords, catalog: this.permissions, invalidate });
    this.sessions = new Sessions({
      db,
      passwords: this.passwords,
      catalog: this.permissions,
      limiter: this.limiter,
      settings: this.settings,
      invalidate,
      signinMinDurationMs: deps.config.signinMinDurationMs,
    });
    this.apiTokens = new ApiTokens({ db, catalog: this.permissions, invalidate });
    this.profile = new Profile(this.users, this.passwords);
    this.liveSettings = new LiveSettings(() => this.settings.read(), deps.kv.pubsub, log);
    this.settings.onChanged = () => this.liveSettings.changed();
    this.callLimits = new CallLimits(deps.kv.counters, () => (this.liveSettings.current?.callLimits ?? NO_OVERRIDES) as CallLimitOverrides);
  }

  /** Wires the domain and makes sure the root user and the settings row exist. */
  static async create(deps: DomainDeps): Promise<Domain> {
    const authCache = new InvalidatingCache<CachedResolution>(deps.kv.pubsub, 'auth-invalidation');
    await authCache.start();
    const domain = new Domain(deps, authCache);
    try {
      await bootstrap({
        db: deps.db,
        passwords: domain.passwords,
        rootPassword: deps.config.rootPassword,
        smtpUrl: deps.config.smtpUrl,
        deliverRootPassword: deps.deliverRootPassword,
      });
      await domain.liveSettings.start();
    } catch (error) {
      await domain.close();
      throw error;
    }
    return domain;
  }

  async close(): Promise<void> {
    await this.liveSettings.close();
    await this.#authCache.close();
  }
}
