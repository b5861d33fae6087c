// Issue 17, counted: what tail capture costs a delivery that is not slow, as
// instructions of a whole server (valgrind's callgrind), which the machine's
// load does not move; the CPU-time A/B (bench:sampling-ab --tail-ab) spreads
// ±5-10 % between two processes, far more than the 1 % it is judged on.
//
// Two servers of one checkout in the `sampled` mode (always_on, OTLP export to
// a local sink, K = 10), one with tail capture at a threshold nothing reaches
// (on: --tail-on-ms, default 60 s, so the figure is the check alone) and one
// with it off (GUILDHALL_SLOW_DELIVERY_MS=0), each under callgrind with its own
// client. After the sessions connect, an uncounted warm-up of both kinds of
// post at a rate the server keeps up with; then, in lockstep on both servers,
// --reps windows of each kind (posts with a sampled traceparent, posts with an
// unsampled one; the order swapped every rep). A window: two forced GCs (the
// preloaded probe, outside the count), counting on, --messages posts paced at
// --interval-ms (each broadcast handled before the next: nothing coalesced),
// a settle past the span batcher's 1 s schedule (a window's spans are exported
// in it), counting off, dump. Each pair of windows gives a ratio of
// instructions per delivery, on over off; the verdict is the 95 % bootstrap
// interval of their median against 1.01 (PASS only when all of it is under),
// read on the main thread (the event loop, where the check runs; with
// --single-threaded-gc its GC too), all threads beside it (those add V8's
// concurrent compiles, which land in whichever window they happen to).
// One idle window (nothing sent, --idle-ms) gives each server's background
// instructions per second (timers), which a window carries in proportion to
// its length. --trace-opt runs the servers with V8's --trace-opt and counts
// the functions optimized inside each window (they should be none once warm;
// the trace's own printing is then in the count, so judge ratios without it).
//
//   npm run bench:delivery-instructions -- --tail-ab [--a DIR] [--sizes 100] [--messages 60] [--interval-ms 700] [--reps 6] [--warmup 2000] [--tail-on-ms 60000] [--idle-ms 5000] [--trace-opt] [--kinds sampled,unsampled] [--out bench/results/tail-ab-instructions]
//   (slow: two servers 20-50 times slower under valgrind; about 15 minutes with a core each)
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import type { BurstResult } from '../client-sim/broadcast-driver.js';
import { ClientDriver, PROBE, type ServerUnderTest, askServer, checkoutSchema, freePort, guildhallServerEnv, modeEnv, startSink, stop, waitHealthy } from './children.js';
import { parseFlags } from './flags.js';
import { budgetVerdict, bootstrapMedianCi } from './paired-stats.js';

const USAGE =
  'usage: npm run bench:delivery-instructions -- --tail-ab [--a DIR] [--sizes 100] [--messages 60] [--interval-ms 700] [--reps 6] [--warmup 2000] [--tail-on-ms 60000] [--idle-ms 5000] [--trace-opt] [--kinds sampled,unsampled] [--out DIR]';
const o = parseFlags(
  process.argv.slice(2),
  {
    'tail-ab': { type: 'boolean', default: true },
    a: { type: 'string', default: '.' },
    sizes: { type: 'string', default: '100' },
    messages: { type: 'string', default: '60' },
    'interval-ms': { type: 'string', default: '700' },
    reps: { type: 'string', default: '6' },
    warmup: { type: 'string', default: '2000' },
    'tail-on-ms': { type: 'string', default: '60000' },
    'idle-ms': { type: 'string', default: '5000' },
    'trace-opt': { type: 'boolean', default: false },
    kinds: { type: 'string', default: 'sampled,unsampled' },
    out: { type: 'string', default: 'bench/results/tail-ab-instructions' },
  },
  z.object({
    a: checkoutSchema,
    size: z.coerce.number().int().min(1).max(5_000),
    messages: z.coerce.number().int().min(1).max(1_000),
    intervalMs: z.coerce.number().int().min(10).max(60_000),
    reps: z.coerce.number().int().min(2).max(50),
    warmup: z.coerce.number().int().min(0).max(10_000),
    tailOnMs: z.coerce.number().int().min(1).max(3_600_000),
    idleMs: z.coerce.number().int().min(0).max(600_000),
    traceOpt: z.boolean(),
    kinds: z
      .string()
      .transform((k) => k.split(','))
      .pipe(z.array(z.enum(['sampled', 'unsampled'], { message: '--kinds: sampled, unsampled or both' })).min(1))
      .transform((k) => ({ sampled: k.includes('sampled'), unsampled: k.includes('unsampled') })),
    out: z.string().min(1),
  }),
  (message) => {
    process.stderr.write(`bench:delivery-instructions --tail-ab: ${message}\n${USAGE}\n`);
    process.exit(2);
  },
  (v) => ({ ...v, size: v.sizes, intervalMs: v['interval-ms'], tailOnMs: v['tail-on-ms'], idleMs: v['idle-ms'], traceOpt: v['trace-opt'] }),
);

