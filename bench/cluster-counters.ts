// What the cluster benchmarks read of each node from /proc (Linux), summed or
// per node: CPU time, write and read system calls (/proc/<pid>/io syscw and
// syscr: counted, whatever the load) and context switches per thread kind.
import { readFileSync, readdirSync } from 'node:fs';
import { cpuMicros } from './proc.js';

/** Context switches of a node's threads so far: [main voluntary, main involuntary, other threads voluntary, other involuntary]. */
export type Switches = [number, number, number, number];

/** utime + stime of each pid, µs. */
export function cpuOfPids(pids: readonly number[]): number[] {
  return pids.map((pid) => cpuMicros(pid));
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
  writes: number[];
  reads: number[];
  switches: Switches[];
}

export function readCounters(pids: readonly number[]): NodeCounters {
  return { cpu: cpuOfPids(pids), writes: writesOfPids(pids), reads: readsOfPids(pids), switches: switchesOfPids(pids) };
}

/** Sum over nodes of after - before. */
export function sumDelta(after: readonly number[], before: readonly number[]): number {
  return after.reduce((t, v, i) => t + v - before[i]!, 0);
}

/** Per kind of switch, the sum over nodes of after - before. */
export function switchDelta(after: readonly Switches[], before: readonly Switches[]): Switches {
  return [0, 1, 2, 3].map((k) => after.reduce((t, n, i) => t + n[k]! - before[i]![k]!, 0)) as Switches;
}
