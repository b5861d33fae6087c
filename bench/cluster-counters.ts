// What the cluster benchmarks read of each node from /proc (Linux), summed or
// per node: CPU time, write and read system calls (/proc/<pid>/io syscw and
// syscr: counted, whatever the load) and context switches per thread kind.
import { readFileSync, readdirSync } from 'node:fs';
import { CLK_TCK, cpuMicros } from './proc.js';

/** Context switches of a node's threads so far: [main voluntary, main involuntary, other threads voluntary, other involuntary]. */
export type Switches = [number, number, number, number];

/** utime + stime of each pid, µs. */
export function cpuOfPids(pids: readonly number[]): number[] {
  return pids.map((pid) => cpuMicros(pid));
}

/** utime and stime of a /proc stat line, µs (fields counted after the command name's last ')'). */
function userSys(stat: string): [number, number] {
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return [(Number(fields[11]) * 1e6) / CLK_TCK, (Number(fields[12]) * 1e6) / CLK_TCK];
}

/**
 * Of each pid's CPU so far (µs): the kernel's share (stime, every thread: system calls, the
 * loopback TCP work a socket write does for its reader, wake-ups) and the main thread's
 * utime + stime (the JS and the event loop; the rest is GC and compiler helper threads).
 */
export function cpuSplitOfPids(pids: readonly number[]): { sys: number[]; main: number[] } {
  const sys: number[] = [];
  const main: number[] = [];
  for (const pid of pids) {
    sys.push(userSys(readFileSync(`/proc/${pid}/stat`, 'utf8'))[1]);
    const [u, s] = userSys(readFileSync(`/proc/${pid}/task/${pid}/stat`, 'utf8'));
    main.push(u + s);
  }
  return { sys, main };
}

/**
 * Each pid's main thread so far: how often the scheduler moved it to another CPU (se.nr_migrations
 * of /proc/<pid>/task/<pid>/sched: counted; a moved thread starts on caches that hold another
 * process's data) and how long it waited runnable for a CPU (run_delay of .../schedstat, µs: the
 * CPU was taken by another process).
 */
export function schedOfPids(pids: readonly number[]): { migrations: number[]; runDelayUs: number[] } {
  const migrations: number[] = [];
  const runDelayUs: number[] = [];
  for (const pid of pids) {
    const sched = readFileSync(`/proc/${pid}/task/${pid}/sched`, 'utf8');
    migrations.push(Number(/^se\.nr_migrations\s*:\s*(\d+)/m.exec(sched)?.[1] ?? NaN));
    runDelayUs.push(Number(readFileSync(`/proc/${pid}/task/${pid}/schedstat`, 'utf8').split(' ')[1]) / 1000);
  }
  return { migrations, runDelayUs };
}

function ioField(pid: number, name: 'syscw' | 'syscr'): number {
  const io = readFileSync(`/proc/${pid}/io`, 'utf8');
  return Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(io)?.[1] ?? NaN);
}

/** Write syscalls of each pid so far (write, writev, sendmsg...: /proc/<pid>/io syscw). */
export function writesOfPids(pids: readonly number[]): number[] {
  return pids.map((pid) => ioField(pid, 'syscw'));
}

/** Read syscalls of each pid so far (/proc/<pid>/io syscr). */
export function readsOfPids(pids: readonly number[]): number[] {
  return pids.map((pid) => ioField(pid, 'syscr'));
}

/** Context switches of each pid so far (/proc/<pid>/task/<tid>/status): the main thread's voluntary ones are its event loop going idle. */
export function switchesOfPids(pids: readonly number[]): Switches[] {
  return pids.map((pid) => {
    const n: Switches = [0, 0, 0, 0];
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      try {
        const status = readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8');
        const at = Number(tid) === pid ? 0 : 2;
        n[at] = n[at]! + Number(/^voluntary_ctxt_switches:\s+(\d+)/m.exec(status)?.[1] ?? 0);
        n[at + 1] = n[at + 1]! + Number(/^nonvoluntary_ctxt_switches:\s+(\d+)/m.exec(status)?.[1] ?? 0);
      } catch {
        // The thread ended between the listing and the read.
      }
    }
    return n;
  });
}

/** Everything above at once, for a before/after pair around a window. */
export interface NodeCounters {
  cpu: number[];
  /** The kernel's share of `cpu` (stime), µs. */
  sys: number[];
  /** The main thread's CPU (utime + stime), µs. */
  main: number[];
  /** The main thread's moves to another CPU (counted). */
  migrations: number[];
  /** The main thread's time runnable but waiting for a CPU, µs. */
  runDelayUs: number[];
  writes: number[];
  reads: number[];
  switches: Switches[];
}

export function readCounters(pids: readonly number[]): NodeCounters {
  const split = cpuSplitOfPids(pids);
  const sched = schedOfPids(pids);
  return { cpu: cpuOfPids(pids), sys: split.sys, main: split.main, migrations: sched.migrations, runDelayUs: sched.runDelayUs, writes: writesOfPids(pids), reads: readsOfPids(pids), switches: switchesOfPids(pids) };
}

/** Sum over nodes of after - before. */
export function sumDelta(after: readonly number[], before: readonly number[]): number {
  return after.reduce((t, v, i) => t + v - before[i]!, 0);
}

/** Per kind of switch, the sum over nodes of after - before. */
export function switchDelta(after: readonly Switches[], before: readonly Switches[]): Switches {
  return [0, 1, 2, 3].map((k) => after.reduce((t, n, i) => t + n[k]! - before[i]![k]!, 0)) as Switches;
}
