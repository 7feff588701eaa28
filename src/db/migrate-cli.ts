import path from 'node:path';
import { configOrExit } from '../config.ts';
import { openDatabase } from './client.ts';

/** `npm run db:migrate`: applies the pending migrations to the configured database and exits. */
async function main(): Promise<void> {
  const config = configOrExit(process.env);
  const database = await openDatabase(
    config.databaseUrl ? { kind: 'postgres', url: config.databaseUrl, maxConnections: 1 } : { kind: 'pglite', dataDir: path.resolve(config.dataDir) },
  );
  try {
    await database.migrate();
    process.stdout.write(`migrations applied to ${database.location}\n`);
  } finally {
    await database.close();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`Migration failed: ${(error as Error).message}\n`);
  process.exit(1);
});
