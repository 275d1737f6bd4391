/**
 * The folder rules of src/: src/shared runs everywhere (server, daemon,
 * browser), so it imports nothing Node-only and nothing of the server or the
 * pages; the pages and the daemon take from src/server only the router's type.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const src = path.resolve(import.meta.dirname, '../../src');

function sourceFiles(folder: string): string[] {
  return readdirSync(folder, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && /\.(ts|tsx|mts)$/.test(entry.name))
    .map((entry) => path.join(entry.parentPath, entry.name));
}

/** Every import and re-export of a file: its whole statement and the module it names, resolved to a path under src/ when it is one. */
function importsOf(file: string): { statement: string; target: string }[] {
  const text = readFileSync(file, 'utf8');
  const found: { statement: string; target: string }[] = [];
  for (const match of text.matchAll(/^(?:import|export)\s[^;]*?from\s+'([^']+)'|import\(\s*'([^']+)'\s*\)|^import\s+'([^']+)'/gms)) {
    const specifier = (match[1] ?? match[2] ?? match[3]) as string;
    const target = specifier.startsWith('@/')
      ? path.join(src, specifier.slice(2))
      : specifier.startsWith('.')
        ? path.resolve(path.dirname(file), specifier)
        : specifier;
    found.push({ statement: match[0].replace(/\s+/g, ' '), target });
  }
  return found;
}

/** Node's modules, the database and WebSocket server libraries, and the page framework. */
const nodeOnlyOrFramework = /^(node:|pg$|pg\/|ws$|@prisma\/|prisma$|next$|next\/|react)/;

const under = (folder: string) => (target: string) => target.startsWith(path.join(src, folder) + path.sep);

describe('src/shared', () => {
  it('holds the shared modules and imports nothing Node-only, nothing of the server and nothing of the pages', () => {
    const files = sourceFiles(path.join(src, 'shared'));
    expect(files.map((file) => path.basename(file)).sort()).toEqual(
      expect.arrayContaining(['action.ts', 'backoff.ts', 'channel.ts', 'daemonCore.ts', 'delivery.ts', 'errnos.ts', 'limits.ts']),
    );
    const offending = files.flatMap((file) =>
      importsOf(file)
        .filter(({ target }) => nodeOnlyOrFramework.test(target) || ['server', 'app', 'daemon'].some((folder) => under(folder)(target)))
        .map(({ statement }) => `${path.relative(src, file)}: ${statement}`),
    );
    expect(offending).toEqual([]);
  });
});

describe('src/app and src/daemon', () => {
  it('import nothing from src/server but the type AppRouter', () => {
    const files = [...sourceFiles(path.join(src, 'app')), ...sourceFiles(path.join(src, 'daemon'))];
    const offending = files.flatMap((file) =>
      importsOf(file)
        .filter(({ target }) => under('server')(target))
        .filter(({ statement, target }) => !(/^import type \{ AppRouter \} from /.test(statement) && /routers\/_app(\.ts)?$/.test(target)))
        .map(({ statement }) => `${path.relative(src, file)}: ${statement}`),
    );
    expect(offending).toEqual([]);
  });
});

describe('src/client', () => {
  it('imports only src/client and src/shared: no package, nothing Node-only (its package has no dependencies)', () => {
    const offending = sourceFiles(path.join(src, 'client')).flatMap((file) =>
      importsOf(file)
        .filter(({ target }) => !under('client')(target) && !under('shared')(target))
        .map(({ statement }) => `${path.relative(src, file)}: ${statement}`),
    );
    expect(offending).toEqual([]);
  });
});
