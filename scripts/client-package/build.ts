/**
 * `npm run build:client`: the typed client for AppServices as a package of its
 * own. One esbuild bundle of src/client/index.ts (with what it takes from
 * src/shared) for any runtime with `fetch`, its declarations emitted by tsc,
 * a package.json with no dependencies and the package's README; packed with
 * `npm pack` into `presence-client.tgz`.
 *
 *   node --import tsx scripts/client-package/build.ts [--out DIR]   (default: dist/)
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { build } from 'esbuild';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** The tarball's name. */
const CLIENT_PACKAGE_FILE_NAME = 'presence-client.tgz';

/** Declarations for the bundle: tsc emits one .d.ts per source under types/, imports pointing at .js as consumers resolve them. */
function emitDeclarations(staging: string): void {
  const typesDir = path.join(staging, 'types');
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  execFileSync(process.execPath, [tsc, '-p', path.join(root, 'scripts/client-package/tsconfig.json'), '--outDir', typesDir], { cwd: root, stdio: 'inherit' });
  for (const entry of readdirSync(typesDir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile() || !entry.name.endsWith('.d.ts')) continue;
    const file = path.join(entry.parentPath, entry.name);
    writeFileSync(file, readFileSync(file, 'utf8').replace(/(from\s+'\.{1,2}\/[^']*)\.ts'/g, "$1.js'"));
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { out: { type: 'string' } }, strict: true });
  const out = path.resolve(values.out ?? path.join(root, 'dist'));
  const staging = path.join(out, 'presence-client');
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { recursive: true });

  const result = await build({
    entryPoints: [path.join(root, 'src/client/index.ts')],
    outfile: path.join(staging, 'index.js'),
    bundle: true,
    // No Node built-ins: browsers, Deno, Bun, workers and Node >= 20 alike.
    platform: 'neutral',
    format: 'esm',
    target: 'es2022',
    metafile: true,
    logLevel: 'warning',
  });
  const foreign = Object.keys(result.metafile.inputs).filter((input) => !/^src\/(client|shared)\//.test(input));
  if (foreign.length > 0) throw new Error(`the client must bundle only src/client and src/shared, not ${foreign.join(', ')}`);
  emitDeclarations(staging);

  const rootPackage = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string; license?: string };
  const manifest = {
    name: 'presence-client',
    version: rootPackage.version,
    description: 'Typed client for Presence AppServices: send notifications with safe retries.',
    ...(rootPackage.license ? { license: rootPackage.license } : {}),
    type: 'module',
    main: 'index.js',
    types: 'types/client/index.d.ts',
    exports: { '.': { types: './types/client/index.d.ts', default: './index.js' } },
    sideEffects: false,
    engines: { node: '>=20' },
  };
  writeFileSync(path.join(staging, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  copyFileSync(path.join(root, 'scripts/client-package/README.md'), path.join(staging, 'README.md'));

  const packed = execFileSync('npm', ['pack', '--json', '--pack-destination', out], { cwd: staging, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  const [{ filename }] = JSON.parse(packed) as [{ filename: string }];
  renameSync(path.join(out, filename), path.join(out, CLIENT_PACKAGE_FILE_NAME));
  console.log(`client package: ${path.join(out, CLIENT_PACKAGE_FILE_NAME)}`);
}

await main();
