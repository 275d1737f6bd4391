/** The design lives in the repository: every document the code points at exists, and docs/ARCHITECTURE.md is linked and whole. */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it, expect } from 'vitest';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const scanned = ['src', 'scripts', 'tests', 'prisma', 'bin', '.ci'];
const skipped = new Set(['node_modules', 'generated']);
const documentName = /[\w./-]*[\w-]+\.md\b/g;
/** Comment lines (and comments after code): what points a reader at a document; a file name in a string is data. */
const comment = /(?:^\s*(?:\*|\/\*|#|--)|\/\/).*$/;

function* sourceFiles(dir: string): Generator<string> {
  if (!existsSync(dir)) return;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (skipped.has(entry.name)) continue;
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) yield* sourceFiles(full);
    else if (/\.(?:ts|tsx|mts|js|mjs|cjs|sql|prisma|sh)$/.test(entry.name) || entry.name === 'run') yield full;
  }
}

/** A name resolves from the repository's root, from the citing file's folder, or inside docs/. */
function resolves(name: string, citedFrom: string): boolean {
  return [path.join(root, name), path.join(path.dirname(citedFrom), name), path.join(root, 'docs', name)].some((candidate) => existsSync(candidate));
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces as dashes. */
function anchorOf(heading: string): string {
  return heading
    .toLowerCase()
    .replace(/[^\p{L}\p{N} _-]/gu, '')
    .replace(/ /g, '-');
}

describe('document references', () => {
  it('every document a comment in a source, script or test file names exists in the repository', () => {
    const missing: string[] = [];
    for (const dir of scanned) {
      for (const file of sourceFiles(path.join(root, dir))) {
        const lines = readFileSync(file, 'utf8').split('\n');
        lines.forEach((line, i) => {
          for (const [name] of line.match(comment)?.[0].matchAll(documentName) ?? []) {
            if (!resolves(name, file)) missing.push(`${path.relative(root, file)}:${i + 1}: ${name}`);
          }
        });
      }
    }
    expect(missing).toEqual([]);
  });

  it('the README links docs/ARCHITECTURE.md, whose links and section anchors all resolve', () => {
    expect(readFileSync(path.join(root, 'README.md'), 'utf8')).toContain('](docs/ARCHITECTURE.md)');
    const architecture = path.join(root, 'docs', 'ARCHITECTURE.md');
    const text = readFileSync(architecture, 'utf8');
    const anchors = new Set([...text.matchAll(/^#{1,6} (.+)$/gm)].map((m) => anchorOf(m[1] as string)));
    const broken: string[] = [];
    for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      const link = target as string;
      if (/^[a-z]+:/.test(link)) continue;
      if (link.startsWith('#')) {
        if (!anchors.has(link.slice(1))) broken.push(link);
      } else if (!existsSync(path.resolve(path.dirname(architecture), link.split('#')[0] as string))) {
        broken.push(link);
      }
    }
    expect(broken).toEqual([]);
  });

  it('docs/ARCHITECTURE.md draws both paths, the POST and the daemon, as Mermaid sequence diagrams', () => {
    const text = readFileSync(path.join(root, 'docs', 'ARCHITECTURE.md'), 'utf8');
    const diagrams = [...text.matchAll(/```mermaid\n([\s\S]*?)```/g)].map((m) => m[1] as string);
    const sequences = diagrams.filter((d) => d.trimStart().startsWith('sequenceDiagram'));
    expect(sequences.some((d) => d.includes('push_group') && d.includes('storeGroup') && d.includes('SignalListener'))).toBe(true);
    expect(sequences.some((d) => d.includes('daemon.notifications') && d.includes('ackItems'))).toBe(true);
  });
});
