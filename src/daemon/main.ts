/** `presence-daemon`: the desktop daemon's command line. */
import { SystemOpener } from './actions.ts';
import { ConfigError, loadDaemonConfig, usage } from './config.ts';
import { runDaemon } from './daemon.ts';
import { connectNotifier } from './notifier.ts';
import { runPairCommand } from './pair.ts';
import { runServiceCommand } from './service.ts';
import { forTerminal } from './terminal.ts';

async function main(): Promise<number> {
  if (process.argv[2] === 'service') {
    try {
      return runServiceCommand(process.argv.slice(3), process.env, (line) => console.log(line));
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      console.error(`presence-daemon service: ${error.message.split('\n').map(forTerminal).join('\n')}`);
      return 1;
    }
  }
  if (process.argv[2] === 'pair') {
    return runPairCommand(process.argv.slice(3), process.env, (line) => console.log(line)).catch((error: unknown) => {
      if (!(error instanceof ConfigError)) throw error;
      console.error(`presence-daemon pair: ${forTerminal(error.message)}`);
      return 1;
    });
  }
  let config;
  try {
    config = loadDaemonConfig(process.argv.slice(2), process.env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    console.error(`presence-daemon: ${error.message}`);
    return 1;
  }
  if (config === 'help') {
    console.log(usage);
    return 0;
  }
  for (const warning of config.warnings) console.error(`presence-daemon: ${warning}`);
  const notifier = config.once ? null : await connectNotifier(process.env);
  if (!config.once && !notifier) console.error('no notification server here: printing notifications instead');
  const stop = new AbortController();
  process.once('SIGINT', () => stop.abort());
  process.once('SIGTERM', () => stop.abort());
  return runDaemon({
    server: config.server,
    token: config.token,
    notifier,
    opener: new SystemOpener(config.schemes),
    print: (line) => console.log(line),
    report: (line) => console.error(line),
    json: config.json,
    once: config.once,
    onceTimeoutMs: config.onceTimeoutMs,
    signal: stop.signal,
  });
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`presence-daemon: ${forTerminal(error instanceof Error ? error.message : String(error))}`);
    process.exit(1);
  },
);
