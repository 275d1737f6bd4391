/**
 * `presence-daemon service install|uninstall|status`: starts the daemon with
 * the user's session, as a systemd user unit where a systemd user instance
 * runs, else as an XDG autostart entry that the desktop runs at login. Both
 * run this very daemon by absolute path with `--config FILE`: the token stays
 * in that owner-only file, never on a command line that `ps` shows.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { ConfigError, defaultConfigPath, readConfigFile } from './config.ts';

export const serviceUsage = `Usage: presence-daemon service install [--config FILE] [--systemd | --autostart]
       presence-daemon service uninstall [--config FILE]
       presence-daemon service status [--config FILE]

  install      start the daemon with your session: a systemd user unit when a systemd
               user instance runs (enabled and started at once), else an XDG autostart
               entry (started at your next login); the token is read from the config file
  --config FILE  the config file holding the server and the token (default ~/.config/presence/daemon.json)
  --systemd    write the systemd user unit even without a running user instance
  --autostart  write the XDG autostart entry even where systemd runs
  uninstall    stop and remove what install wrote
  status       say which kind is installed and whether the daemon runs`;

const UNIT_NAME = 'presence-daemon.service';

export type ServiceKind = 'systemd' | 'autostart';

/** Where each kind lives, under $XDG_CONFIG_HOME (default ~/.config). */
export function serviceFiles(env: NodeJS.ProcessEnv): Record<ServiceKind, string> {
  const configHome = env.XDG_CONFIG_HOME || path.join(env.HOME || os.homedir(), '.config');
  return {
    systemd: path.join(configHome, 'systemd', 'user', UNIT_NAME),
    autostart: path.join(configHome, 'autostart', 'presence-daemon.desktop'),
  };
}

/** What a service runs: node and this daemon's script, both absolute, and the config file. */
export interface DaemonCommand {
  node: string;
  script: string;
  config: string;
}

function refuseControlCharacters(command: DaemonCommand): void {
  for (const part of [command.node, command.script, command.config]) {
    if (/[\x00-\x1f\x7f]/.test(part)) throw new ConfigError(`cannot start a path with control characters from a service: ${JSON.stringify(part)}`);
  }
}

/** One argument of ExecStart: always quoted, with systemd's escapes, specifiers (%) and variables ($) kept literal. */
function systemdArgument(value: string): string {
  return `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/%/g, '%%').replace(/\$/g, '$$$$')}"`;
}

/** The systemd user unit; exit status 2 (a refused token) is final, like for a person at the terminal. */
export function systemdUnit(command: DaemonCommand): string {
  refuseControlCharacters(command);
  const exec = [command.node, command.script, '--config', command.config].map(systemdArgument).join(' ');
  return `# Written by \`presence-daemon service install\`; \`presence-daemon service uninstall\` removes it.
[Unit]
Description=Presence daemon: live notifications of your apps

[Service]
ExecStart=${exec}
Restart=on-failure
RestartSec=5
RestartPreventExitStatus=2

[Install]
WantedBy=default.target
`;
}

/** One argument of a desktop entry's Exec: quoted as the Desktop Entry spec says, then escaped as a string value. */
function desktopArgument(value: string): string {
  const quoted = /^[\w/.,:@+=-]+$/.test(value) ? value : `"${value.replace(/(["`$\\])/g, '\\$1')}"`;
  return quoted.replace(/%/g, '%%').replace(/\\/g, '\\\\');
}

/** The XDG autostart entry. */
export function autostartEntry(command: DaemonCommand): string {
  refuseControlCharacters(command);
  const exec = [command.node, command.script, '--config', command.config].map(desktopArgument).join(' ');
  return `# Written by \`presence-daemon service install\`; \`presence-daemon service uninstall\` removes it.
[Desktop Entry]
Type=Application
Name=Presence daemon
Comment=Live notifications of your apps
Exec=${exec}
Terminal=false
NoDisplay=true
X-GNOME-Autostart-enabled=true
`;
}

function systemctl(args: string[]): { ok: boolean; output: string } {
  const result = spawnSync('systemctl', ['--user', ...args], { encoding: 'utf8', timeout: 30_000 });
  return { ok: result.status === 0, output: `${result.stdout ?? ''}${result.stderr ?? ''}`.trim() };
}

/** Whether this session has a systemd user instance to talk to (its private socket, and an answer from it). */
export function systemdUserInstanceRuns(env: NodeJS.ProcessEnv): boolean {
  if (!env.XDG_RUNTIME_DIR || !existsSync(path.join(env.XDG_RUNTIME_DIR, 'systemd', 'private'))) return false;
  const state = systemctl(['is-system-running']).output;
  return ['running', 'degraded', 'starting', 'initializing'].includes(state);
}

/** Processes that run this daemon script with the given config file (what an autostart entry starts), other than this one. */
function daemonProcesses(command: DaemonCommand): number[] {
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((name) => /^\d+$/.test(name));
  } catch {
    return [];
  }
  const found: number[] = [];
  for (const pid of pids) {
    if (Number(pid) === process.pid) continue;
    try {
      const args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      if (!args[1] || args[2] === 'service' || !args.includes(command.config)) continue;
      if (realpathSync(path.resolve(realpathSync(`/proc/${pid}/cwd`), args[1])) === command.script) found.push(Number(pid));
    } catch {
      // Gone meanwhile, or another user's: not ours.
    }
  }
  return found;
}

/** What `service install` writes into a unit: this daemon as it was started, resolved through npm's bin link. */
export function currentDaemonCommand(configFile: string): DaemonCommand {
  const entry = process.argv[1];
  if (!entry) throw new ConfigError('cannot tell where this daemon is installed');
  return { node: process.execPath, script: realpathSync(entry), config: path.resolve(configFile) };
}

