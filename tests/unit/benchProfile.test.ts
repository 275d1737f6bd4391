/** The summary of a node's CPU profile (scripts/bench/profile.ts), on a small profile written by hand. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { summariseProfile } from '../../scripts/bench/profile.ts';

const dir = mkdtempSync(path.join(os.tmpdir(), 'presence-profile-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const frame = (id: number, functionName: string, url: string, children: number[] = []) => ({
  id,
  callFrame: { functionName, url, lineNumber: 0 },
  children,
});

/**
 * Stacks, root first: a route of src/ calling pg, which writes to its socket
 * (native); pg parsing a result from its socket's callback (no src/ frame:
 * the nearest library, pg, and not pg-protocol below it);
 * node core under a src/ file; idle.
 */
const nodes = [
  frame(1, '(root)', '', [2, 5, 7, 9]),
  frame(2, 'accept', 'file:///repo/src/server/http/notificationRoute.ts', [3]),
  frame(3, 'query', 'file:///repo/node_modules/pg/lib/client.js', [4]),
  frame(4, 'writev', ''),
  frame(5, 'onData', 'file:///repo/node_modules/pg-protocol/dist/parser.js', [6]),
  frame(6, 'parse', 'file:///repo/node_modules/pg/lib/result.js'),
  frame(7, 'deliver', 'file:///repo/src/server/trpc/routers/daemon.ts', [8]),
  frame(8, 'emit', 'node:events'),
  frame(9, '(idle)', ''),
];

function profileWith(samples: [node: number, ms: number][]): string {
  const file = path.join(dir, 'test.cpuprofile');
  const timeDeltas = samples.map(([, ms]) => ms * 1000);
  writeFileSync(file, JSON.stringify({ nodes, samples: samples.map(([id]) => id), timeDeltas, startTime: 0, endTime: 1e7 }));
  return file;
}

describe('CPU profile summary', () => {
  it('charges all busy time to the nearest file of src/ on the stack, else to the first library', () => {
    const summary = summariseProfile(
      profileWith([
        [4, 30],
        [3, 10],
        [2, 5],
        [6, 20],
        [8, 15],
        [9, 100],
      ]),
    );
    expect(summary.busyMs).toBeCloseTo(80);
    expect(Object.fromEntries(summary.ownCallers)).toEqual({
      'src/server/http/notificationRoute.ts': 45,
      pg: 20,
      'src/server/trpc/routers/daemon.ts': 15,
    });
    // Self time tells the libraries apart instead.
    expect(Object.fromEntries(summary.packages)).toEqual({ '(native)': 30, pg: 30, 'src/server/http/notificationRoute.ts': 5, 'node core': 15 });
  });
});
