// What sampling a broadcast costs, measured inside ONE server: bursts whose
// posts carry a sampled traceparent alternate with bursts whose posts carry an
// unsampled one (trace-flags 00, which the server's ingress honours without a
// span). Both halves share the process, its JIT state, its heap and its
// AsyncLocalStorage (on for both once any trace has run), so the ratio is the
// cost of the traces themselves: the ingress, guild and fanout spans and the
// K kept deliveries, plus their export in `sampled` mode.
//
// The server benchmark (npm run bench) compares separate processes instead,
// which is what a deployment with tracing off against one with tracing on
// sees, including what being on costs the runtime whether or not anything is
// sampled (bench:async-context).
//
// With --tail-ab, two such servers run side by side, one with tail capture at
// its default threshold and one with it off (GUILDHALL_SLOW_DELIVERY_MS=0),
// their bursts interleaved: tail_on_over_off is what tail capture costs the
// deliveries that are not slow (target <= 1.01 on the median).
//
//   npm run bench:sampling-ab
// A burst's posts go out at --rate per second (default 5000: as fast as the
// server takes them, so later deliveries queue for a second and more, which
// tail capture rightly records as slow). With --rate below what the server
// keeps up with, no delivery is slow, and tail_on_over_off is the cost of the
// check alone; so it is with --tail-on-ms 60000 (the tail-on server's
// threshold: the watch runs for every message, and nothing reaches it), which
// isolates the check on a machine too busy for any rate to stay under 100 ms.
//
// Each half ends by exporting every span still queued (the provider's
// forceFlush), inside the half's CPU window: without it a half's last partial
// batch (up to the batch processor's 1 s schedule) was exported during the
// next half, so a sampled half's export was partly charged to the unsampled
// one. Then, outside both windows, one full collection (--settle flush-gc,
// the default), so that a major GC made necessary by one half does not land
// in the next; its CPU is measured on its own and reported per kind of half
// (`gc_us_per_delivery`), and with it (`sampled_over_unsampled_with_gc`).
// --settle flush: no collection; --settle none: the burst alone, as before
// 2026-12-02 16:00 (also reported beside, `sampled_over_unsampled_burst_only`).
// The settling collection has a side effect: V8 throws away optimized code
// whose maps and objects it finds dead ("weak objects"), and a sampled
// half's are all dead by then, so every sampled half began by recompiling
// the tracing path (bench/README.md, "A lead: the other threads are
// recompiling"). --rewarm N runs an N-message burst of the half's own kind
// before each half, outside its window (its spans exported), so the half
// measures a server in steady state for that kind, as one with steady
// traffic is.
// Every half's CPU is split into the main thread's and the other threads'
// (`sampled_over_unsampled_main_thread` is the event loop's alone). With
// --single-threaded-gc the server runs with V8's flag of that name (both
// halves alike): its collections then run on the main thread instead of on
// helper threads, whose CPU swung most between halves.
//
// --aa runs the same alternation with both halves unsampled (the "sampled"
// half's posts carry trace-flags 00 too): an A/A calibration, whose paired
// ratio should be 1 and whose spread and 95 % interval say what difference
// this method can resolve on this machine today, before any A/B is read
// against a 2 % target. Every run prints the median's 95 % interval
// (bootstrap over the pairs) and PASS / FAIL / UNRESOLVED against the target,
// and the same pairs as µs of server CPU a sampled broadcast adds
// (added_us_per_sampled_broadcast, with its interval).
//
// --perf records the whole machine with Linux perf over the measured halves
// and splits the server's samples by half (bench/perf-split.ts): µs a
// delivery by thread and kind of code (JavaScript, builtins, GC, compiler,
// kernel), sampled against unsampled, and the symbols that differ most, in
// the log and the JSON (`perf`). Needs linux-perf and root (or
// perf_event_paranoid <= 0); the server runs with --perf-basic-prof.
//
//   flags: --sessions 1000 --reps 20 --messages N --rate 5000 --mode sampled|spans --tail-ab --settle flush-gc|flush|none --aa --perf --out bench/results/sampling-ab
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { ClientDriver, type ServerUnderTest, askServer, startServer, startSink, stop } from './children.js';
import type { GcWindow } from './session-memory-probe.js';
import { writesOfPids } from './cluster-counters.js';
import { parseFlags } from './flags.js';
import { cpuMicros, schedMicros, schedMicrosByThread, schedMicrosByThreadName } from './proc.js';
import { bootstrapMedianCi, budgetVerdict } from './paired-stats.js';
import { rounded } from './summary.js';
import { type PerfSample, type PerfSplit, perfSamples, splitByWindows, startPerf } from './perf-split.js';

