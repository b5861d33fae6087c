// Instructions, not time: what the Transport adds to an unsampled send ->
// handle (issue 15's 15 ns budget) and what tail capture adds to a delivery
// that is not slow (issue 17's 1.01), counted by valgrind's callgrind, which
// counts the same instructions however loaded the machine is.
//
// Each case (bench/actor-rigs.ts, the server's wiring) runs in one node under
// callgrind: a warm-up, then sections of --units units (a message sent and
// handled, or a broadcast delivery), callgrind dumping its counts at a marker
// between sections, so start-up and warm-up are not counted. Sections differ
// by the GC and timer work that falls in them (callgrind runs code ~50 times
// slower, so timers fire ~50 times as often per unit): the figure is the median
// over sections with its bootstrap interval, and verdicts read the interval.
// Callgrind counts every thread of the process (V8's compiler and GC helpers
// included).
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
//   flags: --only send_handle,delivery --reps 1 --timed-runs 5 --out bench/results/actors-counted
import { spawn, spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { type RigTiming, type SendHandleMode, fanoutRig, sendHandleRig, turn } from './actor-rigs.js';
import { parseFlags } from './flags.js';
import { bootstrapMedianCi, budgetVerdict } from './paired-stats.js';

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
 * Units of warm-up before the first section. With 20,000 the first two sections still held TurboFan's compiles
 * (2,700-4,400 instructions a message against a steady 1,770-1,880), which widened every interval; under callgrind
 * more warm-up is cheap next to node's start-up.
 */
const WARMUP = 60_000;
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
  if (send) {
    const rig = sendHandleRig(name.slice('send_handle_'.length) as SendHandleMode, TIMING);
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
  units: z.coerce.number().int().min(FANOUT, `--units must be at least ${FANOUT}`).max(1_000_000).multipleOf(FANOUT, `--units must be a multiple of ${FANOUT}`),
  jobs: z.coerce.number().int().min(1, '--jobs must be at least 1').max(8),
  timedRuns: z.coerce.number().int().min(0).max(50),
  out: z.string().min(1),
});

function fail(message: string): never {
  process.stderr.write(`actors-counted: ${message}\nusage: npm run bench:actors -- --counted [--only send_handle,delivery] [--cases NAME,...] [--sections N] [--units N] [--jobs N] [--timed-runs N] [--out DIR]\n`);
  process.exit(2);
}

