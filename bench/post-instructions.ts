// Instructions per REST post, counted by valgrind's callgrind: what the server's
// CPU per `POST /channels/{id}/messages` is made of, in a figure that does not
// move with the machine's load (bench:store's µs do).
//
// One Guildhall server (compiled, as `npm start` runs it; tracing off; SQLite
// :memory:, as bench:store's `memory` engine) runs under `valgrind
// --tool=callgrind --instr-atstart=no --separate-threads=yes`. The benchmark's
// world is made (`--guilds` guilds of `--members` members; with `--sessions`
// each member has a gateway session that gets the guild's MESSAGE_CREATEs,
// bench:store's lean ones), then one raw poster (bench/store-net-poster.ts, as
// bench:store's default) posts one message at a time, each answered before the
// next leaves: a commit of one write per post, the paced phase's common case.
// After `--warmup` posts, `--sections` windows of `--posts` posts are counted,
// each its own dump (callgrind_control --zero, -i on, the posts, -i off,
// --dump). A window whose dump shows V8's compilers at work is left out of the
// median (bench/counted-sections.ts): a tier-up is a one-off a long-running
// server spreads over millions of posts; so is a window that held a
// mark-compact (see below).
//
// Before the windows, one of `--idle-ms` without posts counts what the server
// runs by the clock alone (timers, the event-loop monitor, Node's connection
// checks); a window lasts longer the busier the machine, so `less idle`
// subtracts that rate times the window's length.
//
// Reported per post: the main thread's instructions (the JS, the event loop,
// the socket reads and writes; the headline), every thread's (V8's GC and
// compiler helpers too), and of the main thread's, those outside V8's GC and
// compilers; medians over the steady windows, and (`every_window`) over all
// of them: on a loaded machine every window held a mark-compact, and the
// counts still fell from one window to the next for 2,000 posts or more
// (tier-ups finishing), so compare two servers run side by side with the same
// flags, and read the later windows. The server runs with V8's memory reducer
// off (see the spawn). `--top N` lists the first steady window's functions by
// inclusive and self cost per post (JIT code named from node's
// --perf-basic-prof map, as bench/callgrind-jit.ts does).
//
//   npm run bench:post-instructions -- [--root DIR] [--guilds 20] [--members 1] [--sessions]
//       [--warmup 3000] [--posts 300] [--sections 6] [--top 40] [--idle-ms 3000]
//   (the listing's first steady window, else the one with the fewest instructions)
//   (slow: the server runs 20-50 times slower under valgrind; several minutes)
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { HistogramSet } from '../client-sim/histograms.js';
import { MESSAGE_INTENTS } from '../client-sim/protocol.js';
import { RestClient, gatewayUrls } from '../client-sim/rest.js';
import { startSimTracing } from '../client-sim/tracing.js';
import { buildWorld, planWorld } from '../client-sim/world.js';
import { COMPILE_FUNCTIONS, selfInstructionsOf } from './callgrind-dump.js';
import { checkoutSchema, compiledServer, freePort, guildhallServerEnv, stop, waitHealthy } from './children.js';
import { steadySections } from './counted-sections.js';
import { parseFlags } from './flags.js';
import { median } from './paired-stats.js';
import { LeanSessions } from './store-sessions.js';
import { NetPoster } from './store-net-poster.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

const o = parseFlags(
  process.argv.slice(2),
  {
    root: { type: 'string', default: ROOT },
    guilds: { type: 'string', default: '20' },
    members: { type: 'string', default: '1' },
    sessions: { type: 'boolean', default: false },
    warmup: { type: 'string', default: '3000' },
    posts: { type: 'string', default: '300' },
    sections: { type: 'string', default: '6' },
    top: { type: 'string', default: '40' },
    'idle-ms': { type: 'string', default: '3000' },
  },
  z.object({
    root: checkoutSchema,
    guilds: z.coerce.number().int().min(1).max(1_000),
    members: z.coerce.number().int().min(1).max(50),
    sessions: z.boolean(),
    warmup: z.coerce.number().int().min(0).max(100_000),
    posts: z.coerce.number().int().min(10).max(100_000),
    sections: z.coerce.number().int().min(1).max(20),
    top: z.coerce.number().int().min(0).max(500),
    idleMs: z.coerce.number().int().min(100).max(60_000),
  }),
  (message) => {
    process.stderr.write(`bench/post-instructions: ${message}\nusage: node --import tsx bench/post-instructions.ts [--root DIR] [--guilds 20] [--members 1] [--sessions] [--warmup 3000] [--posts 300] [--sections 6] [--top 40] [--idle-ms 3000]\n`);
    process.exit(2);
  },
  (v) => ({ ...v, idleMs: v['idle-ms'] }),
);

