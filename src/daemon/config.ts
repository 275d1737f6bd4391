/**
 * The daemon's settings: flags first, then the environment, then the config
 * file (`~/.config/presence/daemon.json`, or `--config FILE`):
 *
 *   { "server": "https://presence.example", "token": "prs_dev_…",
 *     "schemes": { "chat": ["chat-app", "--open", "{action}"] } }
 *
 * `schemes` maps a deep-link scheme to the command a click runs (no shell;
 * `{action}` is replaced by the whole link). Unmapped schemes go to the OS.
 */
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { z } from 'zod';

export interface DaemonConfig {
  /** http(s) URL of the Presence server. */
  server: string;
  token: string;
  schemes: Record<string, string[]>;
  json: boolean;
  once: boolean;
}

const fileSchema = z
  .object({
    server: z.string().optional(),
    token: z.string().optional(),
    schemes: z.record(z.string().regex(/^[a-z][a-z0-9+.-]*$/), z.array(z.string()).min(1)).optional(),
  })
  .strict();

export const usage = `Usage: presence-daemon [--server URL] [--token TOKEN] [--config FILE] [--json] [--once]

  --server URL   the Presence server (env PRESENCE_SERVER; default http://localhost:3000)
  --token TOKEN  this device's token (env PRESENCE_DEVICE_TOKEN)
  --config FILE  settings file (default ~/.config/presence/daemon.json)
  --json         print each notification as one JSON line
  --once         print what is pending, acknowledge it and exit`;

export class ConfigError extends Error {}

function defaultConfigPath(env: NodeJS.ProcessEnv): string {
  const base = env.XDG_CONFIG_HOME || path.join(os.homedir(), '.config');
  return path.join(base, 'presence', 'daemon.json');
}

function readConfigFile(file: string, required: boolean): z.infer<typeof fileSchema> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    if (!required && (error as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new ConfigError(`cannot read ${file}: ${(error as Error).message}`);
  }
  const parsed = fileSchema.safeParse(JSON.parse(text));
  if (!parsed.success) throw new ConfigError(`${file}: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  return parsed.data;
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
        config: { type: 'string' },
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
  const file = readConfigFile(values.config ?? defaultConfigPath(env), values.config !== undefined);
  const server = values.server ?? env.PRESENCE_SERVER ?? file.server ?? 'http://localhost:3000';
  const token = values.token ?? env.PRESENCE_DEVICE_TOKEN ?? file.token;
  if (!/^https?:\/\/[^/]/.test(server)) throw new ConfigError(`server must be an http(s) URL, got "${server}"`);
  if (!token) throw new ConfigError(`no device token: pass --token, set PRESENCE_DEVICE_TOKEN, or put "token" in the config file\n\n${usage}`);
  return { server, token, schemes: file.schemes ?? {}, json: values.json ?? false, once: values.once ?? false };
}
