// Memory per idle session (issue 15), for Guildhall (tracing off,
// sqlite::memory:) beside Socket.IO and the two floors: each server runs as a
// child with --expose-gc and a probe (bench/session-memory-probe.ts) that
// answers "collect and report memory" and "write a heap snapshot"; its
// sessions are real clients in other processes (for Guildhall client-sim
// through bench/client-driver.ts: IDENTIFY -> READY -> GUILD_CREATE, then
// heartbeating). Per mode and size:
//   1. memory run: a warm-up client connects a few sessions and closes them;
//      the measured clients build their worlds; reading at 0; N/2 sessions
//      connect and idle past one heartbeat, reading; N/2 more, reading. Per
//      session: (N - 0) / N and (N - N/2) / (N/2), of RSS, heap and external.
//   2. (Guildhall only) snapshot run, a fresh server, so the snapshot writer's
//      own memory does not blur the readings of run 1: a heap snapshot at N/2
//      and at N sessions, diffed by kind of object (bench/heap-snapshot-summary.ts).
//
//   npm run bench:session-memory
//   flags: --sizes 1000,5000 --modes off,socketio,floor,floor-seq --reps 1 --users 100 --connect-rate 250
//          --heartbeat-ms 10000 --semi-space-mb 0
//          --server-root DIR (run the Guildhall server of another checkout: a before/after in one sitting)
//          --label NAME --no-snapshots --keep-snapshots DIR --top 20 --out bench/results/session-memory
import { existsSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { ClientDriver, type Mode, type ServerUnderTest, askServer, startServer, stop } from './children.js';
import { parseFlags } from './flags.js';
import { type KindDelta, diffPerSession, summariseHeapSnapshot } from './heap-snapshot-summary.js';
import { type MemoryPerSession, perSession, settledMemory, warmUp } from './server-memory.js';
import type { MemoryReading } from './session-memory-probe.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const MEMORY_MODES = ['off', 'socketio', 'floor', 'floor-seq'] as const satisfies readonly Mode[];
type MemoryMode = (typeof MEMORY_MODES)[number];

const optionsSchema = z.object({
  sizes: z
    .string()
    .regex(/^\d+(,\d+)*$/, '--sizes must be a comma-separated list of session counts, e.g. 1000,5000')
    .transform((s) => s.split(',').map(Number))
    .pipe(z.array(z.number().int().min(1).max(20_000, '--sizes: at most 20,000 sessions'))),
  modes: z
    .string()
    .transform((s) => s.split(','))
    .pipe(z.array(z.enum(MEMORY_MODES, { message: `--modes: each one of ${MEMORY_MODES.join(', ')}` })).min(1)),
  reps: z.coerce.number().int().min(0).max(20),
  users: z.coerce.number().int().min(1).max(20_000),
  connectRate: z.coerce.number().positive('--connect-rate must be above 0').max(100_000),
  heartbeatMs: z.coerce.number().int().min(1000, '--heartbeat-ms: at least 1000 (the server refuses less)'),
  serverRoot: z.string().refine((p) => existsSync(join(p, 'server/main.ts')), '--server-root must hold server/main.ts'),
  label: z.string().min(1),
  snapshots: z.boolean(),
  top: z.coerce.number().int().min(1).max(200),
  keepSnapshots: z.string().min(1).optional(),
  semiSpaceMb: z.coerce.number().int().min(0).max(256),
  out: z.string().min(1),
});

function fail(message: string): never {
  process.stderr.write(
    `bench:session-memory: ${message}\nusage: npm run bench:session-memory -- [--sizes 1000,5000] [--modes off,socketio,floor,floor-seq] [--reps N] [--users N] [--connect-rate N] [--heartbeat-ms N] [--server-root DIR] [--label NAME] [--no-snapshots] [--keep-snapshots DIR] [--semi-space-mb N] [--top N] [--out DIR]\n`,
  );
  process.exit(2);
}

const o = parseFlags(
  process.argv.slice(2),
  {
    sizes: { type: 'string', default: '1000,5000' },
    modes: { type: 'string', default: MEMORY_MODES.join(',') },
    reps: { type: 'string', default: '1' },
    users: { type: 'string', default: '100' },
    'connect-rate': { type: 'string', default: '250' },
    'heartbeat-ms': { type: 'string', default: '10000' },
    'server-root': { type: 'string', default: ROOT },
    label: { type: 'string', default: 'this checkout' },
    'no-snapshots': { type: 'boolean', default: false },
    top: { type: 'string', default: '20' },
    'keep-snapshots': { type: 'string' },
    'semi-space-mb': { type: 'string', default: '0' },
    out: { type: 'string', default: 'bench/results/session-memory' },
  },
  optionsSchema,
  fail,
  (v) => ({ ...v, connectRate: v['connect-rate'], heartbeatMs: v['heartbeat-ms'], serverRoot: resolve(String(v['server-root'])), snapshots: !v['no-snapshots'], keepSnapshots: v['keep-snapshots'], semiSpaceMb: v['semi-space-mb'] }),
);

const log = (line: string) => process.stderr.write(`[session-memory] ${line}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A mode's server, as `npm run bench` runs it (Guildhall: `off`, from --server-root), with the probe. */
async function startMemoryServer(mode: MemoryMode, heartbeatMs: number): Promise<ServerUnderTest> {
  // --semi-space-mb N pins V8's young generation at N MiB (it grows under allocation and
  // does not shrink back while idle); off by default: the server runs as it is deployed.
  const nodeFlags = o.semiSpaceMb === 0 ? [] : [`--min-semi-space-size=${o.semiSpaceMb}`, `--max-semi-space-size=${o.semiSpaceMb}`];
  return startServer(mode, 0, { nodeFlags, root: o.serverRoot, env: { GUILDHALL_HEARTBEAT_INTERVAL_MS: String(heartbeatMs) } });
}

interface SessionsRun<T> {
  /** Sessions connected in the first and the second half. */
  connected: [number, number];
  zero: T;
  half: T;
  full: T;
}

/**
 * A fresh server, warmed up (bench/server-memory.ts); two client processes,
 * each with its own world (built before `read` at 0) and half of the `size`
 * sessions. `read` runs at 0, at N/2 and at N idle sessions; each half idles
 * past one heartbeat (by default) before its reading.
 */
async function withSessions<T>(
  mode: MemoryMode,
  size: number,
  read: (s: ServerUnderTest, at: 'zero' | 'half' | 'full') => Promise<T>,
  heartbeatMs = o.heartbeatMs,
  settleMs = o.heartbeatMs + 1_500,
): Promise<SessionsRun<T>> {
  const server = await startMemoryServer(mode, heartbeatMs);
  const first = ClientDriver.start();
  const second = ClientDriver.start();
  const half = Math.ceil(size / 2);
  const connectIdle = async (driver: ClientDriver, n: number) => {
    const connected = await driver.connect();
    // On a loaded machine some handshakes time out (ws: "Opening handshake has timed out", HTTP 408):
    // the figures are per session that really connected, and the shortfall is reported.
    if (connected < n * 0.5) throw new Error(`${mode}: only ${connected} of ${n} sessions connected`);
    if (connected !== n) log(`${mode}: ${connected} of ${n} sessions connected; figures are per connected session`);
    // By default past the first heartbeat of every session (jittered within one interval) and its ACK.
    await sleep(settleMs);
    return connected;
  };
  try {
    await warmUp(server);
    await first.setup(server, half, Math.min(half, o.users), o.connectRate);
    await second.setup(server, size - half, Math.min(size - half, o.users), o.connectRate);
    // As idle as the readings with sessions: V8's memory reducer gives back heap pages and
    // shrinks the young generation some seconds after allocation stops (the world's building here).
    await sleep(settleMs);
    const zero = await read(server, 'zero');
    const c1 = await connectIdle(first, half);
    const halfReading = await read(server, 'half');
    const c2 = await connectIdle(second, size - half);
    const full = await read(server, 'full');
    return { connected: [c1, c2], zero, half: halfReading, full };
  } finally {
    await Promise.all([first.close(), second.close()]);
    await stop(server.child);
  }
}

interface MemoryRun {
  mode: MemoryMode;
  size: number;
  connected: [number, number];
  readings: { zero: MemoryReading; half: MemoryReading; full: MemoryReading };
  /** 0 to N sessions, over N. */
  all: MemoryPerSession;
  /** N/2 to N sessions, over the second half. */
  second: MemoryPerSession;
}

interface SnapshotRun {
  size: number;
  connected: number;
  heapPerSession: number;
  top: KindDelta[];
}

const SNAPSHOT_HEARTBEAT_MS = 600_000;

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const kib = (b: number) => (b / 1024).toFixed(2);

async function main(): Promise<void> {
  const memory: MemoryRun[] = [];
  const snapshots: SnapshotRun[] = [];
  const startedAt = new Date();
  log(`server from ${o.serverRoot} (${o.label}), sizes ${o.sizes.join(',')}, ${o.reps} rep(s), heartbeat ${o.heartbeatMs} ms`);
  for (const size of o.sizes) {
    for (let rep = 0; rep < o.reps; rep++) {
      // Modes in a rotated order per repetition: none always first.
      for (const mode of o.modes.map((_, i) => o.modes[(i + rep) % o.modes.length]!)) {
        const r = await withSessions(mode, size, (s) => settledMemory(s.child));
        const run: MemoryRun = {
          mode,
          size,
          connected: r.connected,
          readings: { zero: r.zero, half: r.half, full: r.full },
          all: perSession(r.zero, r.full, r.connected[0] + r.connected[1]),
          second: perSession(r.half, r.full, r.connected[1]),
        };
        memory.push(run);
        log(
          `${size} sessions, ${mode}, rep ${rep + 1}: RSS ${kib(run.all.rss)} KiB (less young gen ${kib(run.all.rssLessYoung)}), heap ${kib(run.all.heapUsed)} KiB, external ${kib(run.all.external)} KiB per session (0 to N); second half RSS ${kib(run.second.rss)}, heap ${kib(run.second.heapUsed)}`,
        );
      }
    }
    if (o.snapshots && o.modes.includes('off')) {
      const dir = o.keepSnapshots !== undefined ? join(o.keepSnapshots, String(size)) : join(tmpdir(), `guildhall-session-memory-${process.pid}-${size}`);
      await mkdir(dir, { recursive: true });
      try {
        const zero = join(dir, 'zero.heapsnapshot');
        const full = join(dir, 'full.heapsnapshot');
        const r = await withSessions(
          'off',
          size,
          async (s, at) => {
            if (at !== 'zero') await askServer(s.child, { cmd: 'snapshot', path: at === 'half' ? zero : full }, 'snapshot', 300_000);
          },
          // Writing a snapshot blocks the server for seconds: with a short heartbeat interval the
          // first half's deadlines pass meanwhile and they are closed (4009) before their
          // heartbeats are read. A long interval keeps them; the heap holds the same objects.
          SNAPSHOT_HEARTBEAT_MS,
          3_000,
        );
        const connected = r.connected[1];
        const { rows, totalBytes } = diffPerSession(summariseHeapSnapshot(zero), summariseHeapSnapshot(full), connected);
        snapshots.push({ size, connected, heapPerSession: totalBytes, top: rows.slice(0, o.top) });
        log(`${size} sessions: heap snapshot delta ${kib(totalBytes)} KiB per session`);
      } finally {
        if (o.keepSnapshots === undefined) await rm(dir, { recursive: true, force: true });
      }
    }
  }

  const lines = [
    `## Idle session memory: ${o.label} (${startedAt.toISOString()}, Node ${process.versions.node})`,
    '',
    `Per idle session, KiB, medians of the repetitions (min-max when more than one). Readings after two GCs, the least-RSS of three a second apart; baseline at 0 sessions after a warm-up (20 sessions connected and closed) and after the clients built their worlds, every reading after the same idle time (a heartbeat interval and 1.5 s); ${o.semiSpaceMb === 0 ? "V8's default young generation" : `young generation pinned at ${o.semiSpaceMb} MiB per semi-space`}. "0-N": (reading at N - at 0) / N; "N/2-N": over the second half. "young gen": resident pages of V8's new space (sized by the allocation rate, not by what is live); "outside": RSS not in V8's heap pages nor in ArrayBuffers (malloc'd native objects and fragmentation, stacks, code).`,
    '',
  ];
  const spread = (xs: number[]) => (xs.length > 1 ? ` (${kib(Math.min(...xs))}..${kib(Math.max(...xs))})` : '');
  const cell = (runs: MemoryRun[], f: (r: MemoryRun) => number) => `${kib(median(runs.map(f)))}${spread(runs.map(f))}`;
  if (memory.length > 0)
    lines.push(
      '| sessions | mode | connected (min) | RSS 0-N | RSS less young gen 0-N | heap used 0-N | external 0-N | young gen 0-N | V8 old gen pages 0-N | outside 0-N | of which main arena 0-N | RSS N/2-N | heap used N/2-N | reps |',
      '|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    );
  for (const size of o.sizes) {
    for (const mode of o.modes) {
      const runs = memory.filter((r) => r.size === size && r.mode === mode);
      if (runs.length === 0) continue;
      const connected = Math.min(...runs.map((r) => r.connected[0] + r.connected[1]));
      lines.push(
        `| ${size} | ${mode} | ${connected} | ${cell(runs, (r) => r.all.rss)} | ${cell(runs, (r) => r.all.rssLessYoung)} | ${cell(runs, (r) => r.all.heapUsed)} | ${cell(runs, (r) => r.all.external)} | ${cell(runs, (r) => r.all.newSpacePhysical)} | ${cell(runs, (r) => r.all.heapOldPhysical)} | ${cell(runs, (r) => r.all.rssOutsideHeap)} | ${cell(runs, (r) => r.all.rssMainArena)} | ${cell(runs, (r) => r.second.rss)} | ${cell(runs, (r) => r.second.heapUsed)} | ${runs.length} |`,
      );
    }
  }
  for (const snap of snapshots) {
    lines.push('', `Heap snapshot, N/2 to ${snap.size} sessions (${snap.connected} connected in the second half), per session: ${kib(snap.heapPerSession)} KiB (self sizes, all kinds)`, '');
    lines.push('| kind (constructor / closure / V8 internal) | count per session | bytes per session |', '|---|---:|---:|');
    for (const r of snap.top) lines.push(`| ${r.kind.replaceAll('|', '\\|')} | ${r.count.toFixed(2)} | ${r.bytes.toFixed(0)} |`);
  }
  const md = `${lines.join('\n')}\n`;
  process.stdout.write(md);
  await mkdir(o.out, { recursive: true });
  const stamp = startedAt.toISOString().replaceAll(':', '-').replace(/\..+/, '');
  const base = join(o.out, `${stamp}-${o.label.replace(/[^\w.-]+/g, '_')}`);
  await writeFile(`${base}.json`, JSON.stringify({ label: o.label, serverRoot: o.serverRoot, semiSpaceMb: o.semiSpaceMb, node: process.versions.node, startedAt, memory, snapshots }, null, 1));
  await writeFile(`${base}.md`, md);
  log(`results in ${base}.{json,md}`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`${String((err as Error)?.stack ?? err)}\n`);
    process.exit(1);
  },
);
