// Instructions per delivery on each node of a small local cluster, counted by
// valgrind's callgrind (a measure that does not move with the machine's load),
// to compare what a node that receives a broadcast over NATS pays per delivery
// with what the guild's home node and a single node pay, at the same sessions
// per node. Every node runs the compiled server (dist/server/main.js, `npm run
// build` first) under `valgrind --tool=callgrind --instr-atstart=no
// --separate-threads=yes`, on the local NATS and a fresh PostgreSQL database
// (dropped after). One client driver connects `--sessions` sessions per node
// (round-robin over the nodes, as `npm run bench -- --cluster` does) and posts
// round-robin over the nodes too. After a warm-up, counting is switched on for
// a paced run of `--posts` posts at `--rate` a second (slow enough that each
// broadcast is handled before the next: one write per delivery), then for
// `--rest-seconds` with no traffic. Per node: the main thread's instructions
// (the JS, the event loop and the socket writes' user-space side), all threads',
// write/read syscalls and context switches over the window (/proc), and whether
// it is the guild's home (guildhall_cluster_guilds_owned).
//
// Instructions per delivery include the per-post work (REST, commit, NATS);
// run two `--sessions` sizes to split it off: per delivery = ΔI / Δdeliveries.
// With `--perf-map` each node writes /tmp/perf-<pid>.map, and
// bench/callgrind-jit.ts names the JIT code in its dump (per-function diff).
//
//   npm run build && node --import tsx bench/cluster-counted.ts [--nodes 2] [--sessions 300] [--posts 40] [--rate 2] [--warmup 60] [--rest-seconds 10] [--perf-map] [--out DIR]
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { clusterEnvSchema } from '../client-sim/cli.js';
import { LOCAL_TOKEN_SECRET, dropDatabase, ensureDatabase } from '../client-sim/local-cluster.js';
import { ClientDriver, freePort, stop, waitHealthy } from './children.js';
import { type NodeCounters, readCounters } from './cluster-counters.js';
import { parseFlags } from './flags.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const MAIN = join(ROOT, 'dist/server/main.js');

const o = parseFlags(
  process.argv.slice(2),
  {
    nodes: { type: 'string', default: '2' },
    sessions: { type: 'string', default: '300' },
    posts: { type: 'string', default: '40' },
    rate: { type: 'string', default: '2' },
    warmup: { type: 'string', default: '60' },
    'rest-seconds': { type: 'string', default: '10' },
    'perf-map': { type: 'boolean', default: false },
    out: { type: 'string' },
  },
  z.object({
    nodes: z.coerce.number().int().min(1).max(4),
    /** Per node. */
    sessions: z.coerce.number().int().min(1).max(3_000),
    posts: z.coerce.number().int().min(2).max(2_000),
    rate: z.coerce.number().positive().max(100),
    warmup: z.coerce.number().int().min(0).max(10_000),
    restSeconds: z.coerce.number().min(0).max(600),
    perfMap: z.boolean(),
    out: z.string().min(1).optional(),
  }),
  (message) => {
    process.stderr.write(`cluster-counted: ${message}\nusage: node --import tsx bench/cluster-counted.ts [--nodes 2] [--sessions 300] [--posts 40] [--rate 2] [--warmup 60] [--rest-seconds 10] [--perf-map] [--out DIR]\n`);
    process.exit(2);
  },
  (v) => ({ ...v, restSeconds: v['rest-seconds'], perfMap: v['perf-map'] }),
);
const env = clusterEnvSchema.safeParse({ GUILDHALL_NATS_URL: process.env.GUILDHALL_NATS_URL || undefined, DATABASE_URL: process.env.DATABASE_URL || undefined });
if (!env.success) throw new Error(env.error.issues.map((i) => i.message).join('; '));
if (!existsSync(MAIN)) throw new Error(`${MAIN} missing: npm run build first`);

const OUT = resolve(o.out ?? join(tmpdir(), `guildhall-cluster-counted-${randomBytes(3).toString('hex')}`));
mkdirSync(OUT, { recursive: true });
const VALGRIND = ['--tool=callgrind', '--instr-atstart=no', '--smc-check=all-non-file', '--separate-threads=yes'];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// valgrind names its control pipes after $HOST, which a Guildhall server is given too (its listen address).
const control = (pid: number, ...args: string[]) => execFileSync('callgrind_control', [...args, String(pid)], { stdio: 'ignore', env: { ...process.env, HOST: '127.0.0.1' } });

