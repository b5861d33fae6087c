import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { type HelperPriorityEnv, lowerGcHelperPriority, v8HelperThreads, v8PoolSize } from '../../server/gc-helper-priority.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

function env(threads: [number, string][], over: Partial<HelperPriorityEnv> = {}): HelperPriorityEnv & { set: [number, number][] } {
  const set: [number, number][] = [];
  return {
    platform: 'linux',
    pid: 100,
    threads: () => threads.map(([tid, name]) => ({ tid, name })),
    setPriority: (tid, nice) => set.push([tid, nice]),
    nodeArgs: [],
    set,
    ...over,
  };
}

describe('v8HelperThreads', () => {
  it('takes the threads Node names V8Worker (Node 24)', () => {
    const e = env([[100, 'MainThread'], [104, 'V8Worker'], [101, 'DelayedTaskSche'], [102, 'V8Worker'], [105, 'SignalInspector'], [106, 'libuv-worker']]);
    expect(v8HelperThreads(e)).toEqual([104, 102]);
  });

  it("where the workers are 'node' (Node 20, 22), takes the --v8-pool-size made right after the scheduler", () => {
    const threads: [number, string][] = [[100, 'node'], [230, 'node'], [107, 'node'], [103, 'node'], [105, 'node'], [104, 'node'], [106, 'node'], [108, 'node']];
    expect(v8HelperThreads(env(threads))).toEqual([104, 105, 106, 107]);
    expect(v8HelperThreads(env(threads, { nodeArgs: ['--v8-pool-size=2'] }))).toEqual([104, 105]);
    expect(v8HelperThreads(env(threads, { nodeArgs: ['--v8-pool-size=2', '--v8-pool-size=3'] }))).toEqual([104, 105, 106]);
    const node22: [number, string][] = [[100, 'node'], [101, 'DelayedTaskSche'], [102, 'node'], [103, 'node'], [104, 'node'], [105, 'node'], [106, 'node']];
    expect(v8HelperThreads(env(node22))).toEqual([102, 103, 104, 105]);
  });

  it('takes nothing from threads it does not recognise', () => {
    expect(v8HelperThreads(env([[100, 'node'], [101, 'SomethingElse'], [102, 'node']]))).toEqual([]);
    expect(v8HelperThreads(env([[100, 'node'], [101, 'node'], [102, 'node'], [103, 'libuv-worker']]))).toEqual([]);
  });

  it('reads the pool size as Node does: below 1, the cores less one', () => {
    expect(v8PoolSize([])).toBe(4);
    expect(v8PoolSize(['--v8-pool-size=7'])).toBe(7);
    expect(v8PoolSize(['--v8-pool-size=0'])).toBeGreaterThanOrEqual(1);
  });
});

describe('lowerGcHelperPriority', () => {
  it('sets each helper thread to the nice value; 0 and other platforms touch nothing', () => {
    const e = env([[100, 'MainThread'], [101, 'V8Worker'], [102, 'V8Worker']]);
    expect(lowerGcHelperPriority(19, e)).toEqual({ threads: [101, 102] });
    expect(e.set).toEqual([[101, 19], [102, 19]]);
    const off = env([[100, 'MainThread'], [101, 'V8Worker']]);
    expect(lowerGcHelperPriority(0, off)).toEqual({ threads: [] });
    const mac = env([[100, 'MainThread'], [101, 'V8Worker']], { platform: 'darwin' });
    expect(lowerGcHelperPriority(19, mac)).toEqual({ threads: [] });
    expect([...off.set, ...mac.set]).toEqual([]);
  });

  it('reports a refusal instead of throwing: the server serves on', () => {
    const e = env([[100, 'MainThread'], [101, 'V8Worker'], [102, 'V8Worker']], {
      setPriority: (tid) => {
        if (tid === 102) throw new Error('EACCES');
      },
    });
    expect(lowerGcHelperPriority(19, e)).toEqual({ threads: [101], error: 'EACCES' });
  });

  // On the real process: the threads it lowers are the ones that did V8's concurrent marking, the
  // main thread and threads made afterwards (a worker, as the SQLite writer is) keep their priority.
  it.runIf(process.platform === 'linux')('in a real Node process, lowers the threads that mark, and no other', () => {
    const script = `
      import { readFileSync, readdirSync } from 'node:fs';
      import { Worker } from 'node:worker_threads';
      import { lowerGcHelperPriority } from './server/gc-helper-priority.ts';
      const stat = (tid) => { const f = readFileSync('/proc/self/task/' + tid + '/stat', 'utf8').split(') ')[1].split(' '); return { cpu: Number(f[11]) + Number(f[12]), nice: Number(f[16]) }; };
      const tids = () => readdirSync('/proc/self/task').map(Number);
      const before = tids();
      const cpuBefore = Object.fromEntries(before.map((t) => [t, stat(t).cpu]));
      // Old objects enough for concurrent marking to have work: a retained graph, rewritten. Done
      // before lowering anything, so that every thread got its share of the cores while it ran.
      const keep = [];
      for (let round = 0; round < 20; round++) {
        for (let i = 0; i < 250_000; i++) keep[i] = { a: i, b: [i, round], c: { d: 'x' + i } };
        await new Promise((r) => setImmediate(r));
      }
      const { threads, error } = lowerGcHelperPriority(19);
      const worker = new Worker('setInterval(() => {}, 1000)', { eval: true });
      await new Promise((r) => worker.once('online', r));
      const after = tids();
      const report = after.map((tid) => { const s = stat(tid); return { tid, nice: s.nice, cpu: s.cpu - (cpuBefore[tid] ?? 0), old: before.includes(tid) }; });
      await worker.terminate();
      process.stdout.write(JSON.stringify({ pid: process.pid, threads, error, report }));
    `;
    const out = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
    const { pid, threads, error, report } = JSON.parse(out) as { pid: number; threads: number[]; error?: string; report: { tid: number; cpu: number; nice: number; old: boolean }[] };
    expect(error).toBeUndefined();
    expect(threads.length).toBeGreaterThanOrEqual(4);
    const lowered = report.filter((t) => threads.includes(t.tid));
    expect(lowered.map((t) => t.nice)).toEqual(threads.map(() => 19));
    expect(report.find((t) => t.tid === pid)?.nice).toBe(0);
    const made = report.filter((t) => !t.old);
    expect(made.length).toBeGreaterThan(0);
    expect(made.every((t) => t.nice === 0)).toBe(true);
    // The marking ran on the lowered threads; the other threads from before (signal and timer threads, libuv's pool) hardly ran.
    const cpu = (ts: typeof report) => ts.reduce((s, t) => s + t.cpu, 0);
    const others = report.filter((t) => t.old && t.tid !== pid && !threads.includes(t.tid));
    expect(cpu(lowered)).toBeGreaterThan(0);
    expect(cpu(lowered)).toBeGreaterThanOrEqual(cpu(others));
  });
});
