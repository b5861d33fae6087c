// V8's helper threads at a lower CPU priority than the event loop (Linux).
//
// A major collection marks the heap concurrently on V8's platform worker
// threads. On a machine whose cores are busy (the server's event loop, its
// clients, the database), those threads take a core from the event loop for
// the whole marking, 100-250 ms, and every request in that window waits: on
// two cores the paced ack p99 of `npm run bench:store` was set by it
// (bench/README.md, "V8's helper threads niced"). Niced, they run on time
// nobody else wants; V8 then does more of the marking in its own steps on the
// main thread, and the final pause is somewhat longer (6-24 ms measured,
// against 4-13), a trade the paced windows still won.
//
// Which threads: Node 24 names its platform workers "V8Worker". Node 20 and
// 22 leave them "node" (22 names the scheduler "DelayedTaskSche"); there they
// are the first threads the process makes after its main thread, before any
// JavaScript runs: the delayed-task scheduler, then `--v8-pool-size` workers
// (default 4).
// Only threads that exist now are touched: the server's own (the SQLite
// writer, libuv's pool) are made later and keep the default priority.
import { readFileSync, readdirSync } from 'node:fs';
import { availableParallelism, setPriority } from 'node:os';

export interface HelperPriorityEnv {
  platform: NodeJS.Platform;
  pid: number;
  /** The process's threads (`/proc/self/task`): ids and names. */
  threads(): { tid: number; name: string }[];
  setPriority(tid: number, nice: number): void;
  /** Node's own options in the order Node applies them: NODE_OPTIONS, then the command line's (the last one wins). */
  nodeArgs: readonly string[];
}

export const processEnv = (): HelperPriorityEnv => ({
  platform: process.platform,
  pid: process.pid,
  threads: () =>
    readdirSync('/proc/self/task').map((t) => ({ tid: Number(t), name: readFileSync(`/proc/self/task/${t}/comm`, 'utf8').trim() })),
  setPriority,
  nodeArgs: [...(process.env.NODE_OPTIONS ?? '').split(/\s+/).filter((a) => a !== ''), ...process.execArgv],
});

const POOL_SIZE_FLAG = /^--v8-pool-size=(\d+)$/;

/** How many platform workers Node started (node_platform.cc: below 1 means the cores less one, at least 1). */
export function v8PoolSize(nodeArgs: readonly string[]): number {
  const given = nodeArgs.findLast((a) => POOL_SIZE_FLAG.test(a));
  const n = given === undefined ? 4 : Number(POOL_SIZE_FLAG.exec(given)![1]);
  return n >= 1 ? n : Math.max(availableParallelism() - 1, 1);
}

/** The V8 platform's worker threads in this process, as described above. */
export function v8HelperThreads(env: HelperPriorityEnv): number[] {
  const others = env.threads().filter((t) => t.tid !== env.pid);
  const named = others.filter((t) => t.name === 'V8Worker');
  if (named.length > 0) return named.map((t) => t.tid);
  // Thread ids grow in the order threads are made: the platform's scheduler first, then its workers.
  const [scheduler, ...workers] = others.sort((a, b) => a.tid - b.tid).slice(0, 1 + v8PoolSize(env.nodeArgs));
  const unnamed = (t: { name: string }) => t.name === 'node';
  if (scheduler === undefined || !(unnamed(scheduler) || scheduler.name === 'DelayedTaskSche') || !workers.every(unnamed)) return []; // not a layout we know
  return workers.map((t) => t.tid);
}

export interface HelperPriorityResult {
  /** The threads set to the lower priority. */
  threads: number[];
  /** Why it stopped, when it could not: the server runs on regardless. */
  error?: string;
}

/**
 * Sets V8's helper threads to `nice` (1-19; 0 leaves them alone). Off Linux,
 * where a thread id is not something setpriority() takes, it does nothing.
 */
export function lowerGcHelperPriority(nice: number, env: HelperPriorityEnv = processEnv()): HelperPriorityResult {
  const threads: number[] = [];
  if (nice === 0 || env.platform !== 'linux') return { threads };
  try {
    for (const tid of v8HelperThreads(env)) {
      env.setPriority(tid, nice);
      threads.push(tid);
    }
    return { threads };
  } catch (err) {
    // No /proc, or a sandbox that refuses setpriority(): a tuning, never a reason not to serve.
    return { threads, error: (err as Error).message };
  }
}
