/** The README shows the HAProxy configurations that the fault tests run, as they are in deploy/haproxy/. */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const readme = readFileSync(path.join(root, 'README.md'), 'utf8');

describe('HAProxy configurations in the README', () => {
  for (const file of ['presence-nodes.cfg', 'presence-postgres.cfg']) {
    it(`shows deploy/haproxy/${file} word for word`, () => {
      const config = readFileSync(path.join(root, 'deploy', 'haproxy', file), 'utf8');
      expect(readme).toContain(`\`\`\`haproxy\n${config}\`\`\``);
    });
  }
});