interface Node {
  index: number;
  url: string;
  child: ChildProcess;
  pid: number;
}

async function startNode(index: number, databaseUrl: string, cluster: string): Promise<Node> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const nodeEnv: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    HOST: '127.0.0.1',
    PORT: String(port),
    PUBLIC_URL: url,
    DATABASE_URL: databaseUrl,
    GUILDHALL_NATS_URL: env.data!.GUILDHALL_NATS_URL,
    GUILDHALL_CLUSTER: cluster,
    GUILDHALL_TOKEN_SECRET: LOCAL_TOKEN_SECRET,
    GUILDHALL_DEV_ACCOUNTS: 'true',
    GUILDHALL_SEED: 'false',
    LOG_LEVEL: 'warn',
    OTEL_SDK_DISABLED: 'true',
    GUILDHALL_MAX_CONCURRENCY: '1000000',
    GUILDHALL_ROUTE_RATE_LIMITS: 'off',
    // The defaults, as the benchmark runs them (their timers are part of what is counted at rest); set
    // longer ones if a node slowed by valgrind is taken for dead.
    ...(process.env.GUILDHALL_NODE_TTL_MS ? { GUILDHALL_NODE_TTL_MS: process.env.GUILDHALL_NODE_TTL_MS } : {}),
    ...(process.env.GUILDHALL_LEASE_TTL_MS ? { GUILDHALL_LEASE_TTL_MS: process.env.GUILDHALL_LEASE_TTL_MS } : {}),
  };
  const perf = o.perfMap ? ['--perf-basic-prof'] : [];
  const child = spawn('valgrind', [...VALGRIND, `--callgrind-out-file=${join(OUT, `node${index + 1}.%p`)}`, process.execPath, ...perf, MAIN], { cwd: ROOT, env: nodeEnv, stdio: ['ignore', 'ignore', 'inherit'] });
  await waitHealthy(url, child, 900_000);
  // Ready: joined the cluster (membership), so guilds may be placed here.
  for (const deadline = Date.now() + 900_000; Date.now() < deadline; await sleep(200)) if ((await fetch(`${url}/readyz`).catch(() => undefined))?.ok) break;
  return { index, url, child, pid: child.pid! };
}

/** A node's instructions per thread in one dump (`part`: 1 the paced window, 2 the rest window). */
function dumpTotals(node: Node, part: number): { main: number; all: number; files: string[] } {
  const prefix = `node${node.index + 1}.${node.pid}.${part}`;
  const files = readdirSync(OUT).filter((f) => f.startsWith(prefix));
  let main = 0;
  let all = 0;
  for (const f of files) {
    const m = /^totals:\s+(\d+)/m.exec(readFileSync(join(OUT, f), 'utf8'));
    const n = m ? Number(m[1]) : 0;
    all += n;
    if (/-01$/.test(f)) main = n;
  }
  return { main, all, files: files.map((f) => join(OUT, f)) };
}

/** Guild leases node `index` holds (the guild's home holds one); its /metrics kept in OUT. */
async function guildsOwned(url: string, index: number): Promise<number> {
  const text = await (await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(600_000) })).text().catch(() => '');
  writeFileSync(join(OUT, `node${index + 1}.metrics`), text);
  return Number(/^guildhall_cluster_guilds_owned(?:\{[^}]*\})?\s+(\d+)/m.exec(text)?.[1] ?? NaN);
}

function delta(a: NodeCounters, b: NodeCounters, i: number) {
  return {
    writes: b.writes[i]! - a.writes[i]!,
    reads: b.reads[i]! - a.reads[i]!,
    mainVoluntary: b.switches[i]![0] - a.switches[i]![0],
    mainInvoluntary: b.switches[i]![1] - a.switches[i]![1],
  };
}

