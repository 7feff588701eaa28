import { eq, sql } from 'drizzle-orm';
import type { Db } from '../db/client.ts';
import { settings, userPasswords, users } from '../db/schema.ts';
import type { Passwords } from './passwords.ts';
import { ROOT_USER_ID, ROOT_USERNAME } from './principal.ts';
import { smtpSettingsFromUrl } from './settings.ts';

/**
 * Hands a generated root password to the operator, never to the log. When it throws, the password
 * is not stored and the start fails.
 */
export type RootPasswordDelivery = (password: string) => Promise<void>;

export interface BootstrapOptions {
  readonly db: Db;
  readonly passwords: Passwords;
  readonly rootPassword: string | undefined;
  readonly smtpUrl: string | undefined;
  /** Needed only when ROOT_PASSWORD is unset and root has no password yet. */
  readonly deliverRootPassword: RootPasswordDelivery | undefined;
}

/**
 * Makes sure the settings row and the root user exist. ROOT_PASSWORD, when given, is the root
 * password from then on; otherwise a random one is generated on first start and delivered once.
 * Nodes starting together serialise on an advisory lock, so only one of them generates it.
 */
export async function bootstrap(options: BootstrapOptions): Promise<void> {
  const { db, passwords } = options;
  await db.transaction(async (tx) => {
    await tx.execute(sql`select pg_advisory_xact_lock(hashtext('identity-gateway:bootstrap'))`);
    await tx
      .insert(settings)
      .values({ id: 1, ...smtpSettingsFromUrl(options.smtpUrl) })
      .onConflictDoNothing();
    await tx.insert(users).values({ id: ROOT_USER_ID, name: ROOT_USERNAME, enabled: true }).onConflictDoNothing();
    const [stored] = await tx.select().from(userPasswords).where(eq(userPasswords.userId, ROOT_USER_ID));
    if (options.rootPassword) {
      if (stored && (await passwords.verify(stored.hash, options.rootPassword)).ok) return;
      const hash = await passwords.hash(options.rootPassword);
      await tx
        .insert(userPasswords)
        .values({ userId: ROOT_USER_ID, hash })
        .onConflictDoUpdate({ target: userPasswords.userId, set: { hash, updatedAt: new Date() } });
      return;
    }
    if (stored) return;
    if (!options.deliverRootPassword) throw new Error('ROOT_PASSWORD is unset and there is no way to hand a generated one over');
    const password = passwords.generate();
    await tx.insert(userPasswords).values({ userId: ROOT_USER_ID, hash: await passwords.hash(password) });
    // Inside the transaction: a password that cannot be handed over is not stored.
    await options.deliverRootPassword(password);
  });
}
