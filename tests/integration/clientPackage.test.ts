/**
 * The standalone client package: built by scripts/client-package/build.ts,
 * installed by npm into an empty prefix outside the repository, used from a
 * plain .mjs script against a real node, and type-checked as a TypeScript
 * consumer sees it.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../src/server/platform/db/client.ts';
import type { PresenceNode } from '../../src/server/server.ts';
import { makeRecipient, queueItems } from '../support/factories.ts';
import { startTestNode, useTestNode } from '../support/node.ts';
import { projectRoot } from '../support/serverProcess.ts';

const run = promisify(execFile);

const dir = mkdtempSync(path.join(os.tmpdir(), 'presence-client-package-'));
const built = path.join(dir, 'out', 'presence-client.tgz');
const prefix = path.join(dir, 'prefix');
let node: PresenceNode;
let db: Database;

/** The environment of a machine that has Node.js and npm only. */
function bareEnvironment(): NodeJS.ProcessEnv {
  return Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !/^(npm_|NODE_PATH$|NODE_OPTIONS$|PRESENCE_|INIT_CWD$)/i.test(name)),
  ) as NodeJS.ProcessEnv;
}

beforeAll(async () => {
  await run(process.execPath, ['--import', 'tsx', 'scripts/client-package/build.ts', '--out', path.join(dir, 'out')], { cwd: projectRoot });
}, 60_000);
useTestNode((started) => ({ node, db } = started), { CLIENT_PACKAGE_FILE: built });
// After the node has started: the package is installed from its download route.
beforeAll(async () => {
  await writeFile(path.join(dir, 'package.json'), '{}\n');
  await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--prefix', prefix, `${node.url}/downloads/presence-client.tgz`], {
    cwd: dir,
    env: bareEnvironment(),
  });
}, 60_000);
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('the client package', () => {
  it('installs from the server URL into an empty prefix with no dependencies and sends from a plain .mjs script', async () => {
    const installed = path.join(prefix, 'node_modules');
    expect((await readdir(installed)).filter((name) => !name.startsWith('.'))).toEqual(['presence-client']);
    const manifest = JSON.parse(await readFile(path.join(installed, 'presence-client', 'package.json'), 'utf8'));
    expect(manifest.dependencies ?? {}).toEqual({});
    const bundle = await readFile(path.join(installed, 'presence-client', 'index.js'), 'utf8');
    // Universal: nothing of Node's own modules.
    expect(bundle).not.toMatch(/from ['"]node:|require\(/);

    const { appid, key, uid } = await makeRecipient(db);
    const script = path.join(prefix, 'send.mjs');
    await writeFile(
      script,
      `import { createPresenceClient, PresenceError } from 'presence-client';
const [server, appid, key, uid] = process.argv.slice(2);
const presence = createPresenceClient({ server, appid, key });
console.log(JSON.stringify(await presence.send([{ UID: uid, message: 'from the package', action: 'https://example.com/' }])));
try {
  await presence.send({ UID: uid, message: '', action: 'https://example.com/' });
} catch (error) {
  console.log(JSON.stringify({ isPresenceError: error instanceof PresenceError, status: error.status, errno: error.errno }));
}
`,
    );
    const { stdout } = await run(process.execPath, [script, node.url, appid, key, uid], { cwd: prefix, env: bareEnvironment() });
    const [ack, refusal] = stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    expect(ack).toEqual({ result: 'OK', queue_size: 1, queue_sizes: { [uid]: 1 } });
    expect(refusal).toEqual({ isPresenceError: true, status: 400, errno: 102 });
    expect((await queueItems(db, uid)).map((i) => i.message)).toEqual(['from the package']);
  });

  it('gives a TypeScript consumer its types: the ack, the error fields, and a refusal of a misspelt item', async () => {
    const consumer = path.join(prefix, 'consumer.ts');
    await writeFile(
      consumer,
      `import { createPresenceClient, PresenceError, type RetractAck, type SendAck } from 'presence-client';
const presence = createPresenceClient({ server: 'http://localhost:3000', appid: 'demo', key: 'k', deadlineMs: 5000 });
export async function main(): Promise<number> {
  const ack: SendAck = await presence.send([{ UID: 'u', message: 'm', action: 'https://example.com/', ttl: 60 }]);
  const size: number = ack.queue_sizes['u'] ?? ack.queue_size;
  const taken: RetractAck = await presence.retract({ UID: 'u', tag: 'call:42' });
  // @ts-expect-error: the field is action, not url
  await presence.send({ UID: 'u', message: 'm', url: 'https://example.com/' });
  const error = new PresenceError('x', { status: 400, errno: 102 });
  const errno: 102 | number | null = error.errno;
  return size + taken.retracted + error.errors.length + error.errors_omitted + (errno ?? 0);
}
`,
    );
    const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
    // A consumer's own settings: Node's module resolution, no type packages of its own.
    const settings = {
      compilerOptions: { noEmit: true, strict: true, module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', lib: ['es2022', 'dom'], types: [] },
      files: ['consumer.ts'],
    };
    await writeFile(path.join(prefix, 'tsconfig.json'), JSON.stringify(settings));
    const result = await run(process.execPath, [tsc, '-p', prefix], { cwd: prefix }).then(
      () => '',
      (error: { stdout: string }) => error.stdout,
    );
    expect(result).toBe('');
  });

  it('is served with the bytes that were built, and answers 404 with a clear text where it was not built', async () => {
    const response = await fetch(`${node.url}/downloads/presence-client.tgz`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/gzip');
    expect(response.headers.get('content-disposition')).toBe('attachment; filename="presence-client.tgz"');
    expect(Buffer.from(await response.arrayBuffer()).equals(await readFile(built))).toBe(true);

    const bare = await startTestNode({ CLIENT_PACKAGE_FILE: path.join(dir, 'missing.tgz') });
    try {
      const missing = await fetch(`${bare.url}/downloads/presence-client.tgz`);
      expect(missing.status).toBe(404);
      expect(await missing.text()).toContain('client package has not been built on this server');
    } finally {
      await bare.close();
    }
  });
});