/** For a line the user may paste into a shell. */
function shellArgument(value: string): string {
  return /^[\w/.,:@+=-]+$/.test(value) ? value : `'${value.replace(/'/g, "'\\''")}'`;
}

function writeFileMakingFolders(file: string, text: string): void {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, text, { mode: 0o644 });
}

function install(kind: ServiceKind, command: DaemonCommand, env: NodeJS.ProcessEnv, print: (line: string) => void): void {
  const files = serviceFiles(env);
  // One of the two, never both: each would start its own daemon.
  const other: ServiceKind = kind === 'systemd' ? 'autostart' : 'systemd';
  if (existsSync(files[other])) uninstallKind(other, env, print);
  if (kind === 'autostart') {
    writeFileMakingFolders(files.autostart, autostartEntry(command));
    print(`wrote the XDG autostart entry ${files.autostart}: your desktop starts the daemon at your next login`);
    print(`to start it now: ${[command.node, command.script, '--config', command.config].map(shellArgument).join(' ')}`);
    return;
  }
  writeFileMakingFolders(files.systemd, systemdUnit(command));
  print(`wrote the systemd user unit ${files.systemd}`);
  if (!systemdUserInstanceRuns(env)) {
    print(
      `no systemd user instance runs in this session: at your next login, run systemctl --user daemon-reload && systemctl --user enable --now ${UNIT_NAME}`,
    );
    return;
  }
  systemctl(['daemon-reload']);
  const enabled = systemctl(['enable', '--now', UNIT_NAME]);
  if (!enabled.ok) throw new ConfigError(`systemctl --user enable --now ${UNIT_NAME} failed: ${enabled.output}`);
  print(`enabled and started ${UNIT_NAME}: it starts with every session (journalctl --user -u ${UNIT_NAME} shows its output)`);
}

function uninstallKind(kind: ServiceKind, env: NodeJS.ProcessEnv, print: (line: string) => void): void {
  const file = serviceFiles(env)[kind];
  if (kind === 'systemd' && systemdUserInstanceRuns(env)) systemctl(['disable', '--now', UNIT_NAME]);
  rmSync(file, { force: true });
  if (kind === 'systemd' && systemdUserInstanceRuns(env)) systemctl(['daemon-reload']);
  print(`removed ${file}`);
}

function status(command: DaemonCommand, env: NodeJS.ProcessEnv, print: (line: string) => void): void {
  const files = serviceFiles(env);
  const installed = (['systemd', 'autostart'] as const).filter((kind) => existsSync(files[kind]));
  if (installed.length === 0) print('not installed: run presence-daemon service install');
  for (const kind of installed) print(`installed: ${kind === 'systemd' ? 'systemd user unit' : 'XDG autostart entry'} ${files[kind]}`);
  if (installed.includes('systemd') && systemdUserInstanceRuns(env)) {
    print(`${UNIT_NAME}: ${systemctl(['is-active', UNIT_NAME]).output || 'unknown'}`);
    return;
  }
  const pids = daemonProcesses(command);
  print(pids.length > 0 ? `running: pid ${pids.join(', ')}` : 'not running');
}

/** Runs `service …`; returns the exit status. Throws ConfigError for the user's mistakes. */
export function runServiceCommand(argv: string[], env: NodeJS.ProcessEnv, print: (line: string) => void): number {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: { config: { type: 'string' }, systemd: { type: 'boolean' }, autostart: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
      strict: true,
    });
  } catch (error) {
    throw new ConfigError(`${(error as Error).message}\n\n${serviceUsage}`);
  }
  const { values, positionals } = parsed;
  const action = positionals[0];
  if (values.help || action === undefined) {
    print(serviceUsage);
    return values.help ? 0 : 1;
  }
  if (positionals.length > 1 || !['install', 'uninstall', 'status'].includes(action))
    throw new ConfigError(`unknown service command "${positionals.join(' ')}"\n\n${serviceUsage}`);
  if (values.systemd && values.autostart) throw new ConfigError('give either --systemd or --autostart, not both');
  const command = currentDaemonCommand(values.config ?? defaultConfigPath(env));

  if (action === 'status') {
    status(command, env, print);
    return 0;
  }
  if (action === 'uninstall') {
    const files = serviceFiles(env);
    const installed = (['systemd', 'autostart'] as const).filter((kind) => existsSync(files[kind]));
    if (installed.length === 0) print('nothing to remove: no service was installed');
    for (const kind of installed) uninstallKind(kind, env, print);
    const left = daemonProcesses(command);
    if (left.length > 0) print(`a daemon started earlier still runs (pid ${left.join(', ')}): it stops when your session ends`);
    return 0;
  }
  // The service has only the config file: it must hold the token (as `pair` writes it).
  if (!existsSync(command.config)) throw new ConfigError(`no config file ${command.config}: pair this device first (presence-daemon pair CODE --server URL)`);
  const { settings, shared } = readConfigFile(command.config, true);
  if (!settings.token) throw new ConfigError(`${command.config} holds no device token: pair this device first (presence-daemon pair CODE --server URL)`);
  if (shared) print(`warning: ${command.config} holds the device token and other users can read it: run chmod 600 ${command.config}`);
  const kind: ServiceKind = values.systemd ? 'systemd' : values.autostart ? 'autostart' : systemdUserInstanceRuns(env) ? 'systemd' : 'autostart';
  install(kind, command, env, print);
  return 0;
}