function parseOptions(argv: string[]) {
  const options = {
    only: { type: 'string', default: 'send_handle,delivery' },
    cases: { type: 'string' },
    sections: { type: 'string', default: '12' },
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
const CHILD_NODE_FLAGS = ['--expose-gc', '--single-threaded-gc'];

function childArgs(name: Case, units: number, sections: number, timed: boolean): string[] {
  return [...CHILD_NODE_FLAGS, '--import', 'tsx', SELF, '--child', name, String(WARMUP), String(units), String(sections), timed ? 'timed' : 'counted'];
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
 * Instructions per unit in each measured section. Callgrind dumps at every marker (the final part, at exit, goes to
 * the file without a number): after start-up and warm-up, a GC's dump and a section's dump alternate (see runUnits),
 * so the sections are every other one of the last 2 * sections numbered dumps.
 */
async function countInstructions(name: Case, units: number, sections: number, dir: string): Promise<number[]> {
  const out = join(dir, name);
  const res = await run('valgrind', ['--tool=callgrind', `--callgrind-out-file=${out}`, `--dump-before=${MARKER_FUNCTION}`, process.execPath, ...childArgs(name, units, sections, false)]);
  if (res.status !== 0) throw new Error(`callgrind run of ${name} failed (exit ${res.status}): ${res.stderr.slice(-2000)}`);
  const dumps = (await readdir(dir))
    .filter((f) => f.startsWith(`${name}.`))
    .map((f) => Number(f.slice(name.length + 1)))
    .filter((n) => Number.isInteger(n))
    .sort((x, y) => x - y);
  if (dumps.length < 1 + 2 * sections) throw new Error(`callgrind run of ${name}: ${dumps.length} dumps, expected at least ${1 + 2 * sections}`);
  const counts: number[] = [];
  for (const n of dumps.slice(-2 * sections).filter((_, i) => i % 2 === 1)) {
    const m = /^summary: (\d+)$/m.exec(await readFile(`${out}.${n}`, 'utf8'));
    if (m === null) throw new Error(`no summary in ${out}.${n}`);
    counts.push(Number(m[1]) / units);
  }
  return counts;
}

async function timeNative(name: Case, units: number, sections: number): Promise<number> {
  const res = await run(process.execPath, childArgs(name, units, sections, true));
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
  const instructions: Partial<Record<Case, number[]>> = {};
  try {
    await pool(
      cases.map((name) => async () => {
        const t0 = Date.now();
        const counts = await countInstructions(name, o.units, o.sections, dir);
        instructions[name] = counts;
        log(`${name}: ${median(counts).toFixed(1)} instructions per unit (sections ${counts.map((c) => c.toFixed(0)).join(', ')}; ${((Date.now() - t0) / 1000).toFixed(0)} s)`);
      }),
      o.jobs,
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  const per = (name: Case) => (instructions[name] === undefined ? NaN : median(instructions[name]));

  // ns per unit natively, one at a time, alternating cases; the fastest run of each is the least contended.
  const timed: Partial<Record<Case, number[]>> = {};
  for (let r = 0; r < o.timedRuns; r++) for (const name of r % 2 ? [...cases].reverse() : cases) (timed[name] ??= []).push(await timeNative(name, o.units, o.sections));
  const fastest = (name: Case) => (timed[name] === undefined ? undefined : Math.min(...timed[name]));

  const result: Record<string, unknown> = {
    startedAt: startedAt.toISOString(),
    node: process.version,
    valgrind: version.stdout.trim(),
    loadavg_at_start: loadAtStart,
    loadavg_at_end: loadavg().map((x) => +x.toFixed(2)),
    method:
      'callgrind Ir (all threads) per measured section after a warm-up, a dump at a marker between sections; per unit = median over sections of section total / units. ns per instruction: the fastest of the timed native runs of the same rig over its counted instructions per unit',
    warmup_units: WARMUP,
    units_per_section: o.units,
    timing: TIMING,
    sections: o.sections,
    instructions_per_unit: Object.fromEntries(
      Object.entries(instructions).map(([k, v]) => [k, { median: +median(v).toFixed(1), min: +Math.min(...v).toFixed(1), max: +Math.max(...v).toFixed(1), sections: v.map((x) => +x.toFixed(1)) }]),
    ),
    ns_per_unit_native: Object.fromEntries(Object.entries(timed).map(([k, xs]) => [k, { fastest: +Math.min(...xs).toFixed(1), median: +median(xs).toFixed(1), runs: xs.map((x) => +x.toFixed(1)) }])),
  };

  // Sections differ by the GC and timer work that falls in them, so each case's median comes with its 95 %
  // bootstrap interval over sections, and a difference or ratio with the widest interval those allow (conservative):
  // PASS or FAIL only when that interval is on one side of the target.
  const ci = (name: Case) => (instructions[name] === undefined ? undefined : bootstrapMedianCi(instructions[name]));
  const has = (...names: Case[]) => names.every((n) => instructions[n] !== undefined);
  if (has('send_handle_unsampled', 'send_handle_untraced')) {
    const on = ci('send_handle_unsampled')!;
    const off = ci('send_handle_untraced')!;
    const added = on.median - off.median;
    const interval = [on.low - off.high, on.high - off.low] as const;
    const nsUntraced = fastest('send_handle_untraced');
    const nsPerInstruction = nsUntraced === undefined ? undefined : nsUntraced / off.median;
    const budgetInstructions = nsPerInstruction === undefined ? undefined : TRANSPORT_BUDGET_NS / nsPerInstruction;
    const verdict = budgetInstructions === undefined ? 'UNCONVERTED' : budgetVerdict({ low: interval[0], high: interval[1] }, budgetInstructions);
    const vs = (other: Case) => (has(other, 'send_handle_untraced') ? +(per(other) - off.median).toFixed(1) : null);
    result.transport_budget = {
      added_instructions: +added.toFixed(1),
      added_instructions_ci95: interval.map((x) => +x.toFixed(1)),
      added_instructions_of_section_minima: +(Math.min(...instructions.send_handle_unsampled!) - Math.min(...instructions.send_handle_untraced!)).toFixed(1),
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
        (nsPerInstruction === undefined ? '' : ` = ${(added * nsPerInstruction).toFixed(1)} ns at ${nsPerInstruction.toFixed(3)} ns/instruction (budget <= ${TRANSPORT_BUDGET_NS} ns = ${Math.round(budgetInstructions!)} instructions)`),
    );
  }
  const tail: Record<string, unknown> = {};
  for (const kind of ['unsampled', 'sampled'] as const) {
    if (!has(`delivery_${kind}_tail_on`, `delivery_${kind}_tail_off`)) continue;
    const on = ci(`delivery_${kind}_tail_on`)!;
    const off = ci(`delivery_${kind}_tail_off`)!;
    const ratio = on.median / off.median;
    const interval = [on.low / off.high, on.high / off.low] as const;
    const verdict = budgetVerdict({ low: interval[0], high: interval[1] }, TAIL_TARGET_RATIO);
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
