import { PGlite } from '@electric-sql/pglite';
import { openDatabase } from '../../src/db/client.ts';

let migrated: Promise<PGlite> | undefined;

/**
 * A fresh embedded database with every migration applied: the first call of a test file migrates
 * one in memory, later calls clone it (about half a second each).
 */
export async function freshPglite(): Promise<PGlite> {
  migrated ??= (async () => {
    const base = await PGlite.create();
    const database = await openDatabase({ kind: 'pglite', client: base });
    await database.migrate();
    return base;
  })();
  return (await migrated).clone() as Promise<PGlite>;
}
