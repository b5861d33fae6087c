// What sampling a broadcast costs, counted: instructions of ONE server
// (`sampled` mode: always_on, OTLP export to a local sink, K = 10) under
// valgrind's callgrind, over paced windows whose posts carry a sampled
// traceparent against windows whose posts carry an unsampled one, the order
// swapped every repetition. Counts do not move with the machine's load, which
// the CPU-time A/B (bench:sampling-ab) does on a shared machine.
//
// Each window: counting on, `--messages` posts at `--rate` per second, a wait
// past the batch processor's schedule (so a window's spans are exported inside
// it), counting off, dump. Tail capture's threshold is 60 s, so no tail spans
// are made (the A/B's --tail-on-ms 60000). Run at two guild sizes, it also
// gives instructions per delivery (the difference of the unsampled windows over
// the difference in deliveries), what a sampled post adds per delivery (the
// same difference of what it adds: the part every delivery pays, kept or not)
// and besides, and so the ratio the sampled cost implies at `--at` sessions:
// 1 + (added besides + at x added per delivery) / (per message besides + at x per delivery).
// User-space instructions only (the kernel's side of each socket write is not
// in them), so that implied ratio overstates the CPU ratio somewhat.
//
// The server runs compiled (dist/server/main.js, as `npm start` runs it); --from-source runs server/main.ts
// through tsx. --perf-map adds node --perf-basic-prof, so that bench/callgrind-jit.ts can name the JIT code in
// the dumps (the map is /tmp/perf-<pid>.map); --out keeps the dumps in that folder.
//
//   npm run bench:sampling-ab-instructions -- [--root DIR] [--sizes 10,100] [--messages 20] [--rate 4] [--reps 2] [--at 1000]
//     [--from-source] [--perf-map] [--out DIR]
//   (slow: the server runs 20-50 times slower under valgrind)
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import { ClientDriver, type ServerUnderTest, compiledServer, freePort, guildhallServerEnv, modeEnv, startSink, stop, waitHealthy } from './children.js';
import { parseFlags } from './flags.js';

const USAGE = 'usage: npm run bench:sampling-ab-instructions -- [--root DIR] [--sizes 10,100] [--messages 20] [--rate 4] [--reps 2] [--at 1000] [--from-source] [--perf-map] [--out DIR]';
const o = parseFlags(
  process.argv.slice(2),
  {
    root: { type: 'string', default: '.' },
    sizes: { type: 'string', default: '10,100' },
    messages: { type: 'string', default: '20' },
    rate: { type: 'string', default: '4' },
    reps: { type: 'string', default: '3' },
    at: { type: 'string', default: '1000' },
    warmup: { type: 'string', default: '300' },
    'from-source': { type: 'boolean', default: false },
    'perf-map': { type: 'boolean', default: false },
    out: { type: 'string', default: '' },
  },
  z.object({
    root: z.string().min(1).transform((p) => resolve(p)),
    sizes: z
      .string()
      .regex(/^\d+(,\d+)?$/, '--sizes: one or two session counts, small[,large]')
      .transform((s) => s.split(',').map(Number))
      .refine((s) => s[0]! >= 1 && (s.length === 1 || (s[1]! > s[0]! && s[1]! <= 2_000)), '--sizes: 1 <= small < large <= 2000'),
    messages: z.coerce.number().int().min(1).max(1_000),
    rate: z.coerce.number().positive().max(100),
    reps: z.coerce.number().int().min(1).max(20),
    at: z.coerce.number().int().min(1).max(100_000),
    warmup: z.coerce.number().int().min(0).max(10_000),
    'from-source': z.boolean(),
    'perf-map': z.boolean(),
    out: z.string(),
  }),
  (message) => {
    process.stderr.write(`bench:sampling-ab-instructions: ${message}\n${USAGE}\n`);
    process.exit(2);
  },
);

const OUT = o.out === '' ? mkdtempSync(join(tmpdir(), 'guildhall-sampling-callgrind-')) : resolve(o.out);
mkdirSync(OUT, { recursive: true });
const log = (text: string) => process.stderr.write(`[sampling-ab-instructions] ${text}\n`);
/** Past the batch processor's 1 s schedule delay, so a window's last spans are exported within it. */
const SETTLE_MS = 2_500;
const WARMUP_RATE = 2;