const OUT = mkdtempSync(join(tmpdir(), 'guildhall-tail-callgrind-'));
const log = (text: string) => process.stderr.write(`[tail-ab-instructions] ${new Date().toISOString().slice(11, 19)} ${text}\n`);
/** Past the batch processor's 1 s schedule, so a window's spans are exported within it. */
const SETTLE_MS = 2_500;
const WARMUP_RATE = 20;
/**
 * The GC on the main thread (counted there, no helper sweeping into the next
 * window), and no memory reducer: it starts a full GC on a timer after a quiet
 * spell, which put a whole mark-compact (300+ M instructions) in one window.
 */
const NODE_FLAGS = ['--expose-gc', '--single-threaded-gc', '--no-memory-reducer'];
/** V8's --trace-opt line for a finished optimization. */
const OPTIMIZED = /completed (optimizing|compiling)/;

type Tail = 'on' | 'off';

interface Rig {
  tail: Tail;
  server: ServerUnderTest;
  driver: ClientDriver;
  prefix: string;
  /** Dump files already read. */
  seen: Set<string>;
  /** Functions optimized so far (--trace-opt). */
  optimized: number;
}

interface Window {
  tail: Tail;
  rep: number;
  sampled: boolean;
  /** All threads (the compiler's and the GC's helpers included). */
  instructions: number;
  /** The main thread (the event loop) only. */
  mainThread: number;
  delivered: number;
  failed: number;
  lost: number;
  /** The window's length: its share of timer work is about the idle rate times this. */
  wallMs: number;
  /** Functions optimized inside the window (--trace-opt only). */
  optimized?: number;
}

// valgrind names its control pipes after $HOST, which a Guildhall server is given too (its listen address).
const control = (pid: number, ...args: string[]) =>
  execFileSync('callgrind_control', [...args, String(pid)], { stdio: 'ignore', env: { ...process.env, HOST: '127.0.0.1' } });

async function start(tail: Tail, sinkPort: number): Promise<Rig> {
  const port = await freePort();
  const env = guildhallServerEnv(port, {
    ...modeEnv('sampled', sinkPort),
    GUILDHALL_SLOW_DELIVERY_MS: tail === 'on' ? String(o.tailOnMs) : '0',
    // Under valgrind a request takes seconds: no 408 for it.
    GUILDHALL_REQUEST_TIMEOUT_MS: '290000',
    // Heartbeats are work per second, not per delivery: at Discord's 41 s, 100 sessions' heartbeats were most of an idle window.
    GUILDHALL_HEARTBEAT_INTERVAL_MS: '600000',
  });
  const prefix = `${tail}`;
  const valgrind = ['--tool=callgrind', '--instr-atstart=no', '--smc-check=all-non-file', '--separate-threads=yes', `--callgrind-out-file=${join(OUT, `${prefix}.%p`)}`];
  const trace = o.traceOpt ? ['--trace-opt'] : [];
  const child = spawn('valgrind', [...valgrind, process.execPath, ...trace, ...NODE_FLAGS, '--import', 'tsx', '--import', PROBE, 'server/main.ts'], {
    cwd: o.a,
    env,
    stdio: ['ignore', o.traceOpt ? 'pipe' : 'ignore', 'inherit', 'ipc'],
  });
  const rig: Rig = { tail, server: { mode: 'sampled', url: `http://127.0.0.1:${port}`, pid: child.pid!, child }, driver: ClientDriver.start(), prefix, seen: new Set(), optimized: 0 };
  if (o.traceOpt) {
    let rest = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      const lines = (rest + d).split('\n');
      rest = lines.pop()!;
      for (const line of lines) if (OPTIMIZED.test(line)) rig.optimized++;
    });
  }
  await waitHealthy(rig.server.url, child, 900_000);
  await rig.driver.setup(rig.server, o.size, Math.min(o.size, 20), 25);
  const connected = await rig.driver.connect();
  if (connected < o.size) throw new Error(`tail ${tail}: ${connected} of ${o.size} sessions connected`);
  log(`tail ${tail}: ${connected} sessions connected`);
  return rig;
}