const optionsSchema = z.object({
  sessions: z.coerce.number().int().min(10, '--sessions must be at least 10').max(20_000),
  reps: z.coerce.number().int().min(2, '--reps must be at least 2').max(200),
  messages: z.coerce.number().int().min(1, '--messages must be at least 1').max(100_000).optional(),
  mode: z.enum(['sampled', 'spans'], { message: '--mode must be sampled (export to a local sink) or spans (no export)' }),
  out: z.string().min(1),
  cpuProf: z.string().min(1, '--cpu-prof needs a folder').optional(),
  tailAb: z.boolean(),
  rate: z.coerce.number().positive('--rate must be above 0').max(100_000),
  tailOnMs: z.coerce.number().int().min(1, '--tail-on-ms must be at least 1').max(3_600_000),
  settle: z.enum(['flush-gc', 'flush', 'none'], { message: '--settle must be flush-gc, flush or none' }),
  rewarm: z.coerce.number().int().min(0, '--rewarm must be 0 or more').max(100_000),
  singleThreadedGc: z.boolean(),
  aa: z.boolean(),
  perf: z.boolean(),
});

function fail(message: string): never {
  process.stderr.write(`bench:sampling-ab: ${message}\nusage: npm run bench:sampling-ab -- [--sessions N] [--reps N] [--messages N] [--mode sampled|spans] [--tail-ab] [--tail-on-ms N] [--rate N] [--settle flush-gc|flush|none] [--rewarm N] [--single-threaded-gc] [--aa] [--perf] [--out DIR] [--cpu-prof DIR]\n`);
  process.exit(2);
}

function parseOptions(argv: string[]) {
  const options = {
    sessions: { type: 'string', default: '1000' },
    reps: { type: 'string', default: '20' },
    messages: { type: 'string' },
    mode: { type: 'string', default: 'sampled' },
    out: { type: 'string', default: 'bench/results/sampling-ab' },
    'cpu-prof': { type: 'string' },
    'tail-ab': { type: 'boolean', default: false },
    rate: { type: 'string', default: '5000' },
    'tail-on-ms': { type: 'string', default: '100' },
    settle: { type: 'string', default: 'flush-gc' },
    rewarm: { type: 'string', default: '0' },
    'single-threaded-gc': { type: 'boolean', default: false },
    aa: { type: 'boolean', default: false },
    perf: { type: 'boolean', default: false },
  } as const;
  return parseFlags(argv, options, optionsSchema, fail, (values) => ({ ...values, cpuProf: values['cpu-prof'], tailAb: values['tail-ab'], tailOnMs: values['tail-on-ms'], singleThreadedGc: values['single-threaded-gc'] }));
}

const T0 = Date.now();
/** CLOCK_MONOTONIC in µs: what --cpu-prof's timestamps count, so a profile splits by burst (bench/profile-split.ts). */
const monotonicUs = () => Number(process.hrtime.bigint() / 1000n);
const log = (text: string) => process.stderr.write(`[sampling-ab ${((Date.now() - T0) / 1000).toFixed(1).padStart(6)}s] ${text}\n`);

type Tail = 'on' | 'off';

const PERF_HZ = 2000;

async function collectSamples(source: AsyncIterable<PerfSample>): Promise<PerfSample[]> {
  const out: PerfSample[] = [];
  for await (const s of source) out.push(s);
  return out;
}

/** The perf split as a table: µs a delivery by thread and kind of code, sampled against unsampled halves. */
function logPerfSplit(split: PerfSplit): void {
  log(`perf: ${split.samples} samples of the server in the halves; µs a delivery, sampled / unsampled / difference`);
  for (const [code, row] of Object.entries(split.byCode)) {
    const a = row.sampled ?? 0;
    const b = row.unsampled ?? 0;
    log(`  ${code.padEnd(16)} ${a.toFixed(3)} ${b.toFixed(3)} ${(a - b >= 0 ? '+' : '') + (a - b).toFixed(3)}`);
  }
}

/** Issue 17: tail capture on over off, CPU per delivery, when nothing is slow. */
const TAIL_TARGET_RATIO = 1.01;
/** Issue 15: a sampled broadcast's CPU over an unsampled one's, at 1,000 sessions. */
const SAMPLED_TARGET_RATIO = 1.02;

