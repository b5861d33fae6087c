// Instructions per paced delivery, counted by valgrind's callgrind: a measure
// that does not move with the machine's load (the CPU-time benchmarks do, on a
// shared machine). Each server runs under `valgrind --tool=callgrind
// --instr-atstart=no`; after its sessions connect and a warm-up burst, counting
// is switched on (callgrind_control -i on) for a paced run slow enough that
// every broadcast is handled before the next one (one dispatch per session per
// turn, nothing coalesced), then off, and the count is dumped. User-space
// instructions only: the kernel's side of each socket write (the same one
// write per delivery for every server here) is not in them.
//
// Servers: Guildhall checkouts `--a` and `--b` (tracing off, as `off`), and
// with `--floor-seq` the floor-seq server of this checkout (bench/floor-server.ts
// --seq). Each is run at two guild sizes (`--sizes`, default 100,400) so that
// what a message costs apart from its deliveries (Guildhall's REST post and
// commit, the floor's POST /broadcast) is separated from what each delivery
// costs: per delivery = (I(large) - I(small)) / (deliveries(large) - deliveries(small)),
// with the same number of messages in both.
//
// The headline is the main thread's count (callgrind --separate-threads): the
// JS, the event loop and the socket writes run there, while V8's concurrent
// marking, sweeping and TurboFan's background compiles land on helper threads
// at moments that differ between two windows. The warm-up alternates a burst
// and a paced run (`--alternations`, as `npm run bench` does between its runs),
// so the first switch from one to the other, where some hot functions
// deoptimise and are compiled again, falls before the counted window. Also
// reported: the main thread without V8's GC and compiler (by function name),
// the steadiest of the three when a window holds a major GC.
//
// With --cache-sim, callgrind also simulates the caches (--cache-sim=yes) and
// every event is reported per delivery: Ir, the D1 read and write misses
// (D1mr, D1mw) and the last level's (DLmr, DLmw). valgrind takes its cache
// geometry from CPUID, which on this VM claims a 512 MiB last level: the last
// level is set to a core's private L2 instead (--ll, default 2 MiB, 16-way,
// 64-byte lines), so an LL miss is an access that leaves the core. --compiled
// runs each checkout's compiled server (dist/server/main.js, as `npm run bench`
// does) instead of server/main.ts through tsx. The dumps stay in the folder
// printed last; bench/callgrind-jit.ts names their JIT code (--perf-map) and
// sorts by misses (--events).
//
//   npm run bench:delivery-instructions -- --a DIR [--b DIR] [--floor-seq] [--sizes 100,400] [--messages 20] [--interval-ms 1000] [--warmup 200] [--alternations 2] [--perf-map] [--cache-sim [--ll 2097152,16,64]] [--compiled]
//   (slow: every server runs 20-50 times slower under valgrind, 100 with --cache-sim; minutes in all)
//
// With --tail-ab the run is issue 17's counted A/B instead, tail capture on
// against off in one checkout: see bench/tail-ab-instructions.ts for its flags.
//   npm run bench:delivery-instructions -- --tail-ab [--a DIR] [--sizes 100] [--kinds sampled,unsampled] [--reps 6] ...
import { execFileSync, fork, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import { ClientDriver, type ServerUnderTest, checkoutSchema, compiledServer, freePort, guildhallServerEnv, stop, waitHealthy } from './children.js';
import { annotate } from './callgrind-annotate.js';
import { parseFlags } from './flags.js';

// --tail-ab: issue 17's A/B, which runs to its end and exits the process (the import never returns).
if (process.argv.includes('--tail-ab')) await import('./tail-ab-instructions.js');

const o = parseFlags(
  process.argv.slice(2),
  {
    a: { type: 'string' },
    b: { type: 'string' },
    'floor-seq': { type: 'boolean', default: false },
    sizes: { type: 'string', default: '100,400' },
    messages: { type: 'string', default: '20' },
    'interval-ms': { type: 'string', default: '1000' },
    warmup: { type: 'string', default: '200' },
    alternations: { type: 'string', default: '2' },
    'perf-map': { type: 'boolean', default: false },
    'cache-sim': { type: 'boolean', default: false },
    ll: { type: 'string', default: '2097152,16,64' },
    compiled: { type: 'boolean', default: false },
  },
  z.object({
    a: checkoutSchema,
    b: checkoutSchema.optional(),
    floorSeq: z.boolean(),
    sizes: z
      .string()
      .regex(/^\d+(,\d+)?$/, '--sizes: two session counts, small,large (or one)')
      .transform((s) => s.split(',').map(Number) as [number, number] | [number])
      .refine(([small, large]) => small >= 1 && (large === undefined || large > small) && (large ?? small) <= 5_000, '--sizes: 1 <= small < large <= 5000'),
    messages: z.coerce.number().int().min(2).max(1_000),
    intervalMs: z.coerce.number().int().min(10).max(60_000),
    warmup: z.coerce.number().int().min(0).max(10_000),
    alternations: z.coerce.number().int().min(1).max(20),
    perfMap: z.boolean(),
    cacheSim: z.boolean(),
    ll: z.string().regex(/^\d+,\d+,\d+$/, '--ll: size,associativity,line (bytes)'),
    compiled: z.boolean(),
  }),
  (message) => {
    process.stderr.write(`bench:delivery-instructions: ${message}\nusage: npm run bench:delivery-instructions -- --a DIR [--b DIR] [--floor-seq] [--sizes 100,400] [--messages 20] [--interval-ms 1000] [--warmup 200] [--alternations 2] [--perf-map] [--cache-sim [--ll 2097152,16,64]] [--compiled]\n`);
    process.exit(2);
  },
  (v) => ({ ...v, floorSeq: v['floor-seq'], intervalMs: v['interval-ms'], perfMap: v['perf-map'], cacheSim: v['cache-sim'] }),
);

const OUT = mkdtempSync(join(tmpdir(), 'guildhall-callgrind-'));
const VALGRIND = [
  '--tool=callgrind',
  '--instr-atstart=no',
  '--smc-check=all-non-file',
  '--separate-threads=yes',
  ...(o.cacheSim ? ['--cache-sim=yes', `--LL=${o.ll}`] : []),
];

interface Target {
  name: string;
  root: string;
  floor: boolean;
}

async function startUnderValgrind(t: Target, size: number): Promise<ServerUnderTest> {
  const out = join(OUT, `${t.name}-${size}.%p`);
  const valgrind = [...VALGRIND, `--callgrind-out-file=${out}`];
  // --perf-map: node writes /tmp/perf-<pid>.map, which names the JIT code callgrind reports as ???:0x...
  const perf = o.perfMap ? ['--perf-basic-prof'] : [];
  if (t.floor) {
    const child = fork('bench/floor-server.ts', ['--seq'], {
      cwd: t.root,
      execPath: 'valgrind',
      execArgv: [...valgrind, process.execPath, ...perf, '--import', 'tsx'],
      env: { ...process.env, HOST: '127.0.0.1' },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const port = await new Promise<number>((res, rej) => {
      child.on('message', (m: { ev?: string; port?: number }) => m.ev === 'listening' && res(m.port!));
      child.once('exit', (code) => rej(new Error(`floor-seq exited with ${code}`)));
    });
    return { mode: 'floor-seq', url: `http://127.0.0.1:${port}`, pid: child.pid!, child };
  }
  const port = await freePort();
  // Heartbeats every 10 minutes: a server under valgrind on a loaded machine runs so slowly that
  // clients heartbeating at the default 41.25 s missed their deadlines, were closed and identified
  // again, and the windows counted the reconnections. Fewer heartbeats also leave the window to deliveries.
  const env = guildhallServerEnv(port, { OTEL_SDK_DISABLED: 'true', GUILDHALL_HEARTBEAT_INTERVAL_MS: '600000' });
  const entry = o.compiled ? [compiledServer(t.root)] : ['--import', 'tsx', 'server/main.ts'];
  const child = spawn('valgrind', [...valgrind, process.execPath, ...perf, ...entry], { cwd: t.root, env, stdio: ['ignore', 'ignore', 'inherit'] });
  const url = `http://127.0.0.1:${port}`;
  await waitHealthy(url, child, 900_000).catch(async (err: unknown) => {
    await stop(child, 10_000);
    throw err;
  });
  return { mode: 'off', url, pid: child.pid!, child };
}

// valgrind names its control pipes after $HOST, which a Guildhall server is given too (its listen address).
const control = (pid: number, ...args: string[]) =>
  execFileSync('callgrind_control', [...args, String(pid)], { stdio: 'ignore', env: { ...process.env, HOST: '127.0.0.1' } });

/** The events reported: instructions, and with --cache-sim the D1 and last-level misses, reads and writes apart. */
const EVENTS = o.cacheSim ? ['Ir', 'D1mr', 'D1mw', 'DLmr', 'DLmw'] : ['Ir'];
type Events = Record<string, number>;

interface Counted {
  /** The main thread's instructions in the counted window. */
  instructions: number;
  /** Every thread's (the main thread's, plus GC and compiler helpers'). */
  allThreads: number;
  /** The main thread's, without V8's garbage collector and compiler (whose work falls unevenly into windows). */
  mutator: number;
  /** Each of EVENTS on the main thread, then on the main thread without GC and compiler. */
  main: Events;
  mainMutator: Events;
  delivered: number;
  lost: number;
  /** The main thread's dump of this window. */
  dump: string | undefined;
}

// V8's garbage collector and optimising compiler, by the C++ names callgrind_annotate gives them.
const GC = /Scaveng|Marking|MarkCompact|Sweep|Evacuat|Heap::|heap::|GCTracer|Pretenuring|StringTableCleaner|RootMarking|WhiteToGrey|RememberedSet|SlotSet|MemoryChunk|IterateObjectCache|BodyDescriptor|SizeFromMap|Safepoint|PagedSpace|NewSpace|FreeList|ActiveSystemPages|popcount/;
const COMPILER = /compiler::|Compiler|Bytecode|Parser|Scanner|Zone|baseline::|Deoptimiz|Pipeline/;

/** A dump's counts of EVENTS outside the GC and the compiler (self costs, by function). */
function mutatorCounts(dump: string): Events {
  const sums = EVENTS.map(() => 0);
  for (const row of annotate(dump, EVENTS)) {
    if (GC.test(row.label) || COMPILER.test(row.label)) continue;
    for (let i = 0; i < sums.length; i++) sums[i]! += row.counts[i]!;
  }
  return Object.fromEntries(EVENTS.map((e, i) => [e, sums[i]!]));
}

/** The totals of EVENTS in a dump (its `events:` line names the columns of its `totals:` line). */
function totalsOf(text: string): Events | undefined {
  const names = /^events:\s+(.*)$/m.exec(text)?.[1]?.trim().split(/\s+/);
  const totals = /^totals:\s+(.*)$/m.exec(text)?.[1]?.trim().split(/\s+/).map(Number);
  if (names === undefined || totals === undefined) return undefined;
  return Object.fromEntries(EVENTS.map((e) => [e, totals[names.indexOf(e)] ?? 0]));
}

/** Counted instructions of one paced run of `o.messages` messages to `size` sessions. */
async function measure(t: Target, size: number): Promise<Counted> {
  const server = await startUnderValgrind(t, size);
  const driver = ClientDriver.start();
  try {
    await driver.setup(server, size, Math.min(size, 20), 25);
    const connected = await driver.connect();
    if (connected < size) throw new Error(`${t.name}: ${connected} of ${size} sessions connected`);
    // Warm-up: bursts (with a few slow messages only, the counted window was mostly TurboFan
    // compiling), each followed by a paced run at the counted pace, for the paced path's feedback.
    for (let i = 0; i < o.alternations; i++) {
      if (o.warmup > 0) await driver.burst(i === 0 ? o.warmup : Math.ceil(o.warmup / 4), 5_000, false, 1_800_000);
      await driver.burst(i === o.alternations - 1 ? Math.max(5, o.messages) : o.messages, 1000 / o.intervalMs, false, 600_000);
    }
    if (o.cacheSim) {
      // The simulated caches see nothing while instrumentation is off: switched on for a few
      // paced messages first, so the counted window starts from the steady state, not from empty caches.
      control(server.pid, '-i', 'on');
      await driver.burst(3, 1000 / o.intervalMs, false, 600_000);
      control(server.pid, '--zero');
    } else {
      control(server.pid, '--zero');
      control(server.pid, '-i', 'on');
    }
    const run = await driver.burst(o.messages, 1000 / o.intervalMs, false, 600_000);
    control(server.pid, '-i', 'off');
    control(server.pid, '--dump');
    // With --separate-threads each dump is one file per thread: <prefix>.<pid>.<part>-<thread>; thread 01 is the main one.
    const dumps = readdirSync(OUT).filter((f) => f.startsWith(`${t.name}-${size}.${server.pid}`));
    const byThread = new Map<string, Events>();
    let mainDump: string | undefined;
    let mainMutator: Events = {};
    for (const f of dumps) {
      const totals = totalsOf(readFileSync(join(OUT, f), 'utf8'));
      const thread = /-(\d+)$/.exec(f)?.[1] ?? '01';
      if (totals === undefined || (byThread.get(thread)?.Ir ?? -1) >= totals.Ir!) continue;
      byThread.set(thread, totals);
      if (thread === '01') {
        mainDump = join(OUT, f);
        mainMutator = mutatorCounts(mainDump);
      }
    }
    let allThreads = 0;
    for (const n of byThread.values()) allThreads += n.Ir!;
    const main = byThread.get('01') ?? {};
    return { instructions: main.Ir ?? 0, allThreads, mutator: mainMutator.Ir ?? 0, main, mainMutator, delivered: run.delivered, lost: run.lost, dump: mainDump };
  } finally {
    await driver.close();
    await stop(server.child, 60_000);
  }
}

/** Per delivery: the difference between the two sizes' counts over the difference in deliveries. */
function perDeliveryOf(s: Events, l: Events, deliveries: number): Events {
  return Object.fromEntries(EVENTS.map((e) => [e, Math.round((((l[e] ?? 0) - (s[e] ?? 0)) / deliveries) * 10) / 10]));
}

async function main(): Promise<void> {
  const targets: Target[] = [{ name: 'a', root: o.a, floor: false }];
  if (o.b !== undefined) targets.push({ name: 'b', root: o.b, floor: false });
  if (o.floorSeq) targets.push({ name: 'floor-seq', root: resolve('.'), floor: true });
  const results: Record<string, unknown> = {};
  // Targets in parallel (the counts do not depend on timing), sizes one after the other.
  await Promise.all(
    targets.map(async (t) => {
      const [small, large] = o.sizes;
      if (large === undefined) {
        // One size: every count over the deliveries, each message's own cost spread over its deliveries
        // (for comparing two checkouts whose per-message work is the same, when two sizes take too long).
        const one = await measure(t, small);
        results[t.name] = {
          root: t.root,
          run: { sessions: small, ...one },
          instructions_per_delivery: Math.round(one.instructions / one.delivered),
          mutator_per_delivery: Math.round(one.mutator / one.delivered),
          main_thread_per_delivery: perDeliveryOf({}, one.main, one.delivered),
          mutator_events_per_delivery: perDeliveryOf({}, one.mainMutator, one.delivered),
        };
        process.stderr.write(`${t.name}: one size, per delivery with its message's share: main ${JSON.stringify(perDeliveryOf({}, one.main, one.delivered))}, without GC and compiler ${JSON.stringify(perDeliveryOf({}, one.mainMutator, one.delivered))}; dump ${one.dump}\n`);
        return;
      }
      const s = await measure(t, small);
      const l = await measure(t, large);
      const perDelivery = (l.instructions - s.instructions) / (l.delivered - s.delivered);
      const perMessage = (s.instructions - perDelivery * s.delivered) / o.messages;
      const allPerDelivery = (l.allThreads - s.allThreads) / (l.delivered - s.delivered);
      const mutatorPerDelivery = (l.mutator - s.mutator) / (l.delivered - s.delivered);
      results[t.name] = {
        root: t.root,
        small: { sessions: small, ...s },
        large: { sessions: large, ...l },
        instructions_per_delivery: Math.round(perDelivery),
        all_threads_per_delivery: Math.round(allPerDelivery),
        mutator_per_delivery: Math.round(mutatorPerDelivery),
        instructions_per_message_besides_deliveries: Math.round(perMessage),
        ...(o.cacheSim
          ? {
              main_thread_per_delivery: perDeliveryOf(s.main, l.main, l.delivered - s.delivered),
              mutator_events_per_delivery: perDeliveryOf(s.mainMutator, l.mainMutator, l.delivered - s.delivered),
            }
          : {}),
      };
      process.stderr.write(`${t.name}: ${Math.round(perDelivery)} main-thread instructions per delivery (without GC and compiler ${Math.round(mutatorPerDelivery)}; all threads ${Math.round(allPerDelivery)}), ${Math.round(perMessage)} per message besides\n`);
      if (o.cacheSim) process.stderr.write(`${t.name}: main thread per delivery ${JSON.stringify((results[t.name] as { main_thread_per_delivery: Events }).main_thread_per_delivery)}; dumps ${s.dump} ${l.dump}\n`);
    }),
  );
  const per = (n: string) => (results[n] as { instructions_per_delivery: number } | undefined)?.instructions_per_delivery;
  const ratios: Record<string, number> = {};
  if (per('b') !== undefined) ratios.b_over_a = per('b')! / per('a')!;
  if (per('floor-seq') !== undefined) {
    ratios.a_over_floor_seq = per('a')! / per('floor-seq')!;
    if (per('b') !== undefined) ratios.b_over_floor_seq = per('b')! / per('floor-seq')!;
  }
  process.stdout.write(`${JSON.stringify({ messages: o.messages, intervalMs: o.intervalMs, sizes: o.sizes, results, ratios, callgrindFiles: OUT })}\n`);
}

main().then(
  () => process.exit(),
  (err: unknown) => {
    process.stderr.write(`${String((err as Error)?.stack ?? err)}\n`);
    process.exit(1);
  },
);