/** Sums the new dump files of `rig` (one per thread; thread 01 is the main thread). */
function readDump(rig: Rig): { instructions: number; mainThread: number } {
  let instructions = 0;
  let mainThread = 0;
  for (const f of readdirSync(OUT).filter((f) => f.startsWith(`${rig.prefix}.${rig.server.pid}.`) && !rig.seen.has(f))) {
    rig.seen.add(f);
    const m = /^totals:\s+(\d+)/m.exec(readFileSync(join(OUT, f), 'utf8'));
    if (!m) continue;
    instructions += Number(m[1]);
    if (f.endsWith('-01')) mainThread = Number(m[1]);
  }
  return { instructions, mainThread };
}

/** One counted window on one server: GC first (uncounted), then `work` counted. */
async function counted<T>(rig: Rig, work: () => Promise<T>): Promise<{ result: T; instructions: number; mainThread: number; optimized: number; wallMs: number }> {
  await askServer(rig.server.child, { cmd: 'measure' }, 'measured', 600_000);
  const optimizedBefore = rig.optimized;
  control(rig.server.pid, '--zero');
  control(rig.server.pid, '-i', 'on');
  const t0 = Date.now();
  const result = await work();
  control(rig.server.pid, '-i', 'off');
  const wallMs = Date.now() - t0;
  control(rig.server.pid, '--dump');
  return { result, ...readDump(rig), optimized: rig.optimized - optimizedBefore, wallMs };
}

