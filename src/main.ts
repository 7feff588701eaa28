import { configOrExit } from './config.ts';
import { handleUncaughtExceptions } from './db/availability.ts';
import type { Gateway } from './gateway.ts';
import { createLogger } from './logger.ts';
import { rootPasswordNotice } from './root-password-notice.ts';

const SHUTDOWN_TIMEOUT_MS = 10_000;
/**
 * Ctrl-C signals the terminal's whole foreground process group and npm passes the signal on, so one
 * press can arrive more than once; repeats this soon after the first belong to it.
 */
const SAME_PRESS_MS = 1000;

async function main(): Promise<void> {
  const config = configOrExit(process.env);
  const { log, terminal, flush } = createLogger(config.logLevel);

  let gateway: Gateway;
  try {
    // Loaded only now, so a configuration error is reported without loading the whole gateway first.
    const { startGateway } = await import('./gateway.ts');
    gateway = await startGateway({ config, log, deliverRootPassword: rootPasswordNotice({ dataDir: config.dataDir, log, terminal }) });
  } catch (error) {
    log.fatal({ reason: (error as Error).message }, 'gateway could not start');
    flush();
    process.stderr.write(`The gateway could not start: ${(error as Error).message}\n`);
    process.exit(1);
  }

  let stoppingSince: number | undefined;
  const stop = (signal: NodeJS.Signals) => {
    if (stoppingSince !== undefined) {
      // Supervisors signal the whole process group, and npm passes SIGTERM on: a repeated SIGTERM
      // does not cut the drain short. A person pressing Ctrl-C again does.
      if (signal === 'SIGINT' && Date.now() - stoppingSince >= SAME_PRESS_MS) {
        log.warn({ signal }, 'interrupted again: exiting now');
        flush();
        process.exit(1);
      }
      log.info({ signal }, 'already shutting down');
      return;
    }
    stoppingSince = Date.now();
    log.info({ signal }, 'shutting down');
    const force = setTimeout(() => {
      log.error('shutdown took too long; exiting');
      flush();
      process.exit(1);
    }, SHUTDOWN_TIMEOUT_MS);
    force.unref();
    gateway.close(SHUTDOWN_TIMEOUT_MS - 500).then(
      () => {
        flush();
        process.exit(0);
      },
      (err: unknown) => {
        log.error({ err }, 'error during shutdown');
        flush();
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  process.on('unhandledRejection', (err) => log.error({ err }, 'unhandled promise rejection'));
  handleUncaughtExceptions(gateway.database, log, flush);
}

void main();
