/**
 * The standalone daemon package: built by scripts/daemon-package/build.ts,
 * downloaded from a real node's /downloads/presence-daemon.tgz, installed by
 * npm into an empty prefix from a folder outside the repository, and run
 * against that node with nothing of the repository's node_modules.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, realpathSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../src/server/platform/db/client.ts';
import type { PresenceNode } from '../../src/server/server.ts';
import { makeDaemonUser, queueSize } from '../support/factories.ts';
import { postNotifications, startTestNode, useTestNode } from '../support/node.ts';
import { projectRoot } from '../support/serverProcess.ts';

const run = promisify(execFile);

const dir = mkdtempSync(path.join(os.tmpdir(), 'presence-daemon-package-'));
// The package this test builds, not whatever the checkout's last build left.
const built = path.join(dir, 'out', 'presence-daemon.tgz');
let node: PresenceNode;
let db: Database;

/** The environment of a machine that has Node.js and npm only: no npm settings or module paths inherited from this run. */
function bareEnvironment(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !/^(npm_|NODE_PATH$|NODE_OPTIONS$|PRESENCE_|INIT_CWD$)/i.test(name)));
  return { ...env, ...extra } as NodeJS.ProcessEnv;
}

beforeAll(async () => {
  await run(process.execPath, ['--import', 'tsx', 'scripts/daemon-package/build.ts', '--out', path.join(dir, 'out')], { cwd: projectRoot });
}, 60_000);
useTestNode((started) => ({ node, db } = started), { DAEMON_PACKAGE_FILE: built });
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Every file under a folder, with its path. */
async function filesUnder(folder: string): Promise<string[]> {
  const entries = await readdir(folder, { recursive: true, withFileTypes: true });
  return entries.filter((entry) => entry.isFile()).map((entry) => path.join(entry.parentPath, entry.name));
}

describe('the daemon package', () => {
  it('installs from the server URL into an empty prefix with no path into the repository, delivers with --once, and installs itself as a service of the installed copy', async () => {
    const prefix = path.join(dir, 'prefix');
    const elsewhere = await mkdtemp(path.join(dir, 'cwd-'));
    // --prefer-offline: npm's cache already holds ws from the checkout's own install.
    await run('npm', ['install', '-g', '--prefer-offline', '--no-audit', '--no-fund', '--prefix', prefix, `${node.url}/downloads/presence-daemon.tgz`], {
      cwd: elsewhere,
      env: bareEnvironment(),
    });

    const installed = path.join(prefix, 'lib', 'node_modules');
    expect(await readdir(installed)).toEqual(['presence-daemon']);
    const manifest = JSON.parse(await readFile(path.join(installed, 'presence-daemon', 'package.json'), 'utf8'));
    expect(manifest.dependencies).toHaveProperty('ws');
    expect(Object.keys(manifest.dependencies).filter((name) => !['ws', 'dbus-next'].includes(name))).toEqual([]);
    // Bundled, not installed: tRPC's peer dependencies would bring TypeScript along.
    const packages = (await readdir(path.join(installed, 'presence-daemon', 'node_modules'), { recursive: true })).map(String);
    for (const heavy of ['@trpc', 'typescript', 'zod', 'next', 'prisma', '@prisma', 'tsx']) expect(packages).not.toContain(heavy);
    const readme = await readFile(path.join(installed, 'presence-daemon', 'README.md'), 'utf8');
    expect(readme).toContain('presence-daemon pair');
    expect(readme).toContain('presence-daemon service install');
    for (const file of await filesUnder(prefix)) {
      expect(await readFile(file, 'utf8'), file).not.toContain(projectRoot.replace(/\/$/, ''));
    }
    const { stdout: size } = await run('du', ['-sk', prefix]);
    console.log(`installed daemon package: ${size.split('\t')[0]} KiB in ${prefix}`);
    expect(Number(size.split('\t')[0])).toBeLessThan(5 * 1024);

    const user = await makeDaemonUser(db);
    await postNotifications(node.url, user.appid, user.key, { UID: user.uid, message: 'from the packaged daemon', action: 'https://example.com/' });
    const daemon = await run(path.join(prefix, 'bin', 'presence-daemon'), ['--once', '--server', node.url], {
      cwd: elsewhere,
      env: bareEnvironment({ PRESENCE_DEVICE_TOKEN: user.token, XDG_CONFIG_HOME: elsewhere, DBUS_SESSION_BUS_ADDRESS: '' }),
    });
    expect(daemon.stdout).toContain('from the packaged daemon');
    expect(await queueSize(db, user.uid)).toBe(0);

    // The installed daemon installs itself as a service that runs the installed copy, not the checkout.
    const configHome = path.join(elsewhere, 'config');
    await mkdir(path.join(configHome, 'presence'), { recursive: true });
    await writeFile(path.join(configHome, 'presence', 'daemon.json'), JSON.stringify({ server: node.url, token: user.token }), { mode: 0o600 });
    await run(path.join(prefix, 'bin', 'presence-daemon'), ['service', 'install', '--autostart'], {
      cwd: elsewhere,
      env: bareEnvironment({ HOME: elsewhere, XDG_CONFIG_HOME: configHome }),
    });
    const entry = await readFile(path.join(configHome, 'autostart', 'presence-daemon.desktop'), 'utf8');
    expect(entry).toContain(
      `Exec=${process.execPath} ${realpathSync(installed)}/presence-daemon/bin/presence-daemon.mjs --config ${configHome}/presence/daemon.json`,
    );
  }, 120_000);

  it('is served with the bytes that were built, a gzip type and an ETag that answers 304', async () => {
    const url = `${node.url}/downloads/presence-daemon.tgz`;
    const response = await fetch(url);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/gzip');
    expect(response.headers.get('cache-control')).toBe('no-cache');
    const etag = response.headers.get('etag');
    expect(etag).toMatch(/^"[\w-]+"$/);
    expect(Buffer.from(await response.arrayBuffer()).equals(await readFile(built))).toBe(true);

    const again = await fetch(url, { headers: { 'If-None-Match': etag! } });
    expect(again.status).toBe(304);
    expect((await fetch(url, { method: 'POST' })).headers.get('allow')).toBe('GET, HEAD');
  });

  it('answers 404 with a clear text on a node where it was not built', async () => {
    const bare = await startTestNode({ DAEMON_PACKAGE_FILE: path.join(dir, 'missing.tgz') });
    try {
      const response = await fetch(`${bare.url}/downloads/presence-daemon.tgz`);
      expect(response.status).toBe(404);
      expect(response.headers.get('content-type')).toBe('text/plain; charset=utf-8');
      expect(await response.text()).toContain('has not been built on this server');
    } finally {
      await bare.close();
    }
  });

  it('builds the same bytes twice, so the ETag changes only with the daemon', async () => {
    await run(process.execPath, ['--import', 'tsx', 'scripts/daemon-package/build.ts', '--out', path.join(dir, 'again')], { cwd: projectRoot });
    expect((await readFile(path.join(dir, 'again', 'presence-daemon.tgz'))).equals(await readFile(built))).toBe(true);
    expect((await stat(built)).size).toBeGreaterThan(0);
  }, 60_000);
});
