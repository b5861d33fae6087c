// A cluster's upkeep at rest: --nodes local nodes (client-sim's LocalCluster,
// on the local NATS and PostgreSQL, a database and a cluster name of their
// own, dropped after), --sessions sessions of one guild connected and warmed
// by a few posts, then --seconds with no traffic. Per node over that window:
// CPU ms per second (/proc/<pid>/stat), read and write system calls per
// second (/proc/<pid>/io: counted), the main thread's voluntary context
// switches per second (its event loop going idle: wake-ups, counted) and the
// other threads'. With --strace DIR each node's system calls over the window
// are counted by `strace -c -f` into DIR/node<i>.strace (strace slows what it
// traces: its window's CPU is not the figure, the counts are). With
// --cpu-prof DIR each node writes a V8 CPU profile there when it exits; the
// window is printed for bench/profile-window.ts. --also-pid PID charges one
// more process over the same window (the NATS server, whose work at rest
// the nodes' requests are).
//   node --import tsx bench/cluster-idle.ts [--nodes 3] [--sessions 3000] [--users 100] [--connect-rate 250] [--seconds 20] [--strace DIR] [--cpu-prof DIR] [--also-pid PID]
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { clusterEnvSchema } from '../client-sim/cli.js';
import { LocalCluster, dropDatabase } from '../client-sim/local-cluster.js';
import { ClientDriver } from './children.js';
import { readCounters } from './cluster-counters.js';
import { parseFlags } from './flags.js';

const schema = z.object({
  nodes: z.coerce.number().int().min(1).max(8),
  sessions: z.coerce.number().int().min(0).max(20_000),
  users: z.coerce.number().int().min(1).max(20_000),
  connectRate: z.coerce.number().positive().max(100_000),
  seconds: z.coerce.number().min(1).max(600),
  strace: z.string().min(1).optional(),
  cpuProf: z.string().min(1).optional(),
  /** Another process to charge over the same window (the NATS server, say). */
  alsoPid: z.coerce.number().int().positive().optional(),
});

function fail(message: string): never {
  process.stderr.write(`cluster-idle: ${message}\nusage: node --import tsx bench/cluster-idle.ts [--nodes 3] [--sessions 3000] [--users 100] [--connect-rate 250] [--seconds 20] [--strace DIR]\n`);
  process.exit(2);
}

