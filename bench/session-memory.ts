// Memory per idle session (issue 15): one Guildhall server (tracing off,
// sqlite::memory:) in a child run with --expose-gc and a probe
// (bench/session-memory-probe.ts) that answers "collect and report
// process.memoryUsage()" and "write a heap snapshot"; its sessions are real
// gateway clients in another process (client-sim through bench/client-driver.ts:
// IDENTIFY -> READY -> GUILD_CREATE, then heartbeating). Per size:
//   1. memory run: N/2 sessions connected and idle past one heartbeat, collect +
//      read; N/2 more connected and idle past a heartbeat, collect + read;
//      (after - before) / (N/2) for RSS and heap: the cost of the second half.
//   2. snapshot run (a fresh server, so the snapshot writer's own memory does not
//      blur the readings of run 1): a heap snapshot at N/2 and at N sessions,
//      diffed by kind of object (bench/heap-snapshot-summary.ts), per session.
//
//   npm run bench:session-memory
//   flags: --sizes 1000,5000 --reps 1 --users 100 --connect-rate 250 --heartbeat-ms 10000 --semi-space-mb 0
//          --server-root DIR (run the server of another checkout: a before/after in one sitting)
//          --label NAME --no-snapshots --keep-snapshots DIR --semi-space-mb 16 --top 20 --out bench/results/session-memory
import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { ClientDriver, guildhallServerEnv, freePort, stop } from './children.js';
import { parseFlags } from './flags.js';
import { type KindDelta, diffPerSession, summariseHeapSnapshot } from './heap-snapshot-summary.js';
import type { MemoryReading, ProbeRequest } from './session-memory-probe.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const PROBE = join(ROOT, 'bench/session-memory-probe.ts');

const optionsSchema = z.object({
  sizes: z
    .string()
    .regex(/^\d+(,\d+)*$/, '--sizes must be a comma-separated list of session counts, e.g. 1000,5000')
    .transform((s) => s.split(',').map(Number))
    .pipe(z.array(z.number().int().min(1).max(20_000, '--sizes: at most 20,000 sessions'))),
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
    `bench:session-memory: ${message}\nusage: npm run bench:session-memory -- [--sizes 1000,5000] [--reps N] [--users N] [--connect-rate N] [--heartbeat-ms N] [--server-root DIR] [--label NAME] [--no-snapshots] [--keep-snapshots DIR] [--semi-space-mb N] [--top N] [--out DIR]\n`,
  );
  process.exit(2);
}