/** guildhall_tail_spans_total and _limited_total from the server's /metrics. */
async function tailCounts(url: string): Promise<{ recorded: number; limited: number }> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const read = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
  return { recorded: read('guildhall_tail_spans_total'), limited: read('guildhall_tail_spans_limited_total') };
}

/** Per thread name, the medians of each kind of half (µs per delivery). */
function byThreadName(sampled: readonly Sample[], unsampled: readonly Sample[]): Record<string, { sampled: number; unsampled: number }> {
  const names = new Set([...sampled, ...unsampled].flatMap((s) => Object.keys(s.byThreadUsPerDelivery)));
  const median = (xs: number[]) => (xs.length === 0 ? 0 : rounded(xs, 3).median);
  return Object.fromEntries([...names].sort().map((n) => [n, { sampled: median(sampled.map((s) => s.byThreadUsPerDelivery[n] ?? 0)), unsampled: median(unsampled.map((s) => s.byThreadUsPerDelivery[n] ?? 0)) }]));
}

interface Sample {
  rep: number;
  tail: Tail;
  sampled: boolean;
  cpuUsPerDelivery: number;
  /** The whole half: the burst and (unless --settle none) the export of its last spans. */
  schedUsPerDelivery: number;
  /** The full collection after the half (--settle flush-gc), outside its window. */
  gcUsPerDelivery: number;
  /** The burst alone (what schedUsPerDelivery was with --settle none). */
  burstUsPerDelivery: number;
  /** schedUsPerDelivery split by thread: the event loop's, and V8's and libuv's helpers'. */
  mainUsPerDelivery: number;
  otherUsPerDelivery: number;
  /** The same per thread (schedMicrosByThreadName): which helper threads a half kept busy. */
  byThreadUsPerDelivery: Record<string, number>;
  delivered: number;
  lost: number;
  /** Write system calls per delivery over the half (/proc/<pid>/io syscw: socket writes, the export's included). */
  writesPerDelivery: number;
  /** The half's collections (burst and export, not the settling one), from v8.GCProfiler in the server. */
  gc: GcWindow;
  /** The burst's start and end on the monotonic clock (µs), the clock of a V8 CPU profile's timestamps. */
  startUs: number;
  endUs: number;
}

