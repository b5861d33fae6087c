// The server's own accounting, read from /proc (Linux): CPU time as the
// kernel charges it to the process (utime + stime of /proc/<pid>/stat, in
// clock ticks; and the nanosecond run time of every thread from
// /proc/<pid>/task/*/schedstat, as a finer cross-check), and resident memory
// (VmRSS of /proc/<pid>/status).
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';

/** Clock ticks per second for /proc/<pid>/stat (USER_HZ; 100 nearly everywhere). */
export const CLK_TCK: number = (() => {
  try {
    const n = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
    return Number.isInteger(n) && n > 0 ? n : 100;
  } catch {
    return 100;
  }
})();

/** utime + stime of the process, in microseconds (resolution 1/CLK_TCK s). */
export function cpuMicros(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may hold spaces and parentheses: fields are counted after its last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return ((utime + stime) * 1e6) / CLK_TCK;
}

/** Time on CPU of every live thread of the process, in microseconds (nanosecond resolution). */
export function schedMicros(pid: number): number {
  let ns = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
    } catch {
      // The thread ended between the listing and the read.
    }
  }
  return ns / 1000;
}

/** schedMicros split: the main thread (the event loop: its tid is the pid) and all the others (V8's compiler and GC helpers, libuv's pool). */
export function schedMicrosByThread(pid: number): { main: number; other: number } {
  let main = 0;
  let other = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const ns = Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
      if (tid === String(pid)) main += ns;
      else other += ns;
    } catch {
      // The thread ended between the listing and the read.
    }
  }
  return { main: main / 1000, other: other / 1000 };
}

/** schedMicros by thread: its name (`/proc/<pid>/task/<tid>/comm`) and its id less the pid (creation order), "main" for the event loop. */
export function schedMicrosByThreadName(pid: number): Map<string, number> {
  const byName = new Map<string, number>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const ns = Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
      // Node 20 names most of its threads "node": the thread id tells them apart (ids rise in creation order).
      const name = tid === String(pid) ? 'main' : `${readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim()} ${Number(tid) - pid}`;
      byName.set(name, (byName.get(name) ?? 0) + ns / 1000);
    } catch {
      // The thread ended between the listing and the read.
    }
  }
  return byName;
}

/** Resident set size in bytes. */
export function rssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  return m ? Number(m[1]) * 1024 : NaN;
}
