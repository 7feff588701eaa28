/** A gateway process for the call-log bench: as `src/main.ts`, with recording on or off (BENCH_RECORDING=off). */
import { loadConfig } from '../src/config.ts';
import { startGateway } from '../src/gateway.ts';
import { createLogger } from '../src/logger.ts';

const loaded = loadConfig(process.env);
if (!loaded.ok) {
  console.error(loaded.errors.join('\n'));
  process.exit(2);
}
const { log } = createLogger(loaded.config.logLevel);
const gateway = await startGateway({ config: loaded.config, log, callLog: { recording: process.env.BENCH_RECORDING !== 'off' } });
const stop = () => void gateway.close().then(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