async function main(): Promise<void> {
  const db = new URL(env.data!.DATABASE_URL);
  db.pathname = `/guildhall_counted_${o.nodes}n_${randomBytes(4).toString('hex')}`;
  await ensureDatabase(db.toString());
  const cluster = `counted-${o.nodes}n-${randomBytes(4).toString('hex')}`;
  const nodes: Node[] = [];
  let driver: ClientDriver | undefined;
  try {
    // One after the other: the database's schema is made by the first.
    for (let i = 0; i < o.nodes; i++) nodes.push(await startNode(i, db.toString(), cluster));
    process.stderr.write(`cluster-counted: ${o.nodes} node(s) up under callgrind (${OUT})\n`);
    driver = ClientDriver.start();
    const total = o.sessions * o.nodes;
    await driver.setup({ mode: 'off', url: nodes.map((n) => n.url).join(','), pid: nodes[0]!.pid, child: driver.child }, total, Math.min(total, 100), 25);
    const connected = await driver.connect();
    if (connected < total) throw new Error(`${connected} of ${total} sessions connected`);
    process.stderr.write(`cluster-counted: ${connected} sessions connected; warm-up\n`);
    // Warm-up: a burst, then a paced run at the counted pace (the paced path's own feedback).
    if (o.warmup > 0) await driver.burst(o.warmup, 5_000, false, 900_000);
    await driver.burst(Math.max(5, Math.ceil(o.posts / 4)), o.rate, false, 900_000);
    // Read before the counted windows: a scrape under valgrind is slow, and it is not what is counted.
    const homes = await Promise.all(nodes.map((n) => guildsOwned(n.url, n.index).catch(() => NaN)));
    const pids = nodes.map((n) => n.pid);
    for (const n of nodes) control(n.pid, '--zero');
    for (const n of nodes) control(n.pid, '-i', 'on');
    const c0 = readCounters(pids);
    const run = await driver.burst(o.posts, o.rate, false, 900_000);
    if (run.sent === 0) throw new Error(`no post of ${o.posts} went through (${run.failed} failed)`);
    const c1 = readCounters(pids);
    for (const n of nodes) control(n.pid, '-i', 'off');
    for (const n of nodes) control(n.pid, '--dump');
    let c2: NodeCounters | undefined;
    let c3: NodeCounters | undefined;
    let restS = 0;
    if (o.restSeconds > 0) {
      await sleep(2_000);
      for (const n of nodes) control(n.pid, '--zero');
      for (const n of nodes) control(n.pid, '-i', 'on');
      c2 = readCounters(pids);
      const t0 = performance.now();
      await sleep(o.restSeconds * 1000);
      restS = (performance.now() - t0) / 1000;
      c3 = readCounters(pids);
      for (const n of nodes) control(n.pid, '-i', 'off');
      for (const n of nodes) control(n.pid, '--dump');
    }
    await sleep(1_000);
    const rows = nodes.map((n, i) => {
      // Sessions i % nodes: node i holds sessions i, i + nodes, ...
      const sessionsHere = Math.floor((total - i + o.nodes - 1) / o.nodes);
      const deliveries = run.sent * sessionsHere;
      const paced = dumpTotals(n, 1);
      const rest = o.restSeconds > 0 ? dumpTotals(n, 2) : undefined;
      const d = delta(c0, c1, i);
      const r = c2 && c3 ? delta(c2, c3, i) : undefined;
      return {
        node: i + 1,
        pid: n.pid,
        home: homes[i]! > 0,
        sessions: sessionsHere,
        deliveries,
        mainInstructions: paced.main,
        allInstructions: paced.all,
        mainPerDelivery: Math.round(paced.main / deliveries),
        allPerDelivery: Math.round(paced.all / deliveries),
        writesPerDelivery: +(d.writes / deliveries).toFixed(4),
        readsPerDelivery: +(d.reads / deliveries).toFixed(4),
        mainSwitchesPerDelivery: +((d.mainVoluntary + d.mainInvoluntary) / deliveries).toFixed(4),
        ...(rest && r ? { rest: { seconds: +restS.toFixed(2), mainPerS: Math.round(rest.main / restS), allPerS: Math.round(rest.all / restS), writesPerS: +(r.writes / restS).toFixed(1), readsPerS: +(r.reads / restS).toFixed(1), mainWakeupsPerS: +(r.mainVoluntary / restS).toFixed(1) } } : {}),
        dumps: paced.files.filter((f) => f.endsWith('-01')),
      };
    });
    process.stdout.write(`${JSON.stringify({ nodes: o.nodes, sessionsPerNode: o.sessions, posts: run.sent, failedPosts: run.failed, rate: o.rate, delivered: run.delivered, lost: run.lost, perfMap: o.perfMap, out: OUT, rows }, null, 1)}\n`);
  } finally {
    await driver?.close();
    await Promise.all(nodes.map((n) => stop(n.child, 120_000)));
    await dropDatabase(db.toString()).catch(() => undefined);
  }
}

main().then(
  () => process.exit(),
  (err: unknown) => {
    process.stderr.write(`${String((err as Error)?.stack ?? err)}\n`);
    process.exit(1);
  },
);
