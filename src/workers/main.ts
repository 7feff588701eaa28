import { configOrExit } from '../config.ts';
import { handleUncaughtExceptions } from '../db/availability.ts';
import { openDatabase } from '../db/client.ts';
import { Outbox } from '../domain/outbox.ts';
import { Settings } from '../domain/settings.ts';
import { createLogger } from '../logger.ts';
import { startMail } from './mail.ts';

/**
 * `npm run worker`: mail workers apart from the gateways (N gateways with MAIL_WORKER=off + M of
 * these), on the same DATABASE_URL, REDIS_URL and REDIS_PREFIX. SIGTERM or SIGINT stops claiming;
 * the messages in hand finish, or go back to the queue, before the process exits 0.
 */
const SHUTDOWN_TIMEOUT_MS = 10_000;

async function main(): Promise<void> {
  const config = configOrExit(process.env);
  const { log, flush } = createLogger(config.logLevel);
  if (!config.databaseUrl || !config.redisUrl) {
    process.stderr.write('npm run worker needs DATABASE_URL and REDIS_URL: in the embedded mode the gateway sends mail itself.\n');
    process.exit(1);
  }
  let stop: (deadline: number) => Promise<void>;
  try {
    const database = await openDatabase({ kind: 'postgres', url: config.databaseUrl, maxConnections: config.mail.concurrency + 2, log });
    handleUncaughtExceptions(database, log, flush);
    await database.migrate();
    const mail = await startMail({
      outbox: new Outbox(database.db),
      settings: new Settings(database.db),
      config: config.mail,
      log,
      redis: { url: config.redisUrl, keyPrefix: config.redisPrefix },
      runWorker: true,
    });
    stop = async (deadline) => {
      await mail.close(deadline);
      await database.close();
    };
    log.info({ database: database.location, concurrency: config.mail.concurrency, owner: mail.processor?.owner }, 'mail worker ready');
  } catch (error) {
    log.fatal({ reason: (error as Error).message }, 'mail worker could not start');
    flush();
    process.stderr.write(`The mail worker could not start: ${(error as Error).message}\n`);
    process.exit(1);
  }

  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'mail worker stopping');
    const force = setTimeout(() => {
      log.error('mail worker shutdown took too long; exiting');
      flush();
      process.exit(1);
    }, SHUTDOWN_TIMEOUT_MS);
    force.unref();
    stop(Date.now() + SHUTDOWN_TIMEOUT_MS - 1000).then(
      () => {
        log.info('mail worker stopped');
        flush();
        process.exit(0);
      },
      (err: unknown) => {
        log.error({ err }, 'error while stopping the mail worker');
        flush();
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  process.on('unhandledRejection', (err) => log.error({ err }, 'unhandled promise rejection'));
}

void main();