const o = parseFlags(
  process.argv.slice(2),
  {
    sizes: { type: 'string', default: '1000,5000' },
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

interface ProbedServer {
  url: string;
  pid: number;
  child: ChildProcess;
  ask<T>(request: ProbeRequest, ev: string, timeoutMs: number): Promise<T>;
}

/** server/main.ts of `root`, as `npm run bench`'s `off` mode runs it, plus the probe. */
async function startProbedServer(heartbeatMs: number): Promise<ProbedServer> {
  const port = await freePort();
  const env = guildhallServerEnv(port, { GUILDHALL_HEARTBEAT_INTERVAL_MS: String(heartbeatMs), OTEL_SDK_DISABLED: 'true' });
  // --semi-space-mb N pins V8's young generation at N MiB (it grows under allocation and shrinks
  // when idle); off by default: the server runs as it is deployed.
  const semiSpace = o.semiSpaceMb === 0 ? [] : [`--min-semi-space-size=${o.semiSpaceMb}`, `--max-semi-space-size=${o.semiSpaceMb}`];
  const child = spawn(process.execPath, ['--expose-gc', ...semiSpace, '--import', 'tsx', '--import', PROBE, 'server/main.ts'], {
    cwd: o.serverRoot,
    env,
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode} before it was ready`);
    if (Date.now() > deadline) throw new Error('server not healthy within 60 s');
    const ok = await fetch(`${url}/healthz`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) break;
    await sleep(100);
  }
  const ask = <T>(request: ProbeRequest, ev: string, timeoutMs: number) =>
    new Promise<T>((resolveAnswer, reject) => {
      const timer = setTimeout(() => done(new Error(`probe ${request.cmd}: no answer in ${timeoutMs} ms`)), timeoutMs);
      const onMessage = (m: { ev?: string; error?: string }) => {
        if (m.ev === 'error') done(new Error(`probe ${request.cmd}: ${m.error}`));
        else if (m.ev === ev) done(undefined, m as T);
      };
      function done(err?: Error, value?: T) {
        clearTimeout(timer);
        child.off('message', onMessage);
        if (err) reject(err);
        else resolveAnswer(value as T);
      }
      child.on('message', onMessage);
      child.send(request);
    });
  return { url, pid: child.pid!, child, ask };
}

/**
 * Three collected readings a second apart, the least of each figure: V8 gives
 * pages back to the OS some time after a collection, so a single reading of
 * RSS right after building the world (or connecting) can include memory
 * already freed, and the delta would then say more about that than about sessions.
 */
async function measure(server: ProbedServer): Promise<MemoryReading> {
  const readings: MemoryReading[] = [];
  for (let i = 0; i < 3; i++) {
    if (i > 0) await sleep(1_000);
    readings.push((await server.ask<{ reading: MemoryReading }>({ cmd: 'measure' }, 'measured', 60_000)).reading);
  }
  const least = (k: keyof MemoryReading) => Math.min(...readings.map((r) => r[k]));
  return { rss: least('rss'), heapUsed: least('heapUsed'), heapTotal: least('heapTotal'), external: least('external'), arrayBuffers: least('arrayBuffers') };
}

/**
 * A fresh server; two client processes, each with its own world and half of
 * the `size` sessions. The first half connects and idles past a heartbeat
 * before `atZero` runs: the baseline is a server already serving sessions, so
 * what the process grows into or gives back after start-up (and after building
 * a world) is in it, not in the delta. Then the second half connects and idles
 * past a heartbeat, and `idle` runs with its count: per session is the second
 * half's cost.
 */
async function withSessions<T>(
  size: number,
  atZero: (s: ProbedServer) => Promise<void>,
  idle: (s: ProbedServer, connected: number) => Promise<T>,
  heartbeatMs = o.heartbeatMs,
  settleMs = o.heartbeatMs + 1_500,
): Promise<T> {
  const server = await startProbedServer(heartbeatMs);
  const target = { mode: 'off' as const, url: server.url, pid: server.pid, child: server.child };
  const first = ClientDriver.start();
  const second = ClientDriver.start();
  const half = Math.ceil(size / 2);
  const connectIdle = async (driver: ClientDriver, n: number) => {
    const connected = await driver.connect();
    // On a loaded machine some handshakes time out (ws: "Opening handshake has timed out", HTTP 408):
    // the figures are per session that really connected, and the shortfall is reported.
    if (connected < n * 0.5) throw new Error(`only ${connected} of ${n} sessions connected`);
    if (connected !== n) log(`${connected} of ${n} sessions connected; figures are per connected session`);
    // By default past the first heartbeat of every session (jittered within one interval) and its ACK.
    await sleep(settleMs);
    return connected;
  };
  try {
    await first.setup(target, half, Math.min(half, o.users), o.connectRate);
    await second.setup(target, size - half, Math.min(size - half, o.users), o.connectRate);
    await connectIdle(first, half);
    await atZero(server);
    return await idle(server, await connectIdle(second, size - half));
  } finally {
    await Promise.all([first.close(), second.close()]);
    await stop(server.child);
  }
}

interface MemoryRun {
  size: number;
  connected: number;
  before: MemoryReading;
  after: MemoryReading;
  rssPerSession: number;
  heapPerSession: number;
  externalPerSession: number;
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
      let before: MemoryReading | undefined;
      const run = await withSessions(
        size,
        async (s) => {
          before = await measure(s);
        },
        async (s, n) => {
          const after = await measure(s);
          return {
            size,
            connected: n,
            before: before!,
            after,
            rssPerSession: (after.rss - before!.rss) / n,
            heapPerSession: (after.heapUsed - before!.heapUsed) / n,
            externalPerSession: (after.external - before!.external) / n,
          };
        },
      );
      memory.push(run);
      log(`${size} sessions, rep ${rep + 1}: RSS ${kib(run.rssPerSession)} KiB, heap ${kib(run.heapPerSession)} KiB, external ${kib(run.externalPerSession)} KiB per session`);
    }
    if (o.snapshots) {
      const dir = o.keepSnapshots !== undefined ? join(o.keepSnapshots, String(size)) : join(tmpdir(), `guildhall-session-memory-${process.pid}-${size}`);
      await mkdir(dir, { recursive: true });
      try {
        const zero = join(dir, 'zero.heapsnapshot');
        const full = join(dir, 'full.heapsnapshot');
        const connected = await withSessions(
          size,
          async (s) => void (await s.ask({ cmd: 'snapshot', path: zero }, 'snapshot', 300_000)),
          async (s, n) => {
            await s.ask({ cmd: 'snapshot', path: full }, 'snapshot', 300_000);
            return n;
          },
          // Writing a snapshot blocks the server for seconds: with a short heartbeat interval the
          // first half's deadlines pass meanwhile and they are closed (4009) before their
          // heartbeats are read. A long interval keeps them; the heap holds the same objects.
          SNAPSHOT_HEARTBEAT_MS,
          3_000,
        );
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
    'Per session of the second half: readings at N/2 and at N idle sessions, difference over N/2.',
    '',
  ];
  if (memory.length > 0) lines.push('| sessions | connected (min) | RSS per session (KiB) | heap per session (KiB) | external per session (KiB) | reps |', '|---:|---:|---:|---:|---:|---:|');
  for (const size of o.sizes) {
    const runs = memory.filter((r) => r.size === size);
    if (runs.length === 0) continue;
    const connected = Math.min(...runs.map((r) => r.connected));
    lines.push(
      `| ${size} | ${connected} | ${kib(median(runs.map((r) => r.rssPerSession)))} | ${kib(median(runs.map((r) => r.heapPerSession)))} | ${kib(median(runs.map((r) => r.externalPerSession)))} | ${runs.length} |`,
    );
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
  await writeFile(`${base}.json`, JSON.stringify({ label: o.label, serverRoot: o.serverRoot, node: process.versions.node, startedAt, memory, snapshots }, null, 1));
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