// valgrind names its control pipes after $HOST, which a Guildhall server is given too (its listen address).
const control = (pid: number, ...args: string[]) =>
  execFileSync('callgrind_control', [...args, String(pid)], { stdio: 'ignore', env: { ...process.env, HOST: '127.0.0.1' } });

interface Window {
  sampled: boolean;
  /** All threads (the compiler's and the GC's helpers included). */
  instructions: number;
  /** The main thread (the event loop) only. */
  mainThread: number;
  delivered: number;
  lost: number;
  /** Posts the server refused or did not answer in time: a window with any is not a clean count. */
  failed: number;
  /** This window's dump, one file per thread (main thread: `-01`). */
  files: string[];
}

async function measure(size: number, sinkPort: number): Promise<Window[]> {
  const port = await freePort();
  // Under valgrind a request takes seconds: no 408 for it (the default is 10 s; Node's own limit is 300 s).
  const env = guildhallServerEnv(port, { ...modeEnv('sampled', sinkPort), GUILDHALL_SLOW_DELIVERY_MS: '60000', GUILDHALL_REQUEST_TIMEOUT_MS: '290000' });
  const prefix = `s${size}`;
  const valgrind = ['--tool=callgrind', '--instr-atstart=no', '--smc-check=all-non-file', '--separate-threads=yes', `--callgrind-out-file=${join(OUT, `${prefix}.%p`)}`];
  const entry = o['from-source'] ? ['--import', 'tsx', 'server/main.ts'] : [compiledServer(o.root)];
  const nodeFlags = o['perf-map'] ? ['--perf-basic-prof'] : [];
  const child = spawn('valgrind', [...valgrind, process.execPath, ...nodeFlags, ...entry], { cwd: o.root, env, stdio: ['ignore', 'ignore', 'inherit'] });
  log(`${size} sessions: server pid ${child.pid}, dumps in ${OUT}`);
  const url = `http://127.0.0.1:${port}`;
  const server: ServerUnderTest = { mode: 'sampled', url, pid: child.pid!, child };
  const driver = ClientDriver.start();
  const seen = new Set<string>();
  const windows: Window[] = [];
  try {
    await waitHealthy(url, child, 900_000);
    await driver.setup(server, size, Math.min(size, 20), 25);
    const connected = await driver.connect();
    if (connected < size) throw new Error(`${connected} of ${size} sessions connected`);
    // Warm-up of both kinds, uncounted: JIT tiers count calls, not time, and
    // the optimising compiler otherwise dominates the first windows.
    // At a rate the server keeps up with under valgrind, then a pause: nothing
    // of the warm-up may still be queued when counting starts.
    for (let i = 0; i < 4; i++) {
      await driver.burst(Math.ceil(o.warmup / 4), WARMUP_RATE, false, 900_000);
      await driver.burst(Math.ceil(o.warmup / 4), WARMUP_RATE, true, 900_000);
    }
    await new Promise((r) => setTimeout(r, 2 * SETTLE_MS));
    log(`${size} sessions: warm`);
    for (let rep = 0; rep < o.reps; rep++) {
      for (const sampled of rep % 2 === 0 ? [true, false] : [false, true]) {
        control(server.pid, '--zero');
        control(server.pid, '-i', 'on');
        const run = await driver.burst(o.messages, o.rate, !sampled, 600_000);
        await new Promise((r) => setTimeout(r, SETTLE_MS));
        control(server.pid, '-i', 'off');
        control(server.pid, '--dump');
        // One file per thread for this dump (`<out>.<pid>.<part>-<thread>`); thread 01 is the main thread.
        let instructions = 0;
        let mainThread = 0;
        const files = readdirSync(OUT).filter((f) => f.startsWith(`${prefix}.${server.pid}.`) && !seen.has(f));
        for (const f of files) {
          seen.add(f);
          const m = /^totals:\s+(\d+)/m.exec(readFileSync(join(OUT, f), 'utf8'));
          if (!m) continue;
          instructions += Number(m[1]);
          if (f.endsWith('-01')) mainThread = Number(m[1]);
        }
        if (run.lost > 0 || run.delivered === 0) throw new Error(`${size} sessions: ${run.lost} lost, ${run.delivered} of ${o.messages * size} delivered: slow the rate (--rate)`);
        windows.push({ sampled, instructions, mainThread, delivered: run.delivered, lost: run.lost, failed: run.failed, files });
        log(
          `${size} sessions, rep ${rep + 1}, ${sampled ? 'sampled  ' : 'unsampled'}: ${(mainThread / (run.delivered / size) / 1e6).toFixed(3)} M main-thread instructions per message delivered (${(instructions / (run.delivered / size) / 1e6).toFixed(3)} M all threads), ${run.delivered} delivered, ${run.failed} posts failed, ${run.lost} lost`,
        );
      }
    }
    return windows;
  } finally {
    await driver.close();
    await stop(child, 60_000);
  }
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

async function main(): Promise<void> {
  const sink = await startSink();
  type Figures = { sampled: number; unsampled: number; added_per_message: number };
  const bySize: Record<number, { main_thread: Figures; all_threads: Figures; delivered_per_message: number; windows: Window[] }> = {};
  try {
    for (const size of o.sizes) {
      const windows = await measure(size, sink.port);
      const figures = (count: (w: Window) => number): Figures => {
        // Per message delivered (a post the server refused or answered too late for the client delivers nothing).
        const per = (sampled: boolean) => median(windows.filter((w) => w.sampled === sampled).map((w) => count(w) / (w.delivered / size)));
        return { sampled: Math.round(per(true)), unsampled: Math.round(per(false)), added_per_message: Math.round(per(true) - per(false)) };
      };
      const delivered = size;
      bySize[size] = { main_thread: figures((w) => w.mainThread), all_threads: figures((w) => w.instructions), delivered_per_message: delivered, windows };
    }
  } finally {
    await stop(sink.child);
  }
  const result: Record<string, unknown> = { root: o.root, compiled: !o['from-source'], node: process.version, messages: o.messages, rate: o.rate, reps: o.reps, warmup: o.warmup, instructions_per_message: bySize };
  if (o.sizes.length === 2) {
    const implied = (pick: (s: (typeof bySize)[number]) => Figures) => {
      const [small, large] = [bySize[o.sizes[0]!]!, bySize[o.sizes[1]!]!];
      const span = large.delivered_per_message - small.delivered_per_message;
      const perDelivery = (pick(large).unsampled - pick(small).unsampled) / span;
      const besides = pick(small).unsampled - perDelivery * small.delivered_per_message;
      // What a sampled post adds, split as the unsampled cost is: a part that grows with the deliveries (every
      // delivery of a sampled broadcast, kept or not, past the ~K kept ones) and a fixed part (its spans, export).
      const addedPerDelivery = (pick(large).added_per_message - pick(small).added_per_message) / span;
      const addedFixed = pick(small).added_per_message - addedPerDelivery * small.delivered_per_message;
      const addedAt = addedFixed + o.at * addedPerDelivery;
      return {
        unsampled_per_delivery: Math.round(perDelivery),
        unsampled_per_message_besides_deliveries: Math.round(besides),
        added_per_sampled_message: Math.round((pick(small).added_per_message + pick(large).added_per_message) / 2),
        added_per_delivery_of_a_sampled_message: Math.round(addedPerDelivery),
        added_per_sampled_message_besides_deliveries: Math.round(addedFixed),
        [`implied_sampled_over_unsampled_at_${o.at}`]: +(1 + addedAt / (besides + o.at * perDelivery)).toFixed(4),
      };
    };
    result.main_thread = implied((s) => s.main_thread);
    result.all_threads = implied((s) => s.all_threads);
  }
  process.stdout.write(`${JSON.stringify({ ...result, callgrindFiles: OUT })}\n`);
}

main().then(
  () => process.exit(),
  (err: unknown) => {
    process.stderr.write(`${String((err as Error)?.stack ?? err)}\n`);
    process.exit(1);
  },
);
