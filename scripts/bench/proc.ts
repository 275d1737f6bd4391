/**
 * What the benchmark reads from /proc: resident memory of a process, CPU time
 * of processes (and of PostgreSQL's whole process tree), and the machine's
 * busy time, so every row can say where the CPU went — including to other
 * work running on the machine at the same time.
 */
import { readFileSync, readdirSync } from 'node:fs';

/** Clock ticks per second of /proc/<pid>/stat times (USER_HZ; 100 on Linux everywhere that matters). */
const TICKS_PER_SECOND = 100;

/** VmRSS of a process in bytes, or null when it is gone. */
export function rssBytes(pid: number): number | null {
  try {
    const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) * 1024 : null;
  } catch {
    return null;
  }
}

interface ProcStat {
  ppid: number;
  /** utime + stime, in seconds. */
  own: number;
  /** cutime + cstime (reaped children), in seconds. */
  children: number;
}

function procStat(pid: number): ProcStat | null {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name may contain spaces and parentheses: fields start after the last ')'.
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    const n = (i: number) => Number(fields[i - 3]);
    return { ppid: n(4), own: (n(14) + n(15)) / TICKS_PER_SECOND, children: (n(16) + n(17)) / TICKS_PER_SECOND };
  } catch {
    return null;
  }
}

/** CPU seconds used so far by one process (0 when it is gone). */
export function cpuSeconds(pid: number): number {
  return procStat(pid)?.own ?? 0;
}

/**
 * CPU seconds used so far by a PostgreSQL cluster: the postmaster, its live
 * children, and the children it has already reaped (backends that exited).
 */
export function treeCpuSeconds(rootPid: number): number {
  let total = 0;
  for (const seconds of clusterCpuByProcess(rootPid).values()) total += seconds;
  return total;
}

/**
 * CPU seconds used so far by each live process of a PostgreSQL cluster (the
 * postmaster included), and by the children it has already reaped, under -1.
 */
export function clusterCpuByProcess(rootPid: number): Map<number, number> {
  const root = procStat(rootPid);
  const byPid = new Map<number, number>();
  if (!root) return byPid;
  byPid.set(rootPid, root.own);
  byPid.set(-1, root.children);
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const stat = procStat(Number(name));
    if (stat && stat.ppid === rootPid) byPid.set(Number(name), stat.own);
  }
  return byPid;
}

/** Busy and total CPU seconds of the whole machine (all cores), from /proc/stat. */
export function machineCpu(): { busy: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0] as string;
  const ticks = line.trim().split(/\s+/).slice(1).map(Number);
  const idle = (ticks[3] ?? 0) + (ticks[4] ?? 0); // idle + iowait
  const total = ticks.reduce((a, b) => a + b, 0);
  return { busy: (total - idle) / TICKS_PER_SECOND, total: total / TICKS_PER_SECOND };
}

/** The pid of a cluster's postmaster, from the first line of postmaster.pid. */
export function postmasterPid(clusterDir: string): number | null {
  try {
    const pid = Number(readFileSync(`${clusterDir}/postmaster.pid`, 'utf8').split('\n', 1)[0]);
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

/** CPU use over an interval, as "% of one core" (so 200 % is both cores of a 2-core machine). */
export interface CpuSplit {
  server: number;
  postgres: number;
  clients: number;
  /** Everything else on the machine: other engineers' tests, the orchestrator, the kernel's share not charged to a process. */
  other: number;
  seconds: number;
}

/**
 * Starts a CPU measurement; calling the returned function ends it. `clients`
 * is read at both ends, so workers forked in between must be passed by a
 * getter.
 */
export function startCpuMeter(pids: { server: number | null; postmaster: number | null; clients: () => number[] }): () => CpuSplit {
  const read = () => ({
    at: performance.now(),
    server: pids.server ? cpuSeconds(pids.server) : 0,
    postgres: pids.postmaster ? treeCpuSeconds(pids.postmaster) : 0,
    // A server the bench forked itself (the bare baselines) is among its workers: counted once, as the server.
    clients: new Map(
      pids
        .clients()
        .filter((pid) => pid !== pids.server)
        .map((pid) => [pid, cpuSeconds(pid)]),
    ),
    machine: machineCpu().busy,
  });
  const start = read();
  return () => {
    const end = read();
    const seconds = (end.at - start.at) / 1000;
    let clients = 0;
    for (const [pid, used] of end.clients) clients += used - (start.clients.get(pid) ?? 0);
    const server = end.server - start.server;
    const postgres = end.postgres - start.postgres;
    const machine = end.machine - start.machine;
    const pct = (s: number) => (seconds > 0 ? (100 * s) / seconds : 0);
    return { server: pct(server), postgres: pct(postgres), clients: pct(clients), other: pct(Math.max(0, machine - server - postgres - clients)), seconds };
  };
}

export function formatCpu(cpu: CpuSplit): string {
  return `CPU srv ${cpu.server.toFixed(0)}% pg ${cpu.postgres.toFixed(0)}% load ${cpu.clients.toFixed(0)}% other ${cpu.other.toFixed(0)}%`;
}

/**
 * Machine-wide TCP counters of listen queues (/proc/net/netstat, TcpExt): a
 * connection rush that overflows a server's accept queue shows up here as
 * dropped SYNs, which clients only retry after 1 s, 3 s, 7 s…
 */
export function tcpListenCounters(): { listenOverflows: number; listenDrops: number; syncookiesSent: number } {
  try {
    const lines = readFileSync('/proc/net/netstat', 'utf8')
      .split('\n')
      .filter((l) => l.startsWith('TcpExt:'));
    const names = (lines[0] ?? '').split(/\s+/);
    const values = (lines[1] ?? '').split(/\s+/).map(Number);
    const get = (name: string) => values[names.indexOf(name)] ?? Number.NaN;
    return { listenOverflows: get('ListenOverflows'), listenDrops: get('ListenDrops'), syncookiesSent: get('SyncookiesSent') };
  } catch {
    return { listenOverflows: Number.NaN, listenDrops: Number.NaN, syncookiesSent: Number.NaN };
  }
}