const OUT = mkdtempSync(join(tmpdir(), 'guildhall-post-callgrind-'));
const VALGRIND = ['--tool=callgrind', '--instr-atstart=no', '--smc-check=all-non-file', '--separate-threads=yes'];
// valgrind names its control pipes after $HOST, which the server is given too (its listen address).
const control = (pid: number, ...args: string[]) =>
  execFileSync('callgrind_control', [...args, String(pid)], { stdio: 'ignore', env: { ...process.env, HOST: '127.0.0.1' } });

// V8's garbage collector, by the C++ names callgrind gives it (as bench/delivery-instructions.ts).
const GC = /Scaveng|Marking|MarkCompact|Sweep|Evacuat|Heap::|heap::|GCTracer|Pretenuring|StringTableCleaner|RootMarking|WhiteToGrey|RememberedSet|SlotSet|MemoryChunk|IterateObjectCache|BodyDescriptor|SizeFromMap|Safepoint|PagedSpace|NewSpace|FreeList|ActiveSystemPages|popcount/;

const MARK_COMPACT = /^v8::internal::(MarkCompactCollector|IncrementalMarking)/;

interface Window {
  /** Main thread, all of it. */
  main: number;
  /** Every thread. */
  all: number;
  /** Main thread, V8's compilers and deoptimiser (self). */
  compile: number;
  /** Main thread, V8's garbage collector (self). */
  gc: number;
  /** Main thread, V8's mark-compact (self): a full collection fell in the window. */
  markCompact: number;
  mainDump: string;
}

function readWindow(files: string[]): Window {
  let main = 0;
  let all = 0;
  let compile = 0;
  let gc = 0;
  let markCompact = 0;
  let mainDump = '';
  for (const f of files) {
    const text = readFileSync(join(OUT, f), 'utf8');
    const n = Number(/^totals:\s+(\d+)/m.exec(text)?.[1] ?? 0);
    all += n;
    if (/-01$/.test(f)) {
      main = n;
      mainDump = join(OUT, f);
      compile = selfInstructionsOf(text, COMPILE_FUNCTIONS);
      gc = selfInstructionsOf(text, GC);
      markCompact = selfInstructionsOf(text, MARK_COMPACT);
    }
  }
  return { main, all, compile, gc, markCompact, mainDump };
}

/** Function costs per post from one dump: inclusive or self, JIT code named from the perf map. */
function topFunctions(dump: string, perfMap: string, inclusive: boolean, posts: number, top: number): string[] {
  const listing = execFileSync('callgrind_annotate', ['--threshold=100', `--inclusive=${inclusive ? 'yes' : 'no'}`, dump], { encoding: 'utf8', maxBuffer: 1 << 28 });
  const ranges = readPerfMap(perfMap);
  const rows: Array<[number, string]> = [];
  const merged = new Map<string, number>();
  for (const line of listing.split('\n')) {
    const m = /^\s*([\d,]+)\s+(?:\([^)]*\)\s+)?(.*)$/.exec(line);
    if (!m || !m[2]!.includes(':') || m[2]!.startsWith('PROGRAM TOTALS')) continue;
    const n = Number(m[1]!.replace(/,/g, ''));
    let label = m[2]!.replace(/\s+\[[^\]]*\]$/, '');
    const jit = /^\?\?\?:0x([0-9a-f]+)/.exec(label);
    if (jit) label = `JIT ${ranges(parseInt(jit[1]!, 16)) ?? `unmapped 0x${jit[1]}`}`;
    // Inclusive costs of several entries of one code object are not additive (they may call each other): keep the largest.
    merged.set(label, inclusive ? Math.max(merged.get(label) ?? 0, n) : (merged.get(label) ?? 0) + n);
  }
  for (const [label, n] of merged) rows.push([n, label]);
  rows.sort((a, b) => b[0] - a[0]);
  return rows.slice(0, top).map(([n, label]) => `${Math.round(n / posts).toLocaleString('en').padStart(10)}  ${label.slice(0, 150)}`);
}

