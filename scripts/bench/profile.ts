/**
 * Summary of a V8 .cpuprofile (written by the server under --cpu-prof when
 * BENCH_PROFILE=1): self time by function and by package, so a bottleneck in
 * src/ (or in a library it leans on) shows up without opening DevTools.
 *
 * Also usable on its own: node --import tsx scripts/bench/profile.ts <file.cpuprofile>
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

export interface ProfileSummary {
  totalMs: number;
  /** Sampled time outside (idle), in ms. */
  busyMs: number;
  /** [label, ms] largest first. */
  functions: [string, number][];
  packages: [string, number][];
  /** Native work (socket writes, GC…) charged to the nearest JavaScript caller's package: who makes the syscalls. */
  nativeCallers: [string, number][];
  /**
   * All busy time, libraries' and native work included, charged to the
   * nearest file of src/ on its stack (else its package): which part of
   * Presence the time is spent for, where self time spreads it over the
   * libraries. A stack ends at an await, so work resumed from a library's
   * callback (a result parsed by pg) stays with the library.
   */
  ownCallers: [string, number][];
}

/** Milliseconds since the process started; only samples inside these windows are counted. */
export type Window = [number, number];

/** node_modules/<pkg> (scoped too), src/<file>, node:internal, or (idle)/(gc)/(program). */
function packageOf(url: string, fn: string): string {
  if (!url) return fn.startsWith('(') ? fn : '(native)';
  const modules = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (modules) return modules[1] as string;
  const src = /\/(src\/.+)$/.exec(url);
  if (src) return src[1] as string;
  if (url.startsWith('node:')) return 'node core';
  return path.basename(url);
}

export function summariseProfile(file: string, windows: readonly Window[] | null = null, top = 25): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  // Sample times are µs on the profiler's clock, which starts with the process (within a few ms).
  const self = new Map<number, number>();
  let at = profile.startTime;
  profile.samples.forEach((id, i) => {
    const delta = profile.timeDeltas[i] ?? 0;
    at += delta;
    const sinceStart = (at - profile.startTime) / 1000;
    if (windows && !windows.some(([from, to]) => sinceStart >= from && sinceStart <= to)) return;
    self.set(id, (self.get(id) ?? 0) + delta / 1000);
  });
  const functions = new Map<string, number>();
  const packages = new Map<string, number>();
  const nativeCallers = new Map<string, number>();
  const ownCallers = new Map<string, number>();
  let total = 0;
  let idle = 0;
  const add = (m: Map<string, number>, k: string, v: number) => m.set(k, (m.get(k) ?? 0) + v);
  for (const [id, ms] of self) {
    const node = byId.get(id);
    if (!node) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    total += ms;
    if (functionName === '(idle)') {
      idle += ms;
      continue;
    }
    const where = url ? `${url.replace(/^file:\/\/.*?\/(node_modules|src)\//, '$1/')}:${lineNumber + 1}` : '';
    add(functions, `${functionName || '(anonymous)'}${where ? ` ${where}` : ''}`, ms);
    add(packages, packageOf(url, functionName), ms);
    const owners = ownersOnStack(id, byId, parent);
    // Native work: who asked for it (the first frame of a package or of src/ above it).
    if (!url) add(nativeCallers, `${functionName || '(native)'} ← ${owners.nearest ?? 'no JavaScript caller'}`, ms);
    add(ownCallers, owners.own ?? owners.nearest ?? packageOf(url, functionName), ms);
  }
  const rank = (m: Map<string, number>): [string, number][] => [...m.entries()].sort((a, b) => b[1] - a[1]).slice(0, top);
  return {
    totalMs: total,
    busyMs: total - idle,
    functions: rank(functions),
    packages: rank(packages),
    nativeCallers: rank(nativeCallers),
    ownCallers: rank(ownCallers),
  };
}

/**
 * From this frame up, node core skipped: the first package or file of src/
 * (`nearest`), and the first file of src/ (`own`), each null when there is none.
 */
function ownersOnStack(
  id: number,
  byId: ReadonlyMap<number, ProfileNode>,
  parent: ReadonlyMap<number, number>,
): { nearest: string | null; own: string | null } {
  let nearest: string | null = null;
  for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
    const { url, functionName } = (byId.get(at) as ProfileNode).callFrame;
    if (!url || url.startsWith('node:')) continue;
    const owner = packageOf(url, functionName);
    nearest ??= owner;
    if (owner.startsWith('src/')) return { nearest, own: owner };
  }
  return { nearest, own: null };
}

export function formatProfile(summary: ProfileSummary, top = 15, scope = 'whole run'): string[] {
  const busy = Math.max(1, summary.busyMs);
  const pct = (ms: number) => `${((100 * ms) / busy).toFixed(1).padStart(5)}%`;
  const lines = [
    `server CPU profile (${scope}): ${(summary.totalMs / 1000).toFixed(1)} s sampled, ${(summary.busyMs / 1000).toFixed(1)} s busy; shares are of busy time`,
  ];
  lines.push('self time by package / file:');
  for (const [k, ms] of summary.packages.slice(0, top)) lines.push(`  ${pct(ms)}  ${k}`);
  lines.push('self time by function:');
  for (const [k, ms] of summary.functions.slice(0, top)) lines.push(`  ${pct(ms)}  ${k}`);
  lines.push('native self time by nearest JavaScript caller:');
  for (const [k, ms] of summary.nativeCallers.slice(0, 8)) lines.push(`  ${pct(ms)}  ${k}`);
  lines.push('all time by the nearest file of src/ on the stack (else the package):');
  for (const [k, ms] of summary.ownCallers.slice(0, top)) lines.push(`  ${pct(ms)}  ${k}`);
  return lines;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const file = process.argv[2];
  if (!file) throw new Error('usage: profile.ts <file.cpuprofile>');
  console.log(formatProfile(summariseProfile(file, null, 40), 40).join('\n'));
}
