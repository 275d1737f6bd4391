/**
 * The daemon's command line against a real server, as a real process: where
 * its device token comes from, how it reports a broken config file, and how
 * long `--once` may wait for a server that does not answer.
 */
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../src/server/platform/db/client.ts';
import type { DeliveredItem } from '../../src/shared/delivery.ts';
import type { PresenceNode } from '../../src/server/server.ts';
import { runDaemonProcess, startDaemonProcess } from '../support/daemonProcess.ts';
import { makeDaemonUser, queueSize } from '../support/factories.ts';
import { postNotifications, useTestNode } from '../support/node.ts';

let node: PresenceNode;
let db: Database;
useTestNode((started) => ({ node, db } = started));

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'presence-daemon-cli-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function tokenFile(name: string, token: string, mode: number): Promise<string> {
  const file = path.join(dir, name);
  await writeFile(file, `${token}\n`);
  await chmod(file, mode);
  return file;
}

describe('the device token', () => {
  it('read from --token-file, never appears in the process list, and delivers', async () => {
    const user = await makeDaemonUser(db);
    const file = await tokenFile('token-ps', user.token, 0o600);
    const daemon = startDaemonProcess(['--server', node.url, '--token-file', file]);
    try {
      await expect.poll(() => daemon.stderr).toContain('connected to');
      // What `ps` shows is the process's command line.
      const cmdline = await readFile(`/proc/${daemon.child.pid}/cmdline`, 'utf8');
      expect(cmdline).toContain('--token-file');
      expect(cmdline).not.toContain(user.token);
      await postNotifications(node.url, user.appid, user.key, { UID: user.uid, message: 'via token file', action: 'https://e.com/' });
      await expect.poll(() => daemon.stdout).toContain('via token file');
      await expect.poll(() => queueSize(db, user.uid)).toBe(0);
      expect(daemon.stderr).not.toContain('warning');
    } finally {
      daemon.child.kill('SIGTERM');
    }
    expect((await daemon.exited).code).toBe(0);
  });

  it('refuses a token file that other users can read, naming the file', async () => {
    const user = await makeDaemonUser(db);
    const file = await tokenFile('token-shared', user.token, 0o644);
    const result = await runDaemonProcess(['--server', node.url, '--token-file', file, '--once']);
    expect(result.code).toBe(1);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toContain(file);
    expect(result.stderr).toContain('readable by other users');
    expect(await queueSize(db, user.uid)).toBe(0);
  });

  it('PRESENCE_DEVICE_TOKEN works without a warning; --token still works but warns that ps shows it', async () => {
    const user = await makeDaemonUser(db);
    const fromEnv = await runDaemonProcess(['--server', node.url, '--once'], { PRESENCE_DEVICE_TOKEN: user.token });
    expect(fromEnv.code).toBe(0);
    expect(fromEnv.stderr).not.toContain('warning');
    const fromFlag = await runDaemonProcess(['--server', node.url, '--token', user.token, '--once']);
    expect(fromFlag.code).toBe(0);
    expect(fromFlag.stderr).toMatch(/warning: --token .*--token-file/);
    expect(fromFlag.stderr).not.toContain(user.token);
  });

  it('warns when the config file that holds the token can be read by other users, and still runs', async () => {
    const user = await makeDaemonUser(db);
    const config = path.join(dir, 'shared-config.json');
    await writeFile(config, JSON.stringify({ server: node.url, token: user.token }));
    await chmod(config, 0o644);
    const result = await runDaemonProcess(['--config', config, '--once']);
    expect(result.code).toBe(0);
    expect(result.stderr).toContain(`warning: ${config} holds the device token and other users can read it`);
    await chmod(config, 0o600);
    const owned = await runDaemonProcess(['--config', config, '--once']);
    expect(owned.code).toBe(0);
    expect(owned.stderr).not.toContain('warning');
  });

  it('refuses --token together with --token-file', async () => {
    const file = await tokenFile('token-both', 'prs_dev_x', 0o600);
    const result = await runDaemonProcess(['--server', node.url, '--token', 'prs_dev_x', '--token-file', file]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('either --token or --token-file');
  });
});

describe('a config file with a JSON syntax error', () => {
  it('stops the daemon with one line naming the file, line and column, and no stack trace', async () => {
    const file = path.join(dir, 'broken.json');
    await writeFile(file, '{\n  "server": "http://localhost:3000",\n  "token": "prs_dev_x"\n  "schemes": {}\n}\n');
    const result = await runDaemonProcess(['--config', file]);
    expect(result.code).toBe(1);
    const lines = result.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toBe(`presence-daemon: ${file}:4:3: invalid JSON: expected "," or "}" but found "\\""`);
  });

  it('found in the default place, is reported the same way', async () => {
    const home = path.join(dir, 'xdg');
    await rm(home, { recursive: true, force: true });
    await mkdir(path.join(home, 'presence'), { recursive: true });
    const file = path.join(home, 'presence', 'daemon.json');
    await writeFile(file, '{"token": "prs_dev_x",');
    const result = await runDaemonProcess([], { XDG_CONFIG_HOME: home });
    expect(result.code).toBe(1);
    expect(result.stderr.trim().split('\n')).toEqual([`presence-daemon: ${file}:1:23: invalid JSON: unexpected end of file`]);
  });
});

describe('--once', () => {
  it('gives up on a server it cannot reach after --timeout and exits 3', async () => {
    const user = await makeDaemonUser(db);
    // A port nobody listens on, and a server that accepts connections but never answers.
    const closed = await new Promise<number>((resolve) => {
      const probe = net.createServer().listen(0, '127.0.0.1', () => {
        const { port } = probe.address() as net.AddressInfo;
        probe.close(() => resolve(port));
      });
    });
    const held = new Set<net.Socket>();
    const silent = net.createServer((socket) => held.add(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const silentPort = (silent.address() as net.AddressInfo).port;
    try {
      for (const port of [closed, silentPort]) {
        const result = await runDaemonProcess(['--server', `http://127.0.0.1:${port}`, '--once', '--timeout', '1'], { PRESENCE_DEVICE_TOKEN: user.token });
        expect(result.code).toBe(3);
        expect(result.stderr).toContain('no answer from');
      }
    } finally {
      for (const socket of held) socket.destroy();
      silent.close();
    }
  });

  it('still delivers and exits 0 when the server answers within --timeout', async () => {
    const user = await makeDaemonUser(db);
    await postNotifications(node.url, user.appid, user.key, { UID: user.uid, message: 'in time', action: 'https://e.com/' });
    const result = await runDaemonProcess(['--server', node.url, '--once', '--json', '--timeout', '20'], { PRESENCE_DEVICE_TOKEN: user.token });
    expect(result.code).toBe(0);
    expect((JSON.parse(result.stdout) as DeliveredItem).message).toBe('in time');
  });

  it('refuses a --timeout that is not a positive number of seconds', async () => {
    const result = await runDaemonProcess(['--server', node.url, '--once', '--timeout', 'soon'], { PRESENCE_DEVICE_TOKEN: 'prs_dev_x' });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('--timeout');
  });
});