const o = parseFlags(
  process.argv.slice(2),
  {
    nodes: { type: 'string', default: '3' },
    sessions: { type: 'string', default: '3000' },
    users: { type: 'string', default: '100' },
    'connect-rate': { type: 'string', default: '250' },
    seconds: { type: 'string', default: '20' },
    strace: { type: 'string' },
    'cpu-prof': { type: 'string' },
    'also-pid': { type: 'string' },
  },
  schema,
  fail,
  (v) => ({ ...v, connectRate: v['connect-rate'], cpuProf: v['cpu-prof'], alsoPid: v['also-pid'] }),
);
const env = clusterEnvSchema.safeParse({ GUILDHALL_NATS_URL: process.env.GUILDHALL_NATS_URL || undefined, DATABASE_URL: process.env.DATABASE_URL || undefined });
if (!env.success) fail(env.error.issues.map((i) => i.message).join('; '));

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const db = new URL(env.data.DATABASE_URL);
db.pathname = `/guildhall_idle_${o.nodes}n_${randomBytes(4).toString('hex')}`;
const cluster = await LocalCluster.start({
  nodes: o.nodes,
  natsUrl: env.data.GUILDHALL_NATS_URL,
  databaseUrl: db.toString(),
  cluster: `idle-${o.nodes}n-${randomBytes(4).toString('hex')}`,
  env: {
    LOG_LEVEL: 'warn',
    OTEL_SDK_DISABLED: 'true',
    GUILDHALL_SEED: 'false',
    GUILDHALL_MAX_CONCURRENCY: '1000000',
    GUILDHALL_ROUTE_RATE_LIMITS: 'off',
    // --cpu-prof is refused in NODE_OPTIONS; the hook does the same from inside.
    ...(o.cpuProf === undefined ? {} : { NODE_OPTIONS: `--import=${fileURLToPath(new URL('./cpu-prof-hook.mjs', import.meta.url))}`, GUILDHALL_CPU_PROF_DIR: resolve(o.cpuProf), GUILDHALL_CPU_PROF_TAG: `idle-${o.nodes}n` }),
  },
  readyTimeoutMs: 180_000,
  output: (i, line) => process.stderr.write(`[node${i + 1}] ${line}\n`),
});
const driver = ClientDriver.start();
const tracers: ChildProcess[] = [];
try {
  const pids = Array.from({ length: cluster.size }, (_, i) => cluster.pid(i)!);
  let connected = 0;
  if (o.sessions > 0) {
    await driver.setup({ mode: 'off', url: cluster.urls.join(','), pid: pids[0]!, child: driver.child }, o.sessions, Math.min(o.sessions, o.users), o.connectRate);
    connected = await driver.connect();
    await driver.burst(5, 5, false, 30_000); // the guild placed, its sessions warm
  }
  await sleep(3_000);
  if (o.strace !== undefined) {
    mkdirSync(o.strace, { recursive: true });
    for (const [i, pid] of pids.entries()) tracers.push(spawn('strace', ['-c', '-f', '-o', join(resolve(o.strace), `node${i + 1}.strace`), '-p', String(pid)], { stdio: 'ignore' }));
    await sleep(1_000);
  }
  const also0 = o.alsoPid === undefined ? undefined : readCounters([o.alsoPid]);
  const c0 = readCounters(pids);
  const fromUs = Number(process.hrtime.bigint() / 1000n);
  const t0 = performance.now();
  await sleep(o.seconds * 1000);
  const s = (performance.now() - t0) / 1000;
  const c1 = readCounters(pids);
  const also1 = o.alsoPid === undefined ? undefined : readCounters([o.alsoPid]);
  const toUs = Number(process.hrtime.bigint() / 1000n);
  for (const t of tracers) {
    const done = new Promise((r) => t.once('exit', r));
    t.kill('SIGINT');
    await done;
  }
  const perS = (a: number, b: number) => (a - b) / s;
  const rows = pids.map((pid, i) => ({
    node: i + 1,
    pid,
    cpuMsPerS: +(perS(c1.cpu[i]!, c0.cpu[i]!) / 1000).toFixed(2),
    sysMsPerS: +(perS(c1.sys[i]!, c0.sys[i]!) / 1000).toFixed(2),
    mainThreadMsPerS: +(perS(c1.main[i]!, c0.main[i]!) / 1000).toFixed(2),
    mainMigrationsPerS: +perS(c1.migrations[i]!, c0.migrations[i]!).toFixed(1),
    readsPerS: +perS(c1.reads[i]!, c0.reads[i]!).toFixed(1),
    writesPerS: +perS(c1.writes[i]!, c0.writes[i]!).toFixed(1),
    mainWakeupsPerS: +perS(c1.switches[i]![0], c0.switches[i]![0]).toFixed(1),
    otherThreadSwitchesPerS: +perS(c1.switches[i]![2] + c1.switches[i]![3], c0.switches[i]![2] + c0.switches[i]![3]).toFixed(1),
  }));
  const total = (k: 'cpuMsPerS' | 'readsPerS' | 'writesPerS' | 'mainWakeupsPerS' | 'otherThreadSwitchesPerS') => +rows.reduce((a, r) => a + r[k], 0).toFixed(2);
  process.stdout.write(
    `${JSON.stringify({ nodes: o.nodes, sessions: connected, seconds: +s.toFixed(2), strace: o.strace !== undefined, window: `--from ${fromUs} --to ${toUs}`, rows, total: { cpuMsPerS: total('cpuMsPerS'), readsPerS: total('readsPerS'), writesPerS: total('writesPerS'), mainWakeupsPerS: total('mainWakeupsPerS'), otherThreadSwitchesPerS: total('otherThreadSwitchesPerS') }, ...(also0 && also1 ? { also: { pid: o.alsoPid, cpuMsPerS: +(perS(also1.cpu[0]!, also0.cpu[0]!) / 1000).toFixed(2), readsPerS: +perS(also1.reads[0]!, also0.reads[0]!).toFixed(1), writesPerS: +perS(also1.writes[0]!, also0.writes[0]!).toFixed(1) } } : {}) }, null, 1)}\n`,
  );
} finally {
  for (const t of tracers) if (t.exitCode === null) t.kill('SIGINT');
  await driver.close();
  await cluster.stop();
  await dropDatabase(db.toString()).catch(() => undefined);
}