async function main(): Promise<void> {
  const o = parseOptions(process.argv.slice(2));
  // About 60,000 deliveries a burst: CPU ticks are 10 ms, and shorter bursts pair more closely in time.
  const messages = o.messages ?? Math.max(5, Math.round(60_000 / o.sessions));
  const startedAt = new Date();
  const sink = await startSink();
  const ask = async (server: ServerUnderTest, gc: boolean) => {
    const r = await askServer<{ flushed: boolean }>(server.child, { cmd: 'settle', gc }, 'settled', 120_000);
    if (!r.flushed) throw new Error('the server has no tracer provider to flush');
  };
  /** The collections since the last call (the probe's GCProfiler window). */
  const gcWindow = async (server: ServerUnderTest) => (await askServer<{ window: GcWindow }>(server.child, { cmd: 'gc-window' }, 'gc-window', 10_000)).window;
  /** The export of what is still queued (counted in the half). */
  const flush = async (server: ServerUnderTest) => (o.settle === 'none' ? undefined : ask(server, false));
  /** A full collection (not counted in the half): its CPU in µs. */
  const collect = async (server: ServerUnderTest) => {
    if (o.settle !== 'flush-gc') return 0;
    const before = schedMicros(server.pid);
    await ask(server, true);
    return schedMicros(server.pid) - before;
  };
  const tails: Tail[] = o.tailAb ? ['on', 'off'] : ['on'];
  const rigs: { tail: Tail; server: ServerUnderTest; driver: ClientDriver }[] = [];
  // Tens of MB: in a temporary folder, removed once split (with the server's /tmp/perf-<pid>.map).
  const perfDir = o.perf ? await mkdtemp(join(tmpdir(), 'guildhall-perf-')) : undefined;
  const perfFile = join(perfDir ?? tmpdir(), 'perf.data');
  let perf: { stop(): Promise<void> } | undefined;
  let perfSplit: PerfSplit | undefined;
  const samples: Sample[] = [];
  const tailSpans: Partial<Record<Tail, { recorded: number; limited: number }>> = {};
  try {
    for (const tail of tails) {
      const nodeFlags = [...(o.singleThreadedGc ? ['--single-threaded-gc'] : []), ...(o.perf ? ['--perf-basic-prof'] : [])];
      const server = await startServer(o.mode, sink.port, { cpuProfileDir: o.cpuProf, nodeFlags, env: { GUILDHALL_SLOW_DELIVERY_MS: tail === 'on' ? String(o.tailOnMs) : '0' } });
      const driver = ClientDriver.start();
      rigs.push({ tail, server, driver });
      await driver.setup(server, o.sessions, Math.min(o.sessions, 100), 800);
      const connected = await driver.connect();
      if (connected < o.sessions) throw new Error(`only ${connected} of ${o.sessions} sessions connected (tail capture ${tail})`);
      await driver.burst(messages, o.rate); // warm-up, sampled
      await driver.burst(messages, o.rate, true); // warm-up, unsampled
      await flush(server);
      await collect(server);
      log(`${o.mode} server, tail capture ${tail}, ${connected} sessions, ${messages} messages a burst${o.aa ? ' (A/A: both halves unsampled)' : ''}`);
    }
    // --perf: the whole machine sampled over the measured halves (bench/perf-split.ts), split by half below.
    if (o.perf) {
      perf = await startPerf(perfFile, PERF_HZ);
      if (perf === undefined) throw new Error('--perf: perf record did not start (Debian: apt-get install linux-perf; it records the whole machine, so it needs root or perf_event_paranoid <= 0)');
    }
    for (let rep = 1; rep <= o.reps; rep++) {
      // Alternate which half (and which server) goes first, so neither always follows the other.
      const order = rep % 2 ? rigs : [...rigs].reverse();
      for (const { tail, server, driver } of order) {
        for (const sampled of rep % 2 ? [true, false] : [false, true]) {
          if (o.rewarm > 0) {
            // Outside the window: the JIT's state back to what this kind of half runs on (see the header).
            await driver.burst(o.rewarm, o.rate, !sampled || o.aa);
            await flush(server);
          }
          await gcWindow(server);
          const [writes0] = writesOfPids([server.pid]);
          const cpu0 = cpuMicros(server.pid);
          const threads0 = schedMicrosByThread(server.pid);
          const names0 = schedMicrosByThreadName(server.pid);
          const startUs = monotonicUs();
          // With --aa the "sampled" half is unsampled too: the same work on both sides.
          const r = await driver.burst(messages, o.rate, !sampled || o.aa);
          const burst = schedMicros(server.pid);
          await flush(server);
          const endUs = monotonicUs();
          const threads1 = schedMicrosByThread(server.pid);
          const names1 = schedMicrosByThreadName(server.pid);
          const [writes1] = writesOfPids([server.pid]);
          const gc = await gcWindow(server);
          const gcUs = await collect(server);
          const delivered = Math.max(1, r.delivered);
          const main = threads1.main - threads0.main;
          const other = threads1.other - threads0.other;
          const sample = {
            rep,
            tail,
            sampled,
            cpuUsPerDelivery: (cpuMicros(server.pid) - cpu0) / delivered,
            schedUsPerDelivery: (main + other) / delivered,
            burstUsPerDelivery: (burst - threads0.main - threads0.other) / delivered,
            mainUsPerDelivery: main / delivered,
            otherUsPerDelivery: other / delivered,
            byThreadUsPerDelivery: Object.fromEntries([...names1].map(([name, us]) => [name, +((us - (names0.get(name) ?? 0)) / delivered).toFixed(3)])),
            gcUsPerDelivery: gcUs / delivered,
            gc,
            writesPerDelivery: (writes1! - writes0!) / delivered,
            delivered: r.delivered,
            lost: r.lost,
            startUs,
            endUs,
          };
          samples.push(sample);
          log(`rep ${rep} tail ${tail.padEnd(3)} ${sampled ? 'sampled  ' : 'unsampled'} ${sample.schedUsPerDelivery.toFixed(2)} µs/delivery (burst ${sample.burstUsPerDelivery.toFixed(2)}, main thread ${sample.mainUsPerDelivery.toFixed(2)}, others ${sample.otherUsPerDelivery.toFixed(2)}; GC after ${sample.gcUsPerDelivery.toFixed(2)}), lost ${r.lost}`);
        }
      }
    }
    await perf?.stop();
    // How much tail capture recorded: were any deliveries slow?
    for (const rig of rigs) tailSpans[rig.tail] = await tailCounts(rig.server.url);
    if (perf !== undefined) {
      // The server with tail capture on: its halves' windows, its threads' samples.
      const windows = samples.filter((s) => s.tail === 'on').map((s) => ({ startUs: s.startUs, endUs: s.endUs, kind: s.sampled ? 'sampled' : 'unsampled', deliveries: s.delivered }));
      perfSplit = splitByWindows(await collectSamples(perfSamples(perfFile, rigs[0]!.server.pid)), windows, PERF_HZ);
      await rm(`/tmp/perf-${rigs[0]!.server.pid}.map`, { force: true });
    }
  } finally {
    await perf?.stop();
    if (perfDir !== undefined) await rm(perfDir, { recursive: true, force: true });
    for (const rig of rigs) {
      await rig.driver.close();
      await stop(rig.server.child);
    }
    await stop(sink.child);
  }

  const of = (tail: Tail, sampled: boolean) => samples.filter((s) => s.tail === tail && s.sampled === sampled);
  const pairedBy = (f: (s: Sample) => number, a: Sample[], b: Sample[]) => a.map((s, i) => f(s) / f(b[i]!));
  const paired = (a: Sample[], b: Sample[]) => pairedBy((s) => s.schedUsPerDelivery, a, b);
  const lost = samples.reduce((n, s) => n + s.lost, 0);
  // Issue 17's target for tail capture when nothing is slow, judged on the interval of the median ratio, not the median alone.
  const tailVerdict = (ratios: number[]) => {
    const ci = bootstrapMedianCi(ratios);
    return { ci95: [+ci.low.toFixed(3), +ci.high.toFixed(3)], verdict: budgetVerdict(ci, TAIL_TARGET_RATIO) };
  };
  const sampledRatios = paired(of('on', true), of('on', false));
  const sampledCi = bootstrapMedianCi(sampledRatios);
  // The same pairs as an absolute figure: the server CPU a sampled broadcast adds (its spans and
  // their export), per pair the difference of the two halves' CPU per message (a message is one
  // broadcast to every session). What an absolute budget per sampled broadcast would be judged on.
  const perMessage = (s: Sample) => (s.schedUsPerDelivery * s.delivered) / messages;
  const unsampledHalves = of('on', false);
  const addedPerBroadcast = of('on', true).map((s, i) => perMessage(s) - perMessage(unsampledHalves[i]!));
  const addedCi = bootstrapMedianCi(addedPerBroadcast);
  const result = {
    startedAt: startedAt.toISOString(),
    node: process.version,
    mode: o.mode,
    sessions: o.sessions,
    messages,
    rate: o.rate,
    ...(o.tailAb ? { tail_on_ms: o.tailOnMs } : {}),
    reps: o.reps,
    aa: o.aa,
    us_per_delivery: { sampled: rounded(of('on', true).map((s) => s.schedUsPerDelivery), 2), unsampled: rounded(of('on', false).map((s) => s.schedUsPerDelivery), 2) },
    settle: o.settle,
    rewarm: o.rewarm,
    single_threaded_gc: o.singleThreadedGc,
    sampled_over_unsampled: rounded(sampledRatios, 3),
    sampled_over_unsampled_ci95: [+sampledCi.low.toFixed(3), +sampledCi.high.toFixed(3)],
    sampled_over_unsampled_verdict: budgetVerdict(sampledCi, SAMPLED_TARGET_RATIO),
    added_us_per_sampled_broadcast: rounded(addedPerBroadcast, 1),
    added_us_per_sampled_broadcast_ci95: [+addedCi.low.toFixed(1), +addedCi.high.toFixed(1)],
    sampled_over_unsampled_burst_only: rounded(pairedBy((s) => s.burstUsPerDelivery, of('on', true), of('on', false)), 3),
    ...(o.settle === 'flush-gc'
      ? {
          sampled_over_unsampled_with_gc: rounded(pairedBy((s) => s.schedUsPerDelivery + s.gcUsPerDelivery, of('on', true), of('on', false)), 3),
          gc_us_per_delivery: { sampled: rounded(of('on', true).map((s) => s.gcUsPerDelivery), 2), unsampled: rounded(of('on', false).map((s) => s.gcUsPerDelivery), 2) },
        }
      : {}),
    sampled_over_unsampled_main_thread: rounded(pairedBy((s) => s.mainUsPerDelivery, of('on', true), of('on', false)), 3),
    main_thread_us_per_delivery: { sampled: rounded(of('on', true).map((s) => s.mainUsPerDelivery), 2), unsampled: rounded(of('on', false).map((s) => s.mainUsPerDelivery), 2) },
    other_threads_us_per_delivery: { sampled: rounded(of('on', true).map((s) => s.otherUsPerDelivery), 2), unsampled: rounded(of('on', false).map((s) => s.otherUsPerDelivery), 2) },
    by_thread_name_us_per_delivery: byThreadName(of('on', true), of('on', false)),
    writes_per_delivery: { sampled: rounded(of('on', true).map((s) => s.writesPerDelivery), 4), unsampled: rounded(of('on', false).map((s) => s.writesPerDelivery), 4) },
    // Per half, medians: what the collections during it did (v8.GCProfiler in the server).
    gc_per_half: Object.fromEntries(
      (['sampled', 'unsampled'] as const).map((kind) => {
        const halves = of('on', kind === 'sampled');
        const med = (f: (w: GcWindow) => number) => rounded(halves.map((s) => f(s.gc)), 1).median;
        return [kind, { scavenges: med((w) => w.scavenges), scavenge_pause_us: med((w) => w.scavengeUs), survived_kb: med((w) => w.survivedBytes / 1024), promoted_kb: med((w) => w.promotedBytes / 1024), mark_compacts: med((w) => w.majors), mark_compact_pause_us: med((w) => w.majorUs) }];
      }),
    ),
    ...(o.tailAb
      ? {
          // Tail capture on over off, per kind of burst: the cost to deliveries that are not slow.
          tail_on_over_off: {
            sampled: { ...rounded(paired(of('on', true), of('off', true)), 3), ...tailVerdict(paired(of('on', true), of('off', true))) },
            unsampled: { ...rounded(paired(of('on', false), of('off', false)), 3), ...tailVerdict(paired(of('on', false), of('off', false))) },
            target: `<= ${TAIL_TARGET_RATIO}`,
          },
          tail_spans: tailSpans,
          us_per_delivery_tail_off: { sampled: rounded(of('off', true).map((s) => s.schedUsPerDelivery), 2), unsampled: rounded(of('off', false).map((s) => s.schedUsPerDelivery), 2) },
        }
      : {}),
    ...(perfSplit !== undefined ? { perf: { hz: PERF_HZ, ...perfSplit } } : {}),
    lost,
    samples,
  };
  await mkdir(o.out, { recursive: true });
  const file = join(o.out, `${startedAt.toISOString().replace(/[:.]/g, '-')}-node${process.versions.node.split('.')[0]}${o.tailAb ? '-tail-ab' : ''}${o.aa ? '-aa' : ''}.json`);
  await writeFile(file, `${JSON.stringify(result, null, 2)}\n`);
  const { samples: _, ...summary } = result;
  console.log(JSON.stringify(summary));
  log(
    `${result.sampled_over_unsampled_verdict} ${o.aa ? 'A/A (both unsampled) ' : ''}sampled_over_unsampled: median ${sampledCi.median.toFixed(3)}, 95 % CI [${sampledCi.low.toFixed(3)}, ${sampledCi.high.toFixed(3)}] over ${sampledRatios.length} pairs (target <= ${SAMPLED_TARGET_RATIO}; PASS/FAIL only when the whole interval is on one side)`,
  );
  log(`added per sampled broadcast: median ${addedCi.median.toFixed(0)} µs of server CPU, 95 % CI [${addedCi.low.toFixed(0)}, ${addedCi.high.toFixed(0)}] over ${addedPerBroadcast.length} pairs`);
  if (result.tail_on_over_off !== undefined) {
    for (const kind of ['sampled', 'unsampled'] as const) {
      const t = result.tail_on_over_off[kind];
      log(`${t.verdict} tail_on_over_off ${kind} bursts: median ${t.median}, 95 % CI [${t.ci95[0]}, ${t.ci95[1]}] over ${o.reps} pairs (target <= ${TAIL_TARGET_RATIO}; PASS/FAIL only when the whole interval is on one side)`);
    }
  }
  if (perfSplit !== undefined) logPerfSplit(perfSplit);
  log(`written: ${file}`);
  if (lost > 0) {
    process.stderr.write(`bench:sampling-ab: ${lost} deliveries lost\n`);
    process.exitCode = 1;
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench:sampling-ab: ${(err as Error)?.stack ?? String(err)}\n`);
  process.exit(1);
});
