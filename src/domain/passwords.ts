import { randomBytes } from 'node:crypto';
import argon2 from 'argon2';

export interface PasswordHashingOptions {
  /** argon2id memory cost in KiB (OWASP minimum: 19 MiB). */
  readonly memoryKib: number;
  readonly timeCost: number;
  readonly parallelism: number;
}

export const DEFAULT_PASSWORD_HASHING: PasswordHashingOptions = { memoryKib: 19 * 1024, timeCost: 2, parallelism: 1 };

export interface PasswordCheck {
  readonly ok: boolean;
  /** The hash was made with other parameters and should be replaced now that the password is known. */
  readonly needsRehash: boolean;
}

/** argon2id hashing in libuv's thread pool, off the event loop. */
export class Passwords {
  readonly #options: argon2.Options & { raw?: false };
  #dummyHash: Promise<string> | undefined;

  constructor(options: PasswordHashingOptions = DEFAULT_PASSWORD_HASHING) {
    this.#options = {
      type: argon2.argon2id,
      memoryCost: options.memoryKib,
      timeCost: options.timeCost,
      parallelism: options.parallelism,
    };
  }

  hash(password: string): Promise<string> {
    return argon2.hash(password, this.#options);
  }

  async verify(hash: string | null | undefined, password: string): Promise<PasswordCheck> {
    if (!hash) {
      // Spend the same time as a real check, so unknown accounts cannot be told apart by timing.
      this.#dummyHash ??= this.hash(randomBytes(16).toString('hex'));
      await argon2.verify(await this.#dummyHash, password).catch(() => false);
      return { ok: false, needsRehash: false };
    }
    const ok = await argon2.verify(hash, password).catch(() => false);
    return { ok, needsRehash: ok && argon2.needsRehash(hash, this.#options) };
  }

  /** A random password for accounts whose password the caller left to the server: 16 base64url characters. */
  generate(): string {
    return randomBytes(12).toString('base64url');
  }
}
