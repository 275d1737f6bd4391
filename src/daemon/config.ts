/**
 * The daemon's settings: flags first, then the environment, then the config
 * file (`~/.config/presence/daemon.json`, or `--config FILE`):
 *
 *   { "server": "https://presence.example", "token": "prs_dev_…",
 *     "schemes": { "chat": ["chat-app", "--open", "{action}"] } }
 *
 * `schemes` maps a deep-link scheme to the command a click runs (no shell;
 * `{action}` is replaced by the whole link). Unmapped schemes go to the OS.
 * The token comes from `--token-file`, `PRESENCE_DEVICE_TOKEN` or the file:
 * a command line (`--token`) is visible to every user of the machine.
 */
import { closeSync, fstatSync, openSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { findJsonSyntaxError } from './jsonSyntax.ts';
import { forTerminal } from './terminal.ts';

export interface DaemonConfig {
  /** http(s) URL of the Presence server. */
  server: string;
  token: string;
  schemes: Record<string, string[]>;
  json: boolean;
  once: boolean;
  /** With `once`: give up after this long without having received and acknowledged the backlog. */
  onceTimeoutMs: number;
  /** For stderr: settings that work but expose the token. */
  warnings: string[];
}

/** How long `--once` waits for the server by default. */
export const DEFAULT_ONCE_TIMEOUT_SECONDS = 30;

const fileSchema = z
  .object({
    server: z.string().optional(),
    token: z.string().optional(),
    schemes: z.record(z.string().regex(/^[a-z][a-z0-9+.-]*$/), z.array(z.string()).min(1)).optional(),
  })
  .strict();

export const usage = `Usage: presence-daemon [--server URL] [--token-file FILE] [--config FILE] [--json] [--once [--timeout SECONDS]]
       presence-daemon pair CODE [--server URL] [--name NAME] [--config FILE] [--force]   (see pair --help)
       presence-daemon service install|uninstall|status [--config FILE]   (see service --help)

  --server URL       the Presence server (env PRESENCE_SERVER; default http://localhost:3000)
  --token-file FILE  read this device's token from FILE (readable by its owner only);
                     or set PRESENCE_DEVICE_TOKEN, or put "token" in the config file
  --token TOKEN      the token itself: other users see it in ps, prefer the above
  --config FILE      settings file (default ~/.config/presence/daemon.json)
  --json             print each notification as one JSON line
  --once             print what is pending, acknowledge it and exit
  --timeout SECONDS  with --once: give up after this long and exit 3 (default ${DEFAULT_ONCE_TIMEOUT_SECONDS})`;

export class ConfigError extends Error {}

/** `$XDG_CONFIG_HOME/presence/daemon.json`, or under `~/.config`. */
export function defaultConfigPath(env: NodeJS.ProcessEnv): string {
  const base = env.XDG_CONFIG_HOME || path.join(os.homedir(), '.config');
  return path.join(base, 'presence', 'daemon.json');
}

/** Whether users other than the owner (group, others) have any access to an open file; never on Windows, which has no such modes. */
function sharedWithOthers(mode: number): boolean {
  return process.platform !== 'win32' && (mode & 0o077) !== 0;
}

interface ConfigFile {
  settings: z.infer<typeof fileSchema>;
  /** Set when the file could be read by other users. */
  shared: boolean;
}

/** The settings in a config file (none when it is missing and not `required`), or a ConfigError. */
export function readConfigFile(file: string, required: boolean): ConfigFile {
  let text: string;
  let shared: boolean;
  try {
    const fd = openSync(file, 'r');
    try {
      shared = sharedWithOthers(fstatSync(fd).mode);
      text = readFileSync(fd, 'utf8');
    } finally {
      closeSync(fd);
    }
  } catch (error) {
    if (!required && (error as NodeJS.ErrnoException).code === 'ENOENT') return { settings: {}, shared: false };
    throw new ConfigError(`cannot read ${file}: ${(error as Error).message}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text.replace(/^\uFEFF/, ''));
  } catch {
    const broken = findJsonSyntaxError(text.replace(/^\uFEFF/, ''));
    throw new ConfigError(broken ? `${file}:${broken.line}:${broken.column}: invalid JSON: ${forTerminal(broken.problem)}` : `${file}: invalid JSON`);
  }
  const parsed = fileSchema.safeParse(value);
  if (!parsed.success) throw new ConfigError(`${file}: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  return { settings: parsed.data, shared };
}

/** The token in a file that only its owner can read (like ssh's private keys), without surrounding white space. */
function readTokenFile(file: string): string {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (error) {
    throw new ConfigError(`cannot read token file ${file}: ${(error as Error).message}`);
  }
  try {
    const { mode } = fstatSync(fd);
    if (sharedWithOthers(mode)) {
      throw new ConfigError(`token file ${file} is readable by other users (mode ${(mode & 0o777).toString(8).padStart(4, '0')}): run chmod 600 ${file}`);
    }
    const token = readFileSync(fd, 'utf8').trim();
    if (!token) throw new ConfigError(`token file ${file} is empty`);
    return token;
  } finally {
    closeSync(fd);
  }
}

function onceTimeoutMs(value: string | undefined, once: boolean): number {
  if (value === undefined) return DEFAULT_ONCE_TIMEOUT_SECONDS * 1000;
  if (!once) throw new ConfigError('--timeout applies only to --once');
  const seconds = Number(value);
  if (!/^\d+(\.\d+)?$/.test(value) || seconds < 0.1 || seconds > 86_400) {
    throw new ConfigError(`--timeout must be a number of seconds from 0.1 to 86400, got "${value}"`);
  }
  return Math.round(seconds * 1000);
}

/** Resolves the settings, or throws ConfigError with a message for the user. */
export function loadDaemonConfig(argv: string[], env: NodeJS.ProcessEnv): DaemonConfig | 'help' {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        server: { type: 'string' },
        token: { type: 'string' },
        'token-file': { type: 'string' },
        config: { type: 'string' },
        timeout: { type: 'string' },
        json: { type: 'boolean' },
        once: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }));
  } catch (error) {
    throw new ConfigError(`${(error as Error).message}\n\n${usage}`);
  }
  if (values.help) return 'help';
  if (values.token !== undefined && values['token-file'] !== undefined) throw new ConfigError('give either --token or --token-file, not both');
  const once = values.once ?? false;
  const timeoutMs = onceTimeoutMs(values.timeout, once);
  const configPath = values.config ?? defaultConfigPath(env);
  const { settings: file, shared } = readConfigFile(configPath, values.config !== undefined);
  const warnings: string[] = [];
  // Any user of the machine can read another's command line (ps, /proc); the environment and files are the owner's.
  if (values.token !== undefined) {
    warnings.push('warning: --token shows the device token to every user of this machine (ps); use --token-file FILE or PRESENCE_DEVICE_TOKEN instead');
  }
  const fromFlags = values['token-file'] !== undefined ? readTokenFile(values['token-file']) : values.token;
  const token = fromFlags || env.PRESENCE_DEVICE_TOKEN || file.token;
  if (!fromFlags && !env.PRESENCE_DEVICE_TOKEN && file.token && shared) {
    warnings.push(`warning: ${configPath} holds the device token and other users can read it: run chmod 600 ${configPath}`);
  }
  const server = values.server ?? env.PRESENCE_SERVER ?? file.server ?? 'http://localhost:3000';
  if (!/^https?:\/\/[^/]/.test(server)) throw new ConfigError(`server must be an http(s) URL, got "${server}"`);
  if (!token) throw new ConfigError(`no device token: pass --token-file FILE, set PRESENCE_DEVICE_TOKEN, or put "token" in the config file\n\n${usage}`);
  return { server, token, schemes: file.schemes ?? {}, json: values.json ?? false, once, onceTimeoutMs: timeoutMs, warnings };
}