async function window(rig: Rig, rep: number, sampled: boolean): Promise<Window> {
  const w = await counted(rig, async () => {
    const run = await rig.driver.burst(o.messages, 1000 / o.intervalMs, !sampled, 1_800_000);
    await new Promise((r) => setTimeout(r, SETTLE_MS));
    return run;
  });
  const run: BurstResult = w.result;
  if (run.delivered === 0) throw new Error(`tail ${rig.tail}: nothing delivered (${run.failed} posts failed): slow the pace (--interval-ms)`);
  return { tail: rig.tail, rep, sampled, instructions: w.instructions, mainThread: w.mainThread, delivered: run.delivered, failed: run.failed, lost: run.lost, wallMs: w.wallMs, ...(o.traceOpt ? { optimized: w.optimized } : {}) };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const r = (x: number, digits: number) => +x.toFixed(digits);

async function main(): Promise<void> {
  const sink = await startSink();
  const rigs: Rig[] = [];
  const windows: Record<Tail, Window[]> = { on: [], off: [] };
  const idle: Partial<Record<Tail, { instructions_per_s: number; main_thread_per_s: number }>> = {};
  try {
    rigs.push(...(await Promise.all((['on', 'off'] as const).map((t) => start(t, sink.port)))));
    // Warm-up, uncounted: JIT tiers count calls, not time; both kinds of post, then a pause so nothing is still queued.
    let warmFailed = 0;
    for (let i = 0; i < 4; i++)
      for (const unsampled of [false, true])
        for (const w of await Promise.all(rigs.map((g) => g.driver.burst(Math.ceil(o.warmup / 8), WARMUP_RATE, unsampled, 1_800_000)))) warmFailed += w.failed;
    await new Promise((res) => setTimeout(res, SETTLE_MS));
    log(`warm (${o.warmup} posts each, ${warmFailed} failed)${o.traceOpt ? `, functions optimized so far: ${rigs.map((g) => `${g.tail} ${g.optimized}`).join(', ')}` : ''}`);
    if (o.idleMs > 0) {
      await Promise.all(
        rigs.map(async (g) => {
          const w = await counted(g, () => new Promise((res) => setTimeout(res, o.idleMs)));
          idle[g.tail] = { instructions_per_s: Math.round(w.instructions / (o.idleMs / 1000)), main_thread_per_s: Math.round(w.mainThread / (o.idleMs / 1000)) };
        }),
      );
      log(`idle: ${rigs.map((g) => `${g.tail} ${idle[g.tail]!.instructions_per_s.toLocaleString('en')} instructions/s`).join(', ')}`);
    }
    for (let rep = 0; rep < o.reps; rep++) {
      for (const sampled of (rep % 2 === 0 ? [true, false] : [false, true]).filter((k) => (k ? o.kinds.sampled : o.kinds.unsampled))) {
        const [on, off] = await Promise.all(rigs.map((g) => window(g, rep, sampled)));
        windows.on.push(on!);
        windows.off.push(off!);
        const per = (w: Window) => w.instructions / w.delivered;
        const failures = on!.failed + off!.failed + on!.lost + off!.lost > 0 ? ` (failed posts ${on!.failed}/${off!.failed}, lost ${on!.lost}/${off!.lost}: pair left out)` : '';
        log(`rep ${rep + 1} ${sampled ? 'sampled  ' : 'unsampled'}: on ${Math.round(per(on!))}, off ${Math.round(per(off!))} instructions per delivery, on/off ${(per(on!) / per(off!)).toFixed(4)}${failures}${o.traceOpt ? `; optimized in window: on ${on!.optimized}, off ${off!.optimized}` : ''}`);
      }
    }
  } finally {
    await Promise.all(rigs.map(async (g) => { await g.driver.close(); await stop(g.server.child, 60_000); }));
    await stop(sink.child);
  }

  const summary = (sampled: boolean, count: (w: Window) => number) => {
    const on = windows.on.filter((w) => w.sampled === sampled);
    const off = windows.off.filter((w) => w.sampled === sampled);
    const per = (w: Window) => count(w) / w.delivered;
    // A post that failed (the client's 30 s timeout, under valgrind) may still be handled after its window: such pairs are left out.
    const clean = (w: Window) => w.failed === 0 && w.lost === 0 && w.delivered === o.messages * o.size;
    const pairs = on.map((w, i) => [w, off[i]!] as const).filter(([a, b]) => clean(a) && clean(b));
    if (pairs.length === 0) throw new Error(`no clean pair of ${sampled ? 'sampled' : 'unsampled'} windows (every one had a failed post or a lost delivery): slow the pace (--interval-ms)`);
    const ratios = pairs.map(([a, b]) => per(a) / per(b));
    const ci = bootstrapMedianCi(ratios);
    const spread = (ws: Window[]) => {
      const xs = ws.map(per);
      return { median: Math.round(median(xs)), min: Math.round(Math.min(...xs)), max: Math.round(Math.max(...xs)), spread_pct: r((100 * (Math.max(...xs) - Math.min(...xs))) / median(xs), 2) };
    };
    return {
      on_over_off: { median: r(ci.median, 4), ci95: [r(ci.low, 4), r(ci.high, 4)], pairs: ci.n, left_out: on.length - pairs.length, ratios: ratios.map((x) => r(x, 4)), verdict: budgetVerdict(ci, 1.01) },
      instructions_per_delivery: { on: spread(pairs.map(([a]) => a)), off: spread(pairs.map(([, b]) => b)) },
    };
  };
  const kinds = (count: (w: Window) => number) => ({
    ...(o.kinds.sampled ? { sampled: summary(true, count) } : {}),
    ...(o.kinds.unsampled ? { unsampled: summary(false, count) } : {}),
  });
  const result = {
    issue: 17,
    target: 'tail on / off <= 1.01 on the median',
    root: o.a,
    node: process.version,
    sessions: o.size,
    messages: o.messages,
    interval_ms: o.intervalMs,
    settle_ms: SETTLE_MS,
    reps: o.reps,
    warmup: o.warmup,
    tail_on_ms: o.tailOnMs,
    all_threads: kinds((w) => w.instructions),
    main_thread: kinds((w) => w.mainThread),
    // All threads less the idle window's rate times the window's length: an estimate of the windows without their timers.
    ...(o.idleMs > 0 ? { all_threads_less_idle: kinds((w) => w.instructions - (idle[w.tail]!.instructions_per_s * w.wallMs) / 1000) } : {}),
    idle,
    windows,
    callgrindFiles: OUT,
  };
  mkdirSync(o.out, { recursive: true });
  const file = join(o.out, `${new Date().toISOString().replace(/[:.]/g, '-')}-node${process.versions.node.split('.')[0]}.json`);
  writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
  for (const kind of ['sampled', 'unsampled'] as const) {
    const a = result.all_threads[kind]?.on_over_off;
    const m = result.main_thread[kind]?.on_over_off;
    if (a === undefined || m === undefined) continue;
    process.stdout.write(
      `${m.verdict} tail_on_over_off ${kind}: ${m.median} instructions per delivery on/off, 95 % CI [${m.ci95.join(', ')}] over ${m.pairs} pairs (main thread; all threads ${a.median} [${a.ci95.join(', ')}], ${a.verdict}), target <= 1.01\n`,
    );
  }
  process.stdout.write(`${file}\n`);
}

// Top-level await: bench/delivery-instructions.ts --tail-ab imports this module and must not go on past it.
await main().then(
  () => process.exit(),
  (err: unknown) => {
    process.stderr.write(`${String((err as Error)?.stack ?? err)}\n`);
    process.exit(1);
  },
);