function readPerfMap(file: string): (address: number) => string | undefined {
  let text = '';
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return () => undefined;
  }
  const byStart = text
    .split('\n')
    .map((line) => /^([0-9a-f]+) ([0-9a-f]+) (.*)$/.exec(line))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ start: parseInt(m[1]!, 16), end: parseInt(m[1]!, 16) + parseInt(m[2]!, 16), name: m[3]! }))
    .sort((a, b) => a.start - b.start);
  return (address) => {
    let lo = 0;
    let hi = byStart.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (byStart[mid]!.start <= address) lo = mid + 1;
      else hi = mid - 1;
    }
    for (let i = lo - 1; i >= 0 && i >= lo - 8; i--) if (byStart[i]!.start <= address && address < byStart[i]!.end) return byStart[i]!.name;
    return undefined;
  };
}

async function main(): Promise<void> {
  const entry = compiledServer(o.root);
  const port = await freePort();
  const env = guildhallServerEnv(port, { OTEL_SDK_DISABLED: 'true' });
  // --no-memory-reducer: V8's memory reducer starts full collections when the allocation rate per ms of the clock
  // is low, which it is for a server slowed 50 times by valgrind (and more on a loaded machine): with it, windows
  // held mark-compacts a server at full speed does not run, more of them the busier the machine.
  const child = spawn('valgrind', [...VALGRIND, `--callgrind-out-file=${join(OUT, 'server.%p')}`, process.execPath, '--perf-basic-prof', '--no-memory-reducer', entry], {
    cwd: o.root,
    env,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const url = `http://127.0.0.1:${port}`;
  let sessions: LeanSessions | undefined;
  const poster = new NetPoster(url, new HistogramSet());
  try {
    await waitHealthy(url, child, 900_000);
    const pid = child.pid!;
    const rest = new RestClient(url, startSimTracing({}), new HistogramSet());
    const users = o.guilds * o.members;
    // User g owns guild g; the others fill the guilds round-robin (as bench:store).
    const plan = planWorld({ users, guilds: o.guilds, sessions: o.sessions ? users : 0, seed: 1, membership: (u) => (u < o.guilds ? [] : [(u - o.guilds) % o.guilds]) });
    const world = await buildWorld(plan, rest);
    if (o.sessions) {
      const [gateway] = await gatewayUrls(rest, [url]);
      const specs = world.sessionUser.map((u) => ({ token: world.users[u]!.token, guildIds: world.guildsOfUser[u]!.map((g) => world.guilds[g]!.id) }));
      sessions = LeanSessions.start({ url: gateway!, intents: MESSAGE_INTENTS, sessions: specs, connectPerS: 50 });
      const ready = await sessions.waitFor((s) => s.complete + s.failed >= s.sessions, 600_000);
      if (ready.stats.complete < ready.stats.sessions) throw new Error(`${ready.stats.complete} of ${ready.stats.sessions} sessions ready`);
    }
    let n = 0;
    let retried = 0;
    const postOne = async () => {
      const g = n % world.guilds.length;
      const guild = world.guilds[g]!;
      const author = world.users[guild.members[n % guild.members.length]!]!;
      if (!(await poster.post(guild.channelId, author.token, `g${g} m${n}`))) {
        // Reading a window's dumps blocks this process for longer than the server keeps an idle socket (Fastify's
        // keepAliveTimeout, 72 s) when the machine is loaded, and the socket's close is seen only after the next
        // write: one retry, on a new socket. A second failure is the server's.
        retried++;
        if (!(await poster.post(guild.channelId, author.token, `g${g} m${n}`))) throw new Error(`post ${n} failed twice`);
      }
      n++;
    };
    for (let i = 0; i < o.warmup; i++) await postOne();
    /** Counts what `work` makes the server run, as its own dump. */
    const counted = async (work: () => Promise<void>): Promise<Window & { ms: number }> => {
      const before = new Set(readdirSync(OUT));
      control(pid, '--zero');
      control(pid, '-i', 'on');
      const t0 = performance.now();
      await work();
      const ms = performance.now() - t0;
      control(pid, '-i', 'off');
      control(pid, '--dump');
      return { ...readWindow(readdirSync(OUT).filter((f) => f.startsWith(`server.${pid}`) && !before.has(f))), ms };
    };
    // The server's work by the clock (the event-loop monitor, Node's HTTP connection checks, timers): no posts.
    const idle = await counted(() => new Promise((r) => setTimeout(r, o.idleMs)));
    const idlePerMs = idle.main / idle.ms;
    process.stderr.write(`idle: ${Math.round(idlePerMs)} main-thread instructions per ms of the clock\n`);
    const windows: Array<Window & { ms: number }> = [];
    for (let s = 0; s < o.sections; s++) {
      const w = await counted(async () => {
        for (let i = 0; i < o.posts; i++) await postOne();
      });
      windows.push(w);
      process.stderr.write(
        `window ${s + 1}/${o.sections}: ${Math.round(w.main / o.posts)} main-thread instructions per post (compile ${Math.round(w.compile / o.posts)}, GC ${Math.round(w.gc / o.posts)}${w.markCompact > 0 ? ', a mark-compact' : ''}; all threads ${Math.round(w.all / o.posts)})\n`,
      );
    }
    // A window is left out when V8 compiled more than 0.5 % of its instructions (a tier-up or a deopt and its
    // re-optimisation) or ran a mark-compact in it (after one, code and inline caches start over: a window that
    // held one was seen at 1.4x the others, in the collector and in baseline code, not in the server's own work).
    const run = steadySections(
      windows.map((w) => ({ perUnit: w.main / o.posts, compilePerUnit: w.markCompact > 0 ? Infinity : w.compile / o.posts })),
      1,
      0.005 * median(windows.map((w) => w.main / o.posts)),
    );
    const steady = windows.filter((_, i) => !run.compiling.includes(i));
    const med = (f: (w: Window & { ms: number }) => number) => (steady.length === 0 ? NaN : Math.round(median(steady.map((w) => f(w) / o.posts))));
    // Every window, the left-out ones too: on a loaded machine V8 ran a mark-compact in every window (its heap
    // sizing follows the mutator's speed on the clock), so these are the figures an A/B reads then.
    const medAll = (f: (w: Window & { ms: number }) => number) => Math.round(median(windows.map((w) => f(w) / o.posts)));
    const summary = {
      root: o.root,
      guilds: o.guilds,
      members: o.members,
      sessions: o.sessions,
      warmup: o.warmup,
      posts: o.posts,
      windows: windows.map((w) => ({ ms: Math.round(w.ms), main: Math.round(w.main / o.posts), all: Math.round(w.all / o.posts), compile: Math.round(w.compile / o.posts), gc: Math.round(w.gc / o.posts), markCompact: w.markCompact > 0 })),
      leftOut: run.compiling,
      main_per_post: med((w) => w.main),
      main_without_gc_and_compile_per_post: med((w) => w.main - w.gc - w.compile),
      idle_per_ms: Math.round(idlePerMs),
      retried,
      main_less_idle_per_post: med((w) => w.main - idlePerMs * w.ms),
      all_threads_per_post: med((w) => w.all),
      every_window: {
        main_per_post: medAll((w) => w.main),
        main_without_gc_and_compile_per_post: medAll((w) => w.main - w.gc - w.compile),
        gc_per_post: medAll((w) => w.gc),
        all_threads_per_post: medAll((w) => w.all),
      },
      callgrindFiles: OUT,
    };
    process.stdout.write(`${JSON.stringify(summary)}\n`);
    // The listing: the first steady window, else the one with the fewest instructions.
    const last = steady[0] ?? [...windows].sort((a, b) => a.main - b.main)[0];
    if (last !== undefined && o.top > 0) {
      const perfMap = `/tmp/perf-${pid}.map`;
      process.stdout.write(`\ninclusive per post (main thread, last steady window; JIT code objects: the largest entry of each):\n${topFunctions(last.mainDump, perfMap, true, o.posts, o.top).join('\n')}\n`);
      process.stdout.write(`\nself per post:\n${topFunctions(last.mainDump, perfMap, false, o.posts, o.top).join('\n')}\n`);
    }
  } finally {
    poster.close();
    await sessions?.close();
    await stop(child, 60_000);
  }
}

main().then(
  () => process.exit(),
  (err: unknown) => {
    process.stderr.write(`${String((err as Error)?.stack ?? err)}\n`);
    process.exit(1);
  },
);

