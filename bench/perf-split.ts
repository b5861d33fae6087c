// Where a process's CPU goes in two kinds of measured windows, from Linux
// `perf`: the whole machine sampled on the CPU clock (`perf record -a`, time
// stamps on CLOCK_MONOTONIC, the clock of process.hrtime), then each sample of
// the process's threads assigned to the window it fell in, and summed by
// thread (main or other) and kind of code (JavaScript, V8's builtins, GC,
// compiler, kernel, other native). A V8 CPU profile sees only the main
// thread's JavaScript; this sees the helper threads' compiling and marking
// and the kernel too. The process needs `--perf-basic-prof` for its
// JavaScript to be named. bench/README.md, "Where a sampled broadcast's CPU
// goes, profiled", is what it was made for.
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';

export type CodeKind = 'js' | 'builtins' | 'gc' | 'compiler' | 'kernel' | 'native';

export interface PerfSample {
  /** The process's main thread (tid = pid), or another of its threads. */
  main: boolean;
  /** CLOCK_MONOTONIC, µs. */
  us: number;
  symbol: string;
  dso: string;
}

export interface PerfWindow {
  startUs: number;
  endUs: number;
  kind: string;
  deliveries: number;
}

/** µs a delivery by thread and kind of code (`main js`, `other compiler`...), per kind of window. */
export interface PerfSplit {
  samples: number;
  byCode: Record<string, Record<string, number>>;
  /** The symbols whose µs a delivery differ most between the first two kinds of window (first less second). */
  top: { code: string; symbol: string; difference: number }[];
}

const GC = /Scaveng|MarkCompact|Marking|Sweep|Evacuat|heap::|Heap::|GCTracer|MinorMC|ConcurrentMark/;
const COMPILER = /compiler::|Compiler|maglev|Maglev|turboshaft|Pipeline|Bytecode|Parser|Deoptimizer|baseline/;

export function codeKind(symbol: string, dso: string): CodeKind {
  if (dso.includes('kernel')) return 'kernel';
  if (symbol.startsWith('JS:')) return 'js';
  if (GC.test(symbol)) return 'gc';
  if (COMPILER.test(symbol)) return 'compiler';
  if (symbol.startsWith('Builtins_')) return 'builtins';
  return 'native';
}

/** A symbol without its offset, and a JavaScript function without where it is (two builds compare). */
function bare(symbol: string): string {
  return symbol.replace(/\+0x[0-9a-f]+$/, '').replace(/ (file:\/\/|\/|node:)\S*/g, '');
}

export function splitByWindows(samples: Iterable<PerfSample>, windows: readonly PerfWindow[], hz: number, topN = 30): PerfSplit {
  const sorted = [...windows].sort((a, b) => a.startUs - b.startUs);
  const kinds = [...new Set(sorted.map((w) => w.kind))];
  const deliveries = new Map(kinds.map((k) => [k, sorted.filter((w) => w.kind === k).reduce((n, w) => n + w.deliveries, 0)]));
  const counts = new Map<string, Map<string, number>>();
  const bySymbol = new Map<string, Map<string, number>>();
  const add = (table: Map<string, Map<string, number>>, key: string, kind: string) => {
    let row = table.get(key);
    if (row === undefined) table.set(key, (row = new Map()));
    row.set(kind, (row.get(kind) ?? 0) + 1);
  };
  let n = 0;
  for (const s of samples) {
    // The last window that starts at or before the sample.
    let lo = 0;
    let hi = sorted.length - 1;
    let at = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (sorted[mid]!.startUs <= s.us) {
        at = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    if (at < 0 || s.us > sorted[at]!.endUs) continue;
    const kind = sorted[at]!.kind;
    const code = `${s.main ? 'main' : 'other'} ${codeKind(s.symbol, s.dso)}`;
    add(counts, code, kind);
    add(bySymbol, `${code}\t${bare(s.symbol)}`, kind);
    n++;
  }
  const perDelivery = (count: number, kind: string) => (count / hz) * 1e6 / (deliveries.get(kind) || 1);
  const byCode: Record<string, Record<string, number>> = {};
  for (const code of [...counts.keys()].sort()) {
    byCode[code] = Object.fromEntries(kinds.map((k) => [k, perDelivery(counts.get(code)!.get(k) ?? 0, k)]));
  }
  const [a, b] = kinds;
  const top =
    a === undefined || b === undefined
      ? []
      : [...bySymbol]
          .map(([key, row]) => {
            const [code, symbol] = key.split('\t') as [string, string];
            return { code, symbol, difference: perDelivery(row.get(a) ?? 0, a) - perDelivery(row.get(b) ?? 0, b) };
          })
          .sort((x, y) => Math.abs(y.difference) - Math.abs(x.difference))
          .slice(0, topN);
  return { samples: n, byCode, top };
}

const LINE = /^\s*(\d+)\/(\d+)\s+([\d.]+):\s+[0-9a-f]+\s+(.*?)\s+\((.*)\)\s*$/;

/** `perf script` output lines of process `pid` as samples. */
export function parsePerfScriptLine(line: string, pid: number): PerfSample | undefined {
  const m = LINE.exec(line);
  if (m === null || Number(m[1]) !== pid) return undefined;
  return { main: Number(m[2]) === pid, us: Number(m[3]) * 1e6, symbol: m[4]!, dso: m[5]! };
}

/** `perf record` of the whole machine into `file` until stop(); undefined when perf is not there or not allowed. */
export async function startPerf(file: string, hz: number): Promise<{ stop(): Promise<void> } | undefined> {
  const child: ChildProcess = spawn('perf', ['record', '-e', 'cpu-clock', '-F', String(hz), '-a', '-k', 'mono', '-o', file, '--', 'sleep', '86400'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const failed = once(child, 'error').then(() => true);
  const exited = once(child, 'exit');
  // perf says nothing when it starts well; give it a moment to fail.
  const early = await Promise.race([failed, exited.then(() => true), new Promise<false>((resolve) => setTimeout(() => resolve(false), 500))]);
  if (early) {
    process.stderr.write(`perf record did not start: ${stderr.trim() || 'perf not found'}\n`);
    return undefined;
  }
  return {
    async stop() {
      child.kill('SIGINT');
      await exited;
    },
  };
}

/** The samples of `pid` in `file` (perf script; JavaScript named from /tmp/perf-<pid>.map). */
export async function* perfSamples(file: string, pid: number): AsyncGenerator<PerfSample> {
  const child = spawn('perf', ['script', '-i', file, '-F', 'pid,tid,time,ip,sym,dso'], { stdio: ['ignore', 'pipe', 'ignore'] });
  for await (const line of createInterface({ input: child.stdout! })) {
    const s = parsePerfScriptLine(line, pid);
    if (s !== undefined) yield s;
  }
}
