/**
 * `presence-daemon pair CODE --server URL`: exchanges a pairing code from the
 * device page (POST /pair) for a device token of the same user and writes it
 * to the config file, readable by its owner only, keeping the file's other
 * settings. A different token already there is kept unless --force.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { ConfigError, defaultConfigPath, readConfigFile } from './config.ts';
import { forTerminal } from './terminal.ts';

export const pairUsage = `Usage: presence-daemon pair CODE [--server URL] [--name NAME] [--config FILE] [--force]

  CODE           the pairing code shown under "Add a device" on a signed-in device page
                 (case and dashes do not matter)
  --server URL   the Presence server (env PRESENCE_SERVER, else the config file's; default http://localhost:3000)
  --name NAME    this device's name (default: the host name)
  --config FILE  where to write the token (default ~/.config/presence/daemon.json)
  --force        replace a different token already in the config file`;

/** Longest wait for the server's answer. */
const REQUEST_TIMEOUT_MS = 30_000;

interface PairAnswer {
  token: string;
  deviceId: string;
  deviceName: string;
}

function isPairAnswer(value: unknown): value is PairAnswer {
  const v = value as Record<string, unknown> | null;
  return typeof v === 'object' && v !== null && typeof v.token === 'string' && typeof v.deviceId === 'string' && typeof v.deviceName === 'string';
}

/** Writes `text` to `file` with mode 0600 from its creation, replacing the old file in one rename. */
function writeOwnerOnly(file: string, text: string): void {
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const temporary = `${file}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    writeFileSync(temporary, text, { mode: 0o600, flag: 'wx' });
    renameSync(temporary, file);
  } catch (error) {
    rmSync(temporary, { force: true });
    throw error;
  }
}

async function exchange(server: string, code: string, name: string): Promise<PairAnswer> {
  const url = new URL('pair', server.endsWith('/') ? server : `${server}/`);
  let response: Response;
  try {
    response = await fetch(url, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ code, name }),
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
  } catch (error) {
    const cause = (error as Error & { cause?: Error }).cause?.message ?? (error as Error).message;
    throw new ConfigError(`cannot reach ${server}: ${cause}`);
  }
  const body: unknown = await response.json().catch(() => null);
  if (response.ok && isPairAnswer(body)) return body;
  const refusal = body as { errno?: unknown; error?: unknown } | null;
  if (refusal && typeof refusal.error === 'string') throw new ConfigError(`${refusal.error} (errno ${String(refusal.errno)})`);
  throw new ConfigError(`${server} answered ${response.status} to POST /pair: is it a Presence server?`);
}

/** Runs `pair` with the arguments after it. Returns the exit status; ConfigError for what the user should read. */
export async function runPairCommand(argv: string[], env: NodeJS.ProcessEnv, print: (line: string) => void): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        server: { type: 'string' },
        name: { type: 'string' },
        config: { type: 'string' },
        force: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    });
  } catch (error) {
    throw new ConfigError(`${(error as Error).message}\n\n${pairUsage}`);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    print(pairUsage);
    return 0;
  }
  // A code typed with a space ("ABCD EFGH") arrives as two arguments.
  const code = positionals.join('');
  if (!code) throw new ConfigError(`give the pairing code shown on the device page\n\n${pairUsage}`);
  const configPath = values.config ?? defaultConfigPath(env);
  const { settings } = readConfigFile(configPath, false);
  const server = values.server ?? env.PRESENCE_SERVER ?? settings.server ?? 'http://localhost:3000';
  if (!/^https?:\/\/[^/]/.test(server)) throw new ConfigError(`server must be an http(s) URL, got "${server}"`);
  // Checked before the code is spent: a refusal here leaves the code usable.
  if (settings.token && !values.force) {
    throw new ConfigError(`${configPath} already holds a device token: pass --force to replace it (the old device stays registered until revoked)`);
  }
  const paired = await exchange(server, code, values.name ?? os.hostname());
  writeOwnerOnly(configPath, `${JSON.stringify({ ...settings, server, token: paired.token }, null, 2)}\n`);
  print(`Paired: this device is "${forTerminal(paired.deviceName)}" (device ${paired.deviceId}).`);
  print(`The token is in ${configPath} (readable by you only).`);
  print(`Next: run presence-daemon${values.config ? ` --config ${configPath}` : ''} to receive notifications,`);
  print('or presence-daemon service install to start it with every session.');
  return 0;
}
