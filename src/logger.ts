import pino, { type DestinationStream, type Logger, type LevelWithSilent } from 'pino';
import { prettyFactory } from 'pino-pretty';

export type { Logger };

export interface LoggerHandle {
  readonly log: Logger;
  /**
   * Shows text to the person at the terminal, in order with the log lines; undefined when stdout is
   * not a terminal, since that output is collected as a log and some notices must not land there.
   */
  readonly terminal: ((text: string) => void) | undefined;
  /** Writes out whatever the asynchronous destination still buffers. */
  flush(): void;
}

/**
 * Log lines on stdout through an asynchronous destination, so that logging never blocks a request:
 * JSON lines, or readable lines (pino-pretty) when stdout is a terminal. Pretty printing runs on the
 * main thread rather than in a transport's worker thread: a terminal shows a person's rate of lines,
 * the worker would cost a thread and about 35 MB, and only the main thread keeps terminal notices in
 * order with the log lines. Secrets never reach the log: tokens and passwords are redacted wherever
 * they appear in a bound object.
 */
export function createLogger(level: LevelWithSilent, destination?: DestinationStream): LoggerHandle {
  const sonic = destination ? undefined : pino.destination({ dest: 1, sync: false });
  const pretty = sonic && process.stdout.isTTY ? prettyFactory({ translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid' }) : undefined;
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
    destination ?? (pretty ? { write: (line: string) => sonic!.write(pretty(line)) } : sonic),
  );
  return {
    log,
    terminal: pretty ? (text) => sonic!.write(text) : undefined,
    flush() {
      if (sonic) sonic.flushSync();
    },
  };
}
