import type { Config } from '../config.ts';
import type { Db } from '../db/client.ts';
import { InvalidatingCache } from '../kv/cache.ts';
import type { Kv } from '../kv/kv.ts';
import type { Logger } from '../logger.ts';
import { Authenticator, type CachedResolution } from './auth.ts';
import { Passwords, type PasswordHashingOptions } from './passwords.ts';
import { PermissionCatalog } from './permissions.ts';

export interface DomainDeps {
  readonly db: Db;
  readonly kv: Kv;
  readonly config: Pick<Config, 'permissions' | 'rootPassword'>;
  readonly log: Logger;
  readonly passwordHashing?: PasswordHashingOptions;
}

/** The business rules of the gateway, wired to their stores; transports call nothing else. */
export class Domain {
  readonly permissions: PermissionCatalog;
  readonly passwords: Passwords;
  readonly auth: Authenticator;
  readonly #authCache: InvalidatingCache<CachedResolution>;

  private constructor(deps: DomainDeps, authCache: InvalidatingCache<CachedResolution>) {
    this.#authCache = authCache;
    this.permissions = new PermissionCatalog(deps.config.permissions);
    this.passwords = new Passwords(deps.passwordHashing);
    this.auth = new Authenticator(deps.db, authCache, this.permissions, deps.log);
  }

  static async create(deps: DomainDeps): Promise<Domain> {
    const authCache = new InvalidatingCache<CachedResolution>(deps.kv.pubsub, 'auth-invalidation');
    await authCache.start();
    return new Domain(deps, authCache);
  }

  async close(): Promise<void> {
    await this.#authCache.close();
  }
}
