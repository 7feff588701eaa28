import { randomBytes } from 'node:crypto';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { RootPasswordDelivery } from './domain/bootstrap.ts';
import type { Logger } from './logger.ts';

/** The file under DATA_DIR that holds a generated root password. */
export const ROOT_PASSWORD_FILE = 'initial-root-password';

export interface RootPasswordNoticeOptions {
  readonly dataDir: string;
  readonly log: Logger;
  /** The person at the terminal, when there is one (see LoggerHandle.terminal). */
  readonly terminal: ((text: string) => void) | undefined;
}

/**
 * Hands a generated root password to the operator without putting it in the log, as Jenkins and
 * GitLab do: a file only the gateway's user can read, whose path is logged. A person at a terminal
 * also sees the password itself, on a line of its own.
 */
export function rootPasswordNotice(options: RootPasswordNoticeOptions): RootPasswordDelivery {
  return async (password) => {
    const file = path.resolve(options.dataDir, ROOT_PASSWORD_FILE);
    // Written aside and renamed, so the file is whole and owner-only even if one was left over.
    const aside = `${file}.${randomBytes(6).toString('hex')}`;
    try {
      await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
      await writeFile(aside, `${password}\n`, { mode: 0o600, flag: 'wx' });
      await rename(aside, file);
    } catch (error) {
      await rm(aside, { force: true }).catch(() => {});
      throw new Error(
        `cannot write the generated root password to ${file} (${(error as Error).message}); make DATA_DIR writable or set ROOT_PASSWORD`,
      );
    }
    options.log.warn(
      { file },
      'generated a password for the root user; it is in this file, readable only by this user (delete the file once noted, or set ROOT_PASSWORD to choose one)',
    );
    options.terminal?.(`\n  Generated password for the root user (also in ${file}):\n\n      ${password}\n\n`);
  };
}
