/**
 * `npm run build:daemon`: the desktop daemon as a package of its own, for
 * machines that have Node.js and nothing of this repository. One esbuild
 * bundle of src/daemon/main.ts (with src/shared and the small libraries it
 * uses), a package.json whose dependencies are the few packages kept apart
 * below, the package's README, and the notices of what was bundled; packed
 * with `npm pack` into `presence-daemon.tgz`, which the server offers at
 * /downloads/presence-daemon.tgz.
 *
 *   node --import tsx scripts/daemon-package/build.ts [--out DIR]   (default: dist/)
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { build } from 'esbuild';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/**
 * Packages the daemon installs as real dependencies instead of bundling them
 * (native parts, optional add-ons, or code that a bundle would break). A
 * package is listed in the daemon's package.json only when the bundle
 * imports it, at the version this repository pins. @trpc/client is bundled
 * on purpose: as a dependency its peer dependencies would install @trpc/server
 * and TypeScript on every device.
 */
const RUNTIME_DEPENDENCIES = ['ws', 'dbus-next'];

/** The tarball's name; the download route serves it under the same name. */
const DAEMON_PACKAGE_FILE_NAME = 'presence-daemon.tgz';

interface RootPackage {
  version: string;
  license?: string;
  dependencies: Record<string, string>;
}

function readJson<T>(file: string): T {
  return JSON.parse(readFileSync(file, 'utf8')) as T;
}

/** The package folder a bundled input file comes from, e.g. node_modules/@trpc/client. */
function packageFolderOf(input: string): string | null {
  const match = /^(.*node_modules\/(?:@[^/]+\/)?[^/]+)\//.exec(input);
  return match?.[1] ?? null;
}

/** The licence texts of every package whose code is inside the bundle, as their licences ask. */
function thirdPartyNotices(inputs: string[]): string {
  const folders = [...new Set(inputs.map(packageFolderOf).filter((folder): folder is string => folder !== null))].sort();
  const sections = folders.map((folder) => {
    const manifest = readJson<{ name: string; version: string; license?: string }>(path.join(root, folder, 'package.json'));
    const licenceFile = ['LICENSE', 'LICENSE.md', 'LICENSE.txt', 'license', 'LICENCE'].map((name) => path.join(root, folder, name)).find(existsSync);
    const text = licenceFile ? readFileSync(licenceFile, 'utf8').trim() : `License: ${manifest.license ?? 'see the package'}`;
    return `${manifest.name} ${manifest.version}\n\n${text}`;
  });
  return `The file bin/presence-daemon.mjs includes code of these packages:\n\n${sections.join('\n\n---\n\n')}\n`;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { out: { type: 'string' } }, strict: true });
  const out = path.resolve(values.out ?? path.join(root, 'dist'));
  const staging = path.join(out, 'presence-daemon');
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(path.join(staging, 'bin'), { recursive: true });

  const rootPackage = readJson<RootPackage>(path.join(root, 'package.json'));
  const result = await build({
    entryPoints: [path.join(root, 'src/daemon/main.ts')],
    outfile: path.join(staging, 'bin/presence-daemon.mjs'),
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    external: RUNTIME_DEPENDENCIES,
    // Bundled CommonJS code may call require(); an ES module has none of its own.
    banner: {
      js: "#!/usr/bin/env node\nimport { createRequire as __presenceRequire } from 'node:module';\nconst require = __presenceRequire(import.meta.url);",
    },
    legalComments: 'eof',
    metafile: true,
    logLevel: 'warning',
  });

  const imported = new Set(Object.values(result.metafile.outputs).flatMap((output) => output.imports.filter((i) => i.external).map((i) => i.path)));
  const dependencies = Object.fromEntries(
    RUNTIME_DEPENDENCIES.filter((name) => imported.has(name)).map((name) => {
      const version = rootPackage.dependencies[name];
      if (!version) throw new Error(`${name} is a runtime dependency of the daemon but not a dependency in package.json`);
      return [name, version];
    }),
  );
  const manifest = {
    name: 'presence-daemon',
    version: rootPackage.version,
    description: 'The Presence daemon: receives the live notifications of your apps on this computer.',
    type: 'module',
    bin: { 'presence-daemon': 'bin/presence-daemon.mjs' },
    engines: { node: '>=20' },
    dependencies,
  };
  writeFileSync(path.join(staging, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  copyFileSync(path.join(root, 'scripts/daemon-package/README.md'), path.join(staging, 'README.md'));
  writeFileSync(path.join(staging, 'THIRD-PARTY-NOTICES.txt'), thirdPartyNotices(Object.keys(result.metafile.inputs)));

  // npm pack gives every entry the same fixed time, so the same build packs to the same bytes.
  const packed = execFileSync('npm', ['pack', '--json', '--pack-destination', out], { cwd: staging, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  const [{ filename }] = JSON.parse(packed) as [{ filename: string }];
  renameSync(path.join(out, filename), path.join(out, DAEMON_PACKAGE_FILE_NAME));
  console.log(`daemon package: ${path.join(out, DAEMON_PACKAGE_FILE_NAME)} (dependencies: ${Object.keys(dependencies).join(', ') || 'none'})`);
}

await main();
