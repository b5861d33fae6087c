// Instructions, not time: what the Transport adds to an unsampled send ->
// handle (issue 15's 15 ns budget) and what tail capture adds to a delivery
// that is not slow (issue 17's 1.01), counted by valgrind's callgrind, which
// counts the same instructions however loaded the machine is.
//
// Each case (bench/actor-rigs.ts, the server's wiring) runs in --processes
// nodes under callgrind: a warm-up, then sections of --units units (a message
// sent and handled, or a broadcast delivery), callgrind dumping its counts at
// a marker between sections, so start-up and warm-up are not counted. Each
// section's dump also says how much of it was V8's compilers: a section that
// compiled is left out and reported (bench/counted-sections.ts), and a
// process with too few steady sections makes the verdict UNRESOLVED.
// Sections still differ by the GC and timer work that falls in them
// (callgrind runs code ~50 times slower, so timers fire ~50 times as often per
// unit): the figure is the median over the steady sections of all processes,
// with a bootstrap interval over processes and sections, and verdicts read
// the interval. Callgrind counts every thread of the process.
//
// Instructions are not nanoseconds. To state the budget in both units, the
// same rigs also run natively (no valgrind), timed, a few times each; the
// least contended (fastest) run's ns per unit over the counted instructions
// per unit is that loop's ns per instruction on this machine, and the budget
// becomes 15 ns / (ns per instruction) instructions. That assumes the
// Transport's instructions retire at the loop's average rate; the count itself
// assumes nothing.
//
//   npm run bench:actors -- --counted            (or: node --import tsx bench/actors-counted.ts)
//   flags: --only send_handle,delivery --cases NAME,... --processes 2 --sections 12 --units 10000 --warmup 60000
//          --jobs 2 --timed-runs 5 --out bench/results/actors-counted
import { spawn, spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { type RigTiming, type SendHandleMode, fanoutRig, sendHandleRig, turn } from './actor-rigs.js';
import { COMPILE_FUNCTIONS, selfInstructionsOf } from './callgrind-dump.js';
import { type Section, clusteredMedianCi, steadySections } from './counted-sections.js';
import { parseFlags } from './flags.js';
import { budgetVerdict } from './paired-stats.js';

/** Issue 15: what the Transport may add to an unsampled send -> handle. */
const TRANSPORT_BUDGET_NS = 15;
/** Issue 17: tail capture on over off, per delivery that is not slow. */
const TAIL_TARGET_RATIO = 1.01;
const FANOUT = 1_000;
const BATCH = 1_000;

const SEND_HANDLE = ['send_handle_untraced', 'send_handle_unsampled', 'send_handle_unsampled_tail_off', 'send_handle_no_trace'] as const;
const DELIVERY = ['delivery_unsampled_tail_on', 'delivery_unsampled_tail_off', 'delivery_sampled_tail_on', 'delivery_sampled_tail_off'] as const;
const CASES = [...SEND_HANDLE, ...DELIVERY] as const;
type Case = (typeof CASES)[number];

/**
 * Warm-up before the first section. Tiers count calls: the rig's per-message code tiers up within the first batches,
 * but what runs once per batch of 1,000 (the immediate that drains, the promise hooks, the scheduler's enqueue) went
 * on tiering up until about the 2,800th batch (`--trace-opt`, natively, the child's flags), so 60 batches left
 * compiles in the first sections. Send -> handle therefore warms up with `--warmup` units in batches of 1,000, then
 * WARMUP_SMALL_BATCHES batches of 10 (each per-batch function called as often, at a hundredth of the units), then
 * WARMUP_TAIL units in batches of 1,000 again, as the sections run them.
 */
const DEFAULT_WARMUP = 60_000;
const WARMUP_SMALL_BATCHES = 4_000;
const WARMUP_SMALL_BATCH = 10;
const WARMUP_TAIL = 20_000;
/** Counted under callgrind, and timed natively, with these (see RigTiming). */
const TIMING: RigTiming = { sliceMs: 10_000, tailMs: 60_000 };
const familyOf = (name: Case) => (name.startsWith('send_handle') ? 'send_handle' : 'delivery');

// ---- the child: warm up, then sections of units, a marker between sections ----

/**
 * Callgrind is told to dump its counts (and start again from zero) whenever
 * this native function is entered: JSON.parse with a reviver, which nothing
 * else here calls, so each dump holds exactly what ran since the last marker.
 */
const MARKER_FUNCTION = 'v8::internal::JsonParseInternalizer::Internalize*';
const mark = () => JSON.parse('[0]', (_key: string, value: unknown) => value) as unknown;

/**
 * Runs `sections` sections of `units` units after the warm-up; with `timed`, returns the median ns per unit of its
 * batches. Before each section a full GC (the child runs with --expose-gc), between two markers of its own: each
 * section starts from the same compacted heap, and the collection's work lands in a dump of its own, not in a section.
 */
async function runUnits(name: Case, warmup: number, units: number, sections: number, timed: boolean): Promise<number | undefined> {
  const send = familyOf(name) === 'send_handle';
  const step = send ? BATCH : FANOUT;
  let unit: () => Promise<void>;
  let small: { batch(n: number): Promise<void> } | undefined;
  if (send) {
    const rig = sendHandleRig(name.slice('send_handle_'.length) as SendHandleMode, TIMING);
    small = rig;
    unit = () => rig.batch(BATCH);
  } else {
    const [, kind, , tail] = name.split('_');
    const rig = fanoutRig(FANOUT, kind === 'sampled' ? 'sampled' : 'unsampled', tail === 'on', TIMING);
    let i = 0;
    unit = async () => {
      await rig.broadcast(i++);
    };
  }
  const collect = globalThis.gc;
  if (collect === undefined) throw new Error('the counted child needs --expose-gc');
  await turn();
  for (let done = 0; done < warmup; done += step) await unit();
  if (send) {
    const rig = small!;
    for (let b = 0; b < WARMUP_SMALL_BATCHES; b++) await rig.batch(WARMUP_SMALL_BATCH);
    for (let done = 0; done < WARMUP_TAIL; done += step) await unit();
  }
  const samples: number[] = [];
  for (let section = 0; section < sections; section++) {
    mark();
    collect();
    await turn();
    mark();
    for (let done = 0; done < units; done += step) {
      const t0 = timed ? process.hrtime.bigint() : 0n;
      await unit();
      if (timed) samples.push(Number(process.hrtime.bigint() - t0) / step);
    }
  }
  mark();
  return timed ? median(samples) : undefined;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

// ---- the parent ----

const optionsSchema = z.object({
  only: z.array(z.enum(['send_handle', 'delivery'], { message: '--only takes send_handle and/or delivery' })).min(1),
  cases: z.array(z.enum(CASES, { message: `--cases takes some of ${CASES.join(', ')}` })).min(1).optional(),
  sections: z.coerce.number().int().min(3, '--sections must be at least 3').max(100),
  processes: z.coerce.number().int().min(1, '--processes must be at least 1').max(20),
  warmup: z.coerce.number().int().min(0).max(10_000_000).multipleOf(FANOUT, `--warmup must be a multiple of ${FANOUT}`),
  units: z.coerce.number().int().min(FANOUT, `--units must be at least ${FANOUT}`).max(1_000_000).multipleOf(FANOUT, `--units must be a multiple of ${FANOUT}`),
  jobs: z.coerce.number().int().min(1, '--jobs must be at least 1').max(8),
  timedRuns: z.coerce.number().int().min(0).max(50),
  out: z.string().min(1),
});

function fail(message: string): never {
  process.stderr.write(`actors-counted: ${message}\nusage: npm run bench:actors -- --counted [--only send_handle,delivery] [--cases NAME,...] [--processes N] [--sections N] [--units N] [--warmup N] [--jobs N] [--timed-runs N] [--out DIR]\n`);
  process.exit(2);
}

function parseOptions(argv: string[]) {
  const options = {
    only: { type: 'string', default: 'send_handle,delivery' },
    cases: { type: 'string' },
    sections: { type: 'string', default: '12' },
    processes: { type: 'string', default: '2' },
    warmup: { type: 'string', default: String(DEFAULT_WARMUP) },
    units: { type: 'string', default: '10000' },
    jobs: { type: 'string', default: '2' },
    'timed-runs': { type: 'string', default: '5' },
    out: { type: 'string', default: 'bench/results/actors-counted' },
  } as const;
  return parseFlags(argv, options, optionsSchema, fail, (v) => ({
    ...v,
    only: String(v.only).split(',').filter((s) => s !== ''),
    cases: typeof v.cases === 'string' ? v.cases.split(',').filter((s) => s !== '') : undefined,
    timedRuns: v['timed-runs'],
  }));
}

const SELF = fileURLToPath(import.meta.url);
const log = (text: string) => process.stderr.write(`[actors-counted] ${text}\n`);

/**
 * --single-threaded-gc: under callgrind V8's GC helper threads run whenever valgrind schedules them, so a sweep that a
 * between-section GC left to a helper would be counted in the next section; on the main thread it is done in the GC's
 * own dump. The same flags natively, so the ns per instruction is of the same code.
 */
/**
 * --no-concurrent-recompilation, --no-concurrent-osr: TurboFan compiles on the main thread when a function
 * tiers up, so a compile falls at the call that triggered it, not wherever valgrind, which runs one thread at a
 * time, happens to schedule the compiler's thread (possibly sections later).
 */
const CHILD_NODE_FLAGS = ['--expose-gc', '--single-threaded-gc', '--no-concurrent-recompilation', '--no-concurrent-osr'];

function childArgs(name: Case, warmup: number, units: number, sections: number, timed: boolean): string[] {
  return [...CHILD_NODE_FLAGS, '--import', 'tsx', SELF, '--child', name, String(warmup), String(units), String(sections), timed ? 'timed' : 'counted'];
}

function run(command: string, args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

/**
 * Instructions per unit in each measured section, and how many of them were V8's compilers'. Callgrind dumps at
 * every marker (the final part, at exit, goes to the file without a number): after start-up and warm-up, a GC's
 * dump and a section's dump alternate (see runUnits), so the sections are every other one of the last 2 * sections
 * numbered dumps.
 */
async function countInstructions(name: Case, run_: number, warmup: number, units: number, sections: number, dir: string): Promise<Section[]> {
  const base = `${name}-p${run_}`;
  const out = join(dir, base);
  const res = await run('valgrind', ['--tool=callgrind', `--callgrind-out-file=${out}`, `--dump-before=${MARKER_FUNCTION}`, process.execPath, ...childArgs(name, warmup, units, sections, false)]);
  if (res.status !== 0) throw new Error(`callgrind run of ${name} failed (exit ${res.status}): ${res.stderr.slice(-2000)}`);
  const dumps = (await readdir(dir))
    .filter((f) => f.startsWith(`${base}.`))
    .map((f) => Number(f.slice(base.length + 1)))
    .filter((n) => Number.isInteger(n))
    .sort((x, y) => x - y);
  if (dumps.length < 1 + 2 * sections) throw new Error(`callgrind run of ${name}: ${dumps.length} dumps, expected at least ${1 + 2 * sections}`);
  const wanted = new Set(dumps.slice(-2 * sections).filter((_, i) => i % 2 === 1));
  // Read in order: a dump may refer to a function name defined in an earlier one.
  const names = new Map<string, string>();
  const result: Section[] = [];
  for (const n of dumps) {
    const text = await readFile(`${out}.${n}`, 'utf8');
    const compile = selfInstructionsOf(text, COMPILE_FUNCTIONS, names);
    if (!wanted.has(n)) continue;
    const m = /^summary: (\d+)$/m.exec(text);
    if (m === null) throw new Error(`no summary in ${out}.${n}`);
    result.push({ perUnit: Number(m[1]) / units, compilePerUnit: compile / units });
  }
  await Promise.all(dumps.map((n) => rm(`${out}.${n}`, { force: true })));
  return result;
}

async function timeNative(name: Case, warmup: number, units: number, sections: number): Promise<number> {
  const res = await run(process.execPath, childArgs(name, warmup, units, sections, true));
  const ns = Number(res.stdout.trim().split('\n').pop());
  if (res.status !== 0 || !Number.isFinite(ns)) throw new Error(`timed run of ${name} failed (exit ${res.status}): ${res.stderr}`);
  return ns;
}

/** Runs `tasks` with at most `jobs` at once. */
async function pool<T>(tasks: (() => Promise<T>)[], jobs: number): Promise<T[]> {
  const results: T[] = new Array<T>(tasks.length);
  let next = 0;
  const worker = async () => {
    while (next < tasks.length) {
      const i = next++;
      results[i] = await tasks[i]!();
    }
  };
  await Promise.all(Array.from({ length: Math.min(jobs, tasks.length) }, worker));
  return results;
}

async function main(): Promise<void> {
  const o = parseOptions(process.argv.slice(2));
  const version = spawnSync('valgrind', ['--version'], { encoding: 'utf8' });
  if (version.status !== 0) fail('valgrind is not installed (the counted measure needs valgrind --tool=callgrind)');
  const startedAt = new Date();
  const loadAtStart = loadavg().map((x) => +x.toFixed(2));
  const cases = CASES.filter((c) => o.only.includes(familyOf(c)) && (o.cases === undefined || o.cases.includes(c)));
  const dir = await mkdtemp(join(tmpdir(), 'actors-counted-'));
  // Each case's processes, in the order the pool runs them: the cases alternate, process by process.
  const runs: Partial<Record<Case, Section[][]>> = {};
  const minSteady = Math.ceil(o.sections / 2);
  try {
    await pool(
      Array.from({ length: o.processes }, (_, p) =>
        cases.map((name) => async () => {
          const t0 = Date.now();
          const sections = await countInstructions(name, p, o.warmup, o.units, o.sections, dir);
          (runs[name] ??= [])[p] = sections;
          const s = steadySections(sections, minSteady);
          log(
            `${name} process ${p + 1}: ${s.steady.length > 0 ? median(s.steady).toFixed(1) : 'n/a'} instructions per unit over ${s.steady.length} steady sections of ${sections.length}` +
              ` (sections ${sections.map((c) => `${c.perUnit.toFixed(0)}${c.compilePerUnit > 0.05 ? `[compile ${c.compilePerUnit.toFixed(0)}]` : ''}`).join(', ')}; ${((Date.now() - t0) / 1000).toFixed(0)} s)`,
          );
        }),
      ).flat(),
      o.jobs,
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  const steadyOf = (name: Case) => (runs[name] ?? []).map((sections) => steadySections(sections, minSteady));
  /** Steady sections of every process of `name`; undefined when the case was not run. */
  const instructions: Partial<Record<Case, number[][]>> = Object.fromEntries(cases.map((name) => [name, steadyOf(name).map((s) => s.steady)]));
  /** Processes with too few sections free of compiles, as "case process N (compiling in sections ...)". */
  const unsteady = cases.flatMap((name) =>
    steadyOf(name).flatMap((s, p) => (s.ok ? [] : [`${name} process ${p + 1} (compiling in sections ${s.compiling.map((i) => i + 1).join(', ')} of ${o.sections})`])),
  );
  const per = (name: Case) => (instructions[name] === undefined ? NaN : median(instructions[name].flat()));

  // ns per unit natively, one at a time, alternating cases; the fastest run of each is the least contended.
  const timed: Partial<Record<Case, number[]>> = {};
  for (let r = 0; r < o.timedRuns; r++) for (const name of r % 2 ? [...cases].reverse() : cases) (timed[name] ??= []).push(await timeNative(name, o.warmup, o.units, o.sections));
  const fastest = (name: Case) => (timed[name] === undefined ? undefined : Math.min(...timed[name]));

  const result: Record<string, unknown> = {
    startedAt: startedAt.toISOString(),
    node: process.version,
    valgrind: version.stdout.trim(),
    loadavg_at_start: loadAtStart,
    loadavg_at_end: loadavg().map((x) => +x.toFixed(2)),
    method:
      'callgrind Ir (all threads) per measured section after a warm-up, a dump at a marker between sections, a full GC before each section in a dump of its own; sections with V8 compiler/deoptimiser work above 1 instruction per unit are left out (listed); per unit = median over the steady sections of all processes, 95 % interval by a bootstrap over processes then sections. ns per instruction: the fastest of the timed native runs of the same rig over its counted instructions per unit',
    warmup_units: o.warmup,
    warmup_small_batches: o.only.includes('send_handle') ? { batches: WARMUP_SMALL_BATCHES, size: WARMUP_SMALL_BATCH, then_units: WARMUP_TAIL } : null,
    units_per_section: o.units,
    timing: TIMING,
    sections: o.sections,
    processes: o.processes,
    child_node_flags: CHILD_NODE_FLAGS,
    unsteady_processes: unsteady,
    instructions_per_unit: Object.fromEntries(
      cases.map((k) => {
        const all = instructions[k]!.flat();
        return [
          k,
          {
            median: all.length > 0 ? +median(all).toFixed(1) : null,
            processes: (runs[k] ?? []).map((sections, p) => ({
              compiling_sections: steadySections(sections, minSteady).compiling.map((i) => i + 1),
              sections: sections.map((x) => +x.perUnit.toFixed(1)),
              compile_per_unit: sections.map((x) => +x.compilePerUnit.toFixed(1)),
              steady_median: instructions[k]![p]!.length > 0 ? +median(instructions[k]![p]!).toFixed(1) : null,
            })),
          },
        ];
      }),
    ),
    ns_per_unit_native: Object.fromEntries(Object.entries(timed).map(([k, xs]) => [k, { fastest: +Math.min(...xs).toFixed(1), median: +median(xs).toFixed(1), runs: xs.map((x) => +x.toFixed(1)) }])),
  };

  // Sections differ by the GC and timer work that falls in them, and processes by what V8 inlined, so each case's
  // median comes with its 95 % bootstrap interval over processes and sections, and a difference or ratio with the
  // widest interval those allow (conservative): PASS or FAIL only when that interval is on one side of the target,
  // and UNRESOLVED whenever a process of the pair was still compiling.
  const ci = (name: Case) => (instructions[name] === undefined || instructions[name].flat().length === 0 ? undefined : clusteredMedianCi(instructions[name]));
  const has = (...names: Case[]) => names.every((n) => ci(n) !== undefined);
  const steadyPair = (...names: Case[]) => names.every((n) => steadyOf(n).every((s) => s.ok));
  if (has('send_handle_unsampled', 'send_handle_untraced')) {
    const on = ci('send_handle_unsampled')!;
    const off = ci('send_handle_untraced')!;
    const added = on.median - off.median;
    const interval = [on.low - off.high, on.high - off.low] as const;
    const nsUntraced = fastest('send_handle_untraced');
    const nsPerInstruction = nsUntraced === undefined ? undefined : nsUntraced / off.median;
    const budgetInstructions = nsPerInstruction === undefined ? undefined : TRANSPORT_BUDGET_NS / nsPerInstruction;
    const verdict = !steadyPair('send_handle_unsampled', 'send_handle_untraced')
      ? 'UNRESOLVED'
      : budgetInstructions === undefined
        ? 'UNCONVERTED'
        : budgetVerdict({ low: interval[0], high: interval[1] }, budgetInstructions);
    const vs = (other: Case) => (has(other, 'send_handle_untraced') ? +(per(other) - off.median).toFixed(1) : null);
    result.transport_budget = {
      added_instructions: +added.toFixed(1),
      added_instructions_ci95: interval.map((x) => +x.toFixed(1)),
      added_instructions_of_section_minima: +(Math.min(...instructions.send_handle_unsampled!.flat()) - Math.min(...instructions.send_handle_untraced!.flat())).toFixed(1),
      added_instructions_by_process: instructions.send_handle_unsampled!.map((on, p) => {
        const off = instructions.send_handle_untraced![p];
        return on.length > 0 && off !== undefined && off.length > 0 ? +(median(on) - median(off)).toFixed(1) : null;
      }),
      added_instructions_tail_off: vs('send_handle_unsampled_tail_off'),
      added_instructions_no_trace: vs('send_handle_no_trace'),
      ns_per_instruction: nsPerInstruction === undefined ? null : +nsPerInstruction.toFixed(4),
      added_ns_estimate: nsPerInstruction === undefined ? null : +(added * nsPerInstruction).toFixed(2),
      budget_ns: TRANSPORT_BUDGET_NS,
      budget_instructions: budgetInstructions === undefined ? null : Math.round(budgetInstructions),
      verdict,
    };
    log(
      `${verdict} transport_instructions_unsampled: ${added >= 0 ? '+' : ''}${added.toFixed(1)} instructions per send -> handle, 95 % CI [${interval[0].toFixed(0)}, ${interval[1].toFixed(0)}]` +
        (nsPerInstruction === undefined ? '' : ` = ${(added * nsPerInstruction).toFixed(1)} ns at ${nsPerInstruction.toFixed(3)} ns/instruction (budget <= ${TRANSPORT_BUDGET_NS} ns = ${Math.round(budgetInstructions!)} instructions)`) +
        (steadyPair('send_handle_unsampled', 'send_handle_untraced') ? '' : `; still compiling after the warm-up: ${unsteady.join(', ')}`),
    );
  }
  const tail: Record<string, unknown> = {};
  for (const kind of ['unsampled', 'sampled'] as const) {
    if (!has(`delivery_${kind}_tail_on`, `delivery_${kind}_tail_off`)) continue;
    const on = ci(`delivery_${kind}_tail_on`)!;
    const off = ci(`delivery_${kind}_tail_off`)!;
    const ratio = on.median / off.median;
    const interval = [on.low / off.high, on.high / off.low] as const;
    const verdict = steadyPair(`delivery_${kind}_tail_on`, `delivery_${kind}_tail_off`) ? budgetVerdict({ low: interval[0], high: interval[1] }, TAIL_TARGET_RATIO) : 'UNRESOLVED';
    tail[kind] = { on: +on.median.toFixed(1), off: +off.median.toFixed(1), added: +(on.median - off.median).toFixed(1), on_over_off: +ratio.toFixed(4), ci95: interval.map((x) => +x.toFixed(4)), verdict };
    log(`${verdict} tail_on_over_off ${kind}: ${ratio.toFixed(4)}, 95 % CI [${interval[0].toFixed(3)}, ${interval[1].toFixed(3)}] (${on.median.toFixed(1)} / ${off.median.toFixed(1)} instructions per delivery; target <= ${TAIL_TARGET_RATIO})`);
  }
  if (Object.keys(tail).length > 0) result.tail_capture = { ...tail, target: `<= ${TAIL_TARGET_RATIO}`, fanout_size: FANOUT };
  await mkdir(o.out, { recursive: true });
  const file = join(o.out, `${startedAt.toISOString().replace(/[:.]/g, '-')}-node${process.versions.node.split('.')[0]}.json`);
  await writeFile(file, `${JSON.stringify(result, null, 2)}\n`);
  log(`written: ${file}`);
  console.log(JSON.stringify(result));
}

const childIndex = process.argv.indexOf('--child');
if (childIndex >= 0) {
  const [name, warmup, units, sections, how] = process.argv.slice(childIndex + 1);
  if (!CASES.includes(name as Case)) throw new Error(`unknown case ${name}; one of ${CASES.join(', ')}`);
  const ns = await runUnits(name as Case, Number(warmup), Number(units), Number(sections), how === 'timed');
  if (ns !== undefined) console.log(String(ns));
  process.exit(0);
} else {
  await main();
}
