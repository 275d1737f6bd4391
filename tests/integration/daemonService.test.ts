/**
 * `presence-daemon service install|uninstall|status` as a real process, with
 * HOME and XDG_CONFIG_HOME in a temporary folder whose name needs quoting in
 * both file formats (a space, `%`, `$`). The unit is checked by
 * `systemd-analyze verify`, the autostart entry by `desktop-file-validate`
 * where installed (Debian's desktop-file-utils).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, realpathSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runDaemonProcess, startDaemonProcess } from '../support/daemonProcess.ts';
import { projectRoot } from '../support/serverProcess.ts';

const TOKEN = 'prs_dev_service_test_token_never_in_a_unit';

let dir: string;
let home: string;
let configFile: string;
let sessionEnv: Record<string, string>;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'presence-daemon-service-'));
  home = path.join(dir, 'home of $USER 100%x');
  configFile = path.join(home, '.config', 'presence', 'daemon.json');
  await mkdir(path.dirname(configFile), { recursive: true });
  // Nothing answers on port 1: a daemon started from this config keeps reconnecting.
  await writeFile(configFile, JSON.stringify({ server: 'http://127.0.0.1:1', token: TOKEN }));
  await chmod(configFile, 0o600);
  // No systemd user instance here, as on these machines: no runtime folder with its socket.
  sessionEnv = { HOME: home, XDG_CONFIG_HOME: path.join(home, '.config'), XDG_RUNTIME_DIR: '' };
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function service(...args: string[]) {
  return runDaemonProcess(['service', ...args], sessionEnv);
}

const unitFile = () => path.join(home, '.config', 'systemd', 'user', 'presence-daemon.service');
const autostartFile = () => path.join(home, '.config', 'autostart', 'presence-daemon.desktop');

describe('presence-daemon service', () => {
  it('writes a systemd user unit that passes systemd-analyze verify, runs this daemon by absolute path with the config file, holds no token and does not restart on a refused token', async () => {
    const installed = await service('install', '--systemd');
    expect(installed.code).toBe(0);
    expect(installed.stdout).toContain('systemctl --user enable --now presence-daemon.service');

    const unit = await readFile(unitFile(), 'utf8');
    const script = realpathSync(path.join(projectRoot, 'bin', 'presence-daemon.mjs'));
    expect(unit).toContain(`ExecStart="${process.execPath}" "${script}" "--config" "${configFile.replace(/%/g, '%%').replace(/\$/g, '$$$$')}"\n`);
    expect(unit).toContain('Restart=on-failure\n');
    expect(unit).toContain('RestartPreventExitStatus=2\n');
    expect(unit).toContain('WantedBy=default.target\n');
    expect(unit).not.toContain(TOKEN);

    // verify --user needs a runtime folder of its own; it resolves the specifiers and checks that ExecStart's program runs.
    const runtime = await mkdtemp(path.join(dir, 'runtime-'));
    const verified = spawnSync('systemd-analyze', ['verify', '--user', unitFile()], { encoding: 'utf8', env: { ...process.env, XDG_RUNTIME_DIR: runtime } });
    expect(verified.stderr).toBe('');
    expect(verified.status).toBe(0);
  });

  it('without a systemd user instance writes an XDG autostart entry; status tells which kind and whether the daemon runs; uninstall removes it', async () => {
    expect((await service('uninstall')).code).toBe(0);
    expect((await service('status')).stdout).toContain('not installed');

    const installed = await service('install');
    expect(installed.code).toBe(0);
    expect(installed.stdout).toContain('XDG autostart entry');
    // One kind at a time: each would start a daemon of its own.
    expect(existsSync(unitFile())).toBe(false);
    const entry = await readFile(autostartFile(), 'utf8');
    expect(entry).toContain('Exec=');
    expect(entry).toContain('--config');
    expect(entry).not.toContain(TOKEN);
    const validate = spawnSync('desktop-file-validate', [autostartFile()], { encoding: 'utf8' });
    if (validate.error === undefined) {
      expect(validate.stdout + validate.stderr).toBe('');
      expect(validate.status).toBe(0);
    }

    const idle = await service('status');
    expect(idle.stdout).toContain(`installed: XDG autostart entry ${autostartFile()}`);
    expect(idle.stdout).toContain('not running');

    // What the desktop does at login: run the entry's command.
    const daemon = startDaemonProcess(['--config', configFile], sessionEnv);
    try {
      await expect.poll(async () => (await service('status')).stdout).toContain(`running: pid ${daemon.child.pid}`);
    } finally {
      daemon.child.kill('SIGTERM');
    }
    await daemon.exited;

    const removed = await service('uninstall');
    expect(removed.stdout).toContain(`removed ${autostartFile()}`);
    expect(existsSync(autostartFile())).toBe(false);
    expect((await service('status')).stdout).toContain('not installed');
  });

  it('refuses to install without a token in the config file, and says to pair first', async () => {
    const empty = path.join(dir, 'no-token.json');
    await writeFile(empty, JSON.stringify({ server: 'http://127.0.0.1:1' }), { mode: 0o600 });
    const refused = await service('install', '--config', empty);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('holds no device token');
    expect(refused.stderr).toContain('presence-daemon pair');
    const missing = await service('install', '--config', path.join(dir, 'missing.json'));
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('pair this device first');
  });

  it('uses a folder name that systemd-analyze refuses unescaped, so the verify above tests the quoting', async () => {
    const broken = path.join(dir, 'broken.service');
    await writeFile(broken, `[Service]\nExecStart="${process.execPath}" "${configFile}"\n`);
    const runtime = await mkdtemp(path.join(dir, 'runtime-'));
    const verified = spawnSync('systemd-analyze', ['verify', '--user', broken], { encoding: 'utf8', env: { ...process.env, XDG_RUNTIME_DIR: runtime } });
    expect(verified.stderr).toContain('specifier');
    expect(verified.status).not.toBe(0);
  });
});
