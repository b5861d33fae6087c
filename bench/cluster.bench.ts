// The cluster case of the server benchmark: one guild of --sessions sessions
// (3,000) spread round-robin over 1, 2 and 3 local nodes (client-sim's
// LocalCluster, on the local NATS and PostgreSQL, a database and a cluster
// name of their own per case), bursts of broadcasts posted round-robin over
// the nodes. Per burst: CPU µs per delivery summed over every node's process
// (/proc/<pid>/stat), deliveries per second, NATS messages per broadcast
// (guildhall_cluster_nats_messages_total{direction="sent"} summed over the
// nodes' /metrics) and their bytes (guildhall_cluster_nats_bytes_total), lost. The cases run side by side: every cluster is up
// and connected first, then the repetitions rotate over them. The figure that
// matters on a two-core machine is the ratio of CPU per delivery, 3 nodes
// against 1 (target <= 1.2), not a speed-up.
//
//   npm run bench -- --cluster [--quick] [--nodes 1,2,3] [--sessions 3000] [--users 100] [--reps N] [--messages N] [--out DIR]
//   (also npm run bench:cluster -- ...)
import { randomBytes } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { z } from 'zod';
import { clusterEnvSchema } from '../client-sim/cli.js';
import { LocalCluster, dropDatabase } from '../client-sim/local-cluster.js';
import { ClientDriver, type ServerUnderTest } from './children.js';
import { parseFlags } from './flags.js';
import { cpuMicros, rssBytes } from './proc.js';
import { spread } from './summary.js';

const schema = z.object({
  quick: z.boolean(),
  nodes: z
    .string()
    .regex(/^\d+(,\d+)*$/, '--nodes must be a comma-separated list of node counts, e.g. 1,2,3')
    .transform((s) => [...new Set(s.split(',').map(Number))])
    .pipe(z.array(z.number().int().min(1, '--nodes: at least 1').max(8, '--nodes: at most 8 on one machine'))),
  sessions: z.coerce.number().int().min(1).max(20_000),
  users: z.coerce.number().int().min(1).max(20_000),
  reps: z.coerce.number().int().min(1).max(50).optional(),
  messages: z.coerce.number().int().min(1).max(100_000).optional(),
  connectRate: z.coerce.number().positive().max(100_000),
  /** Posts awaiting their answer at once during a burst (client-sim's default 16). */
  inFlight: z.coerce.number().int().min(1).max(1024),
  out: z.string().min(1),
  /** A directory for each node's V8 CPU profile (node --cpu-prof, written when the node exits); the samples then carry each burst's window. */
  cpuProf: z.string().min(1).optional(),
});

const USAGE = 'usage: npm run bench -- --cluster [--quick] [--nodes 1,2,3] [--sessions 3000] [--users 100] [--reps N] [--messages N] [--connect-rate N] [--in-flight 16] [--out DIR] [--cpu-prof DIR]';

function fail(message: string): never {
  process.stderr.write(`bench --cluster: ${message}\n${USAGE}\n`);
  process.exit(2);
}

const T0 = Date.now();
const log = (text: string) => process.stderr.write(`[bench:cluster ${((Date.now() - T0) / 1000).toFixed(1).padStart(6)}s] ${text}\n`);

/** What the nodes run with: the `off` mode of the server benchmark (no tracing), cluster mode on. */
const NODE_ENV: Record<string, string> = {
  LOG_LEVEL: 'warn',
  OTEL_SDK_DISABLED: 'true',
  GUILDHALL_SEED: 'false',
  GUILDHALL_MAX_CONCURRENCY: '1000000',
  GUILDHALL_ROUTE_RATE_LIMITS: 'off',
};

interface Case {
  nodes: number;
  cluster: LocalCluster;
  driver: ClientDriver;
  databaseUrl: string;
  connected: number;
  /** CPU of the nodes at rest (heartbeats, membership scans, lease renewals), µs per second summed over the nodes. */
  idleUsPerS: number;
  /** The at-rest window on CLOCK_MONOTONIC in µs (to cut a --cpu-prof profile by). */
  idleStartUs: number;
  idleEndUs: number;
  pids: number[];
  rssPerSessionBytes: number;
}

export interface ClusterSample {
  nodes: number;
  rep: number;
  cpuUsPerDelivery: number;
  /** Each node's share of the CPU of the burst, µs per delivery. */
  cpuUsPerDeliveryByNode: number[];
  /** Write syscalls (write, writev, sendmsg: /proc/<pid>/io syscw) per delivery, summed over the nodes: how well sessions coalesce their socket writes. Counted, not timed. */
  writesPerDelivery: number;
  writesPerDeliveryByNode: number[];
  /** Store writes per commit over the burst (guildhall_store_commit_batch_size): how many posts, and so broadcasts, one commit carries. Counted. */
  writesPerCommit: number;
  /** Read syscalls (/proc/<pid>/io syscr) per delivery, summed over the nodes: counted. */
  readsPerDelivery: number;
  /** Context switches (voluntary + not, every thread) per delivery, summed over the nodes: how often the nodes slept and woke. Counted. */
  switchesPerDelivery: number;
  /** The same per delivery, split: [main thread voluntary (its loop went idle), main involuntary (preempted), other threads voluntary, other involuntary]. */
  switchesByKind: Switches;
  /** The nodes' pids and the burst's window on CLOCK_MONOTONIC in µs (the clock of --cpu-prof's timestamps). */
  pids: number[];
  startUs: number;
  endUs: number;
  deliveriesPerS: number;
  /** NATS messages the nodes sent per broadcast; null when the nodes expose no such counter. */
  natsMessagesPerBroadcast: number | null;
  /** Bytes of those messages (frame bodies) per broadcast; null likewise. */
  natsBytesPerBroadcast: number | null;
  p50: number;
  p99: number;
  sent: number;
  expected: number;
  delivered: number;
  lost: number;
  duplicated: number;
}

/** Sums over nodes of the store's commits and the writes they held (guildhall_store_commit_batch_size_{count,sum}). */
async function commitsOf(urls: readonly string[]): Promise<{ commits: number; writes: number }> {
  const total = { commits: 0, writes: 0 };
  for (const url of urls) {
    const text = await (await fetch(`${url}/metrics`)).text();
    total.commits += Number(/^guildhall_store_commit_batch_size_count\s+([0-9.e+]+)/m.exec(text)?.[1] ?? 0);
    total.writes += Number(/^guildhall_store_commit_batch_size_sum\s+([0-9.e+]+)/m.exec(text)?.[1] ?? 0);
  }
  return total;
}

/** Sums over nodes of guildhall_cluster_nats_{messages,bytes}_total{direction="sent"}; undefined when no node has them. */
async function natsSent(urls: readonly string[]): Promise<{ messages: number; bytes: number } | undefined> {
  let total: { messages: number; bytes: number } | undefined;
  for (const url of urls) {
    const text = await (await fetch(`${url}/metrics`)).text();
    for (const m of text.matchAll(/^guildhall_cluster_nats_(messages|bytes)_total\{[^}]*direction="sent"[^}]*\}\s+([0-9.e+]+)/gm)) {
      total ??= { messages: 0, bytes: 0 };
      if (m[1] === 'messages') total.messages += Number(m[2]);
      else total.bytes += Number(m[2]);
    }
  }
  return total;
}

function cpuOf(c: Case): number[] {
  return Array.from({ length: c.cluster.size }, (_, i) => {
    const pid = c.cluster.pid(i);
    if (pid === undefined) throw new Error(`${c.nodes}-node case: node ${i + 1} is not running`);
    return cpuMicros(pid);
  });
}

/** Write syscalls of each node so far (/proc/<pid>/io syscw). */
function writesOf(c: Case): number[] {
  return Array.from({ length: c.cluster.size }, (_, i) => {
    const io = readFileSync(`/proc/${c.cluster.pid(i)}/io`, 'utf8');
    return Number(/^syscw:\s+(\d+)/m.exec(io)?.[1] ?? NaN);
  });
}

/** Read syscalls of each node so far (/proc/<pid>/io syscr). */
function readsOf(c: Case): number[] {
  return Array.from({ length: c.cluster.size }, (_, i) => {
    const io = readFileSync(`/proc/${c.cluster.pid(i)}/io`, 'utf8');
    return Number(/^syscr:\s+(\d+)/m.exec(io)?.[1] ?? NaN);
  });
}

/** Context switches of a node's threads so far: [main voluntary, main involuntary, other threads voluntary, other involuntary]. */
type Switches = [number, number, number, number];

/** Context switches of each node so far (/proc/<pid>/task/<tid>/status): the main thread's voluntary ones are its event loop going idle. */
function switchesOf(c: Case): Switches[] {
  return Array.from({ length: c.cluster.size }, (_, i) => {
    const pid = c.cluster.pid(i)!;
    const n: Switches = [0, 0, 0, 0];
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      try {
        const status = readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8');
        const at = Number(tid) === pid ? 0 : 2;
        n[at] = n[at]! + Number(/^voluntary_ctxt_switches:\s+(\d+)/m.exec(status)?.[1] ?? 0);
        n[at + 1] = n[at + 1]! + Number(/^nonvoluntary_ctxt_switches:\s+(\d+)/m.exec(status)?.[1] ?? 0);
      } catch {
        // The thread ended between the listing and the read.
      }
    }
    return n;
  });
}

const monotonicUs = () => Number(process.hrtime.bigint() / 1000n);

/** Starts a case and adds it to `cases` as soon as its nodes run (so that an interruption stops them). */
async function startCase(nodes: number, o: z.infer<typeof schema>, env: z.infer<typeof clusterEnvSchema>, cases: Case[]): Promise<Case> {
  const db = new URL(env.DATABASE_URL);
  db.pathname = `/guildhall_bench_${nodes}n_${randomBytes(4).toString('hex')}`;
  const databaseUrl = db.toString();
  const cluster = await LocalCluster.start({
    nodes,
    natsUrl: env.GUILDHALL_NATS_URL,
    databaseUrl,
    cluster: `bench-${nodes}n-${randomBytes(4).toString('hex')}`,
    env: o.cpuProf === undefined ? NODE_ENV : {
            ...NODE_ENV,
            // --cpu-prof is refused in NODE_OPTIONS; the hook does the same from inside.
            NODE_OPTIONS: `--import=${fileURLToPath(new URL('./cpu-prof-hook.mjs', import.meta.url))}`,
            GUILDHALL_CPU_PROF_DIR: resolve(o.cpuProf),
            GUILDHALL_CPU_PROF_TAG: `${nodes}n`,
          },
    // Several clusters start at once on a small machine: a node may take a while.
    readyTimeoutMs: 180_000,
    output: (i, line) => log(`[${nodes}n node${i + 1}] ${line}`),
  }).catch(async (err: unknown) => {
    await dropDatabase(databaseUrl).catch(() => undefined);
    throw err;
  });
  const c: Case = { nodes, cluster, driver: ClientDriver.start(), databaseUrl, connected: 0, rssPerSessionBytes: NaN, idleUsPerS: NaN, idleStartUs: NaN, idleEndUs: NaN, pids: Array.from({ length: cluster.size }, (_, i) => cluster.pid(i) ?? 0) };
  cases.push(c);
  try {
    // The driver speaks to "a server" by URL; a cluster is the comma-separated list of its nodes
    // (client-sim spreads sessions and REST calls over them). Only mode and url are read.
    const target: ServerUnderTest = { mode: 'off', url: cluster.urls.join(','), pid: cluster.pid(0)!, child: c.driver.child };
    await c.driver.setup(target, o.sessions, Math.min(o.sessions, o.users), o.connectRate);
  } catch (err) {
    cases.splice(cases.indexOf(c), 1);
    await stopCase(c);
    throw err;
  }
  return c;
}

async function stopCase(c: Case): Promise<void> {
  await c.driver.close().catch(() => undefined);
  await c.cluster.stop().catch(() => undefined);
  await dropDatabase(c.databaseUrl).catch(() => undefined);
}

export async function runClusterBench(argv: string[]): Promise<void> {
  const o = parseFlags(
    argv,
    {
      quick: { type: 'boolean', default: false },
      nodes: { type: 'string', default: '1,2,3' },
      sessions: { type: 'string', default: '3000' },
      users: { type: 'string', default: '100' },
      reps: { type: 'string' },
      messages: { type: 'string' },
      'connect-rate': { type: 'string', default: '800' },
      'in-flight': { type: 'string', default: '16' },
      out: { type: 'string', default: 'bench/results' },
      'cpu-prof': { type: 'string' },
    },
    schema,
    fail,
    (v) => ({ ...v, connectRate: v['connect-rate'], cpuProf: v['cpu-prof'], inFlight: v['in-flight'] }),
  );
  const envParsed = clusterEnvSchema.safeParse({ GUILDHALL_NATS_URL: process.env.GUILDHALL_NATS_URL || undefined, DATABASE_URL: process.env.DATABASE_URL || undefined });
  if (!envParsed.success) fail(envParsed.error.issues.map((i) => i.message).join('; '));
  const reps = o.reps ?? (o.quick ? 3 : 5);
  const messages = o.messages ?? Math.max(5, Math.round((o.quick ? 60_000 : 300_000) / o.sessions));
  const startedAt = new Date();
  const cases: Case[] = [];
  const samples: ClusterSample[] = [];
  // Ctrl-C stops the nodes and drops the databases rather than leaving them behind.
  const interrupted = (signal: string) => {
    log(`${signal}: stopping the nodes`);
    void Promise.all(cases.map(stopCase)).finally(() => process.exit(130));
  };
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
  try {
    for (const n of o.nodes) {
      const c = await startCase(n, o, envParsed.data, cases);
      log(`${n} node(s) up: ${c.cluster.urls.join(', ')}`);
    }
    // Connect one case at a time, so each cluster's memory and the client's pace are its own.
    for (const c of cases) {
      const rssBefore = c.cluster.urls.map((_, i) => rssBytes(c.cluster.pid(i)!)).reduce((a, b) => a + b, 0);
      const t = Date.now();
      c.connected = await c.driver.connect();
      await new Promise((r) => setTimeout(r, 500));
      const rssAfter = c.cluster.urls.map((_, i) => rssBytes(c.cluster.pid(i)!)).reduce((a, b) => a + b, 0);
      c.rssPerSessionBytes = (rssAfter - rssBefore) / Math.max(1, c.connected);
      if (c.connected < o.sessions) log(`WARNING: ${c.nodes} node(s): only ${c.connected} of ${o.sessions} sessions connected`);
      await c.driver.burst(Math.max(3, Math.round(messages / 3)), 5_000); // warm-up: JIT, buffers, guild placement
      // At rest, sessions connected: what the cluster's own upkeep costs, paid during a burst too.
      const idle0 = cpuOf(c);
      const idleT = performance.now();
      c.idleStartUs = monotonicUs();
      await new Promise((r) => setTimeout(r, 5_000));
      c.idleEndUs = monotonicUs();
      const idle1 = cpuOf(c);
      c.idleUsPerS = idle1.reduce((a, v, i) => a + v - idle0[i]!, 0) / ((performance.now() - idleT) / 1000);
      log(`${c.nodes} node(s) at rest: ${Math.round(c.idleUsPerS)} µs CPU per second over the nodes`);
      log(`${c.nodes} node(s): ${c.connected} sessions connected in ${((Date.now() - t) / 1000).toFixed(1)} s, ${(c.rssPerSessionBytes / 1024).toFixed(1)} KiB/session over the nodes`);
    }
    for (let rep = 1; rep <= reps; rep++) {
      const order = cases.map((_, i) => cases[(i + rep - 1) % cases.length]!);
      for (const c of order) {
        const nats0 = await natsSent(c.cluster.urls);
        const commits0 = await commitsOf(c.cluster.urls);
        const cpu0 = cpuOf(c);
        const w0 = writesOf(c);
        const rd0 = readsOf(c);
        const sw0 = switchesOf(c);
        const startUs = monotonicUs();
        const r = await c.driver.burst(messages, 5_000, false, 60_000, o.inFlight);
        const endUs = monotonicUs();
        const cpu1 = cpuOf(c);
        const w1 = writesOf(c);
        const rd1 = readsOf(c);
        const sw1 = switchesOf(c);
        const sum = (a: number[], b: number[]) => a.reduce((t, v, i) => t + v - b[i]!, 0);
        const nats1 = await natsSent(c.cluster.urls);
        const commits1 = await commitsOf(c.cluster.urls);
        const delivered = Math.max(1, r.delivered);
        const byNode = cpu1.map((v, i) => (v - cpu0[i]!) / delivered);
        const writesByNode = w1.map((v, i) => (v - w0[i]!) / delivered);
        const s: ClusterSample = {
          nodes: c.nodes,
          rep,
          cpuUsPerDelivery: byNode.reduce((a, b) => a + b, 0),
          cpuUsPerDeliveryByNode: byNode.map((v) => +v.toFixed(3)),
          writesPerDelivery: +writesByNode.reduce((a, b) => a + b, 0).toFixed(4),
          writesPerDeliveryByNode: writesByNode.map((v) => +v.toFixed(4)),
          writesPerCommit: +((commits1.writes - commits0.writes) / Math.max(1, commits1.commits - commits0.commits)).toFixed(2),
          readsPerDelivery: +(sum(rd1, rd0) / delivered).toFixed(4),
          switchesPerDelivery: +(sw1.reduce((t, n, i) => t + n.reduce((a, v, k) => a + v - sw0[i]![k]!, 0), 0) / delivered).toFixed(4),
          switchesByKind: [0, 1, 2, 3].map((k) => +(sw1.reduce((t, n, i) => t + n[k]! - sw0[i]![k]!, 0) / delivered).toFixed(4)) as Switches,
          pids: Array.from({ length: c.cluster.size }, (_, i) => c.cluster.pid(i)!),
          startUs,
          endUs,
          deliveriesPerS: r.deliveriesPerS,
          // The scrape itself crosses no NATS; heartbeats and lease renewals are not actor frames.
          natsMessagesPerBroadcast: nats0 === undefined || nats1 === undefined ? null : (nats1.messages - nats0.messages) / Math.max(1, r.sent),
          natsBytesPerBroadcast: nats0 === undefined || nats1 === undefined ? null : Math.round((nats1.bytes - nats0.bytes) / Math.max(1, r.sent)),
          p50: r.fanout.p50,
          p99: r.fanout.p99,
          sent: r.sent,
          expected: r.expected,
          delivered: r.delivered,
          lost: r.lost,
          duplicated: r.duplicated,
        };
        samples.push(s);
        log(
          `rep ${rep} ${c.nodes} node(s): ${s.cpuUsPerDelivery.toFixed(2)} µs/delivery (${s.cpuUsPerDeliveryByNode.join(' + ')}), ${s.writesPerDelivery} writes/delivery (${s.writesPerDeliveryByNode.join(' + ')}), ${s.writesPerCommit} posts/commit, ${s.readsPerDelivery} reads, ${s.switchesPerDelivery} switches/delivery (${s.switchesByKind.join(' / ')}), ${Math.round(s.deliveriesPerS)} deliveries/s, NATS ${s.natsMessagesPerBroadcast?.toFixed(2) ?? 'n/a'} msgs and ${s.natsBytesPerBroadcast ?? 'n/a'} bytes/broadcast, p99 ${s.p99} ms, lost ${s.lost}`,
        );
      }
    }
  } finally {
    process.off('SIGINT', interrupted);
    process.off('SIGTERM', interrupted);
    for (const c of cases) await stopCase(c);
  }

  const summary = o.nodes.map((n) => {
    const xs = samples.filter((s) => s.nodes === n);
    const nats = xs.map((s) => s.natsMessagesPerBroadcast).filter((v): v is number => v !== null);
    const natsBytes = xs.map((s) => s.natsBytesPerBroadcast).filter((v): v is number => v !== null);
    return {
      nodes: n,
      cpuUsPerDelivery: spread(xs.map((s) => s.cpuUsPerDelivery)),
      writesPerDelivery: spread(xs.map((s) => s.writesPerDelivery)),
      readsPerDelivery: spread(xs.map((s) => s.readsPerDelivery)),
      writesPerCommit: spread(xs.map((s) => s.writesPerCommit)),
      switchesPerDelivery: spread(xs.map((s) => s.switchesPerDelivery)),
      deliveriesPerS: spread(xs.map((s) => s.deliveriesPerS)),
      natsMessagesPerBroadcast: nats.length ? spread(nats) : null,
      natsBytesPerBroadcast: natsBytes.length ? spread(natsBytes) : null,
      p99: spread(xs.map((s) => s.p99)),
      lost: xs.reduce((a, s) => a + s.lost, 0),
      duplicated: xs.reduce((a, s) => a + s.duplicated, 0),
      connected: cases.find((c) => c.nodes === n)?.connected ?? 0,
      rssPerSessionKiB: +((cases.find((c) => c.nodes === n)?.rssPerSessionBytes ?? NaN) / 1024).toFixed(1),
      idleUsPerS: Math.round(cases.find((c) => c.nodes === n)?.idleUsPerS ?? NaN),
    };
  });
  // Paired per repetition (the cases ran interleaved), then the median of the pairs.
  const one = o.nodes.includes(1) ? 1 : o.nodes[0]!;
  const ratios: Record<string, { median: number; min: number; max: number }> = {};
  for (const n of o.nodes.filter((n) => n !== one)) {
    const pairs: number[] = [];
    for (let rep = 1; rep <= reps; rep++) {
      const a = samples.find((s) => s.nodes === n && s.rep === rep);
      const b = samples.find((s) => s.nodes === one && s.rep === rep);
      if (a && b) pairs.push(a.cpuUsPerDelivery / b.cpuUsPerDelivery);
    }
    const sp = spread(pairs);
    ratios[`${n}n/${one}n`] = { median: +sp.median.toFixed(3), min: +sp.min.toFixed(3), max: +sp.max.toFixed(3) };
  }
  const machine = `${cpus().length} × ${cpus()[0]?.model.trim() ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}`;
  const f = (x: number, d = 2) => (Number.isFinite(x) ? x.toFixed(d) : 'n/a');
  const lines = [
    `### npm run bench -- --cluster (${startedAt.toISOString()}${o.quick ? ', quick' : ''})`,
    '',
    `${machine}; one guild, ${o.sessions} sessions over ${Math.min(o.sessions, o.users)} users, spread round-robin over the nodes; ${messages} broadcasts per burst (${o.inFlight} posts in flight), ${reps} repetitions interleaved; medians (min-max).`,
    '',
    '| nodes | CPU µs/delivery (all nodes) | write syscalls/delivery | posts/commit | read syscalls/delivery | context switches/delivery | at rest µs CPU/s | deliveries/s | NATS msgs/broadcast | NATS bytes/broadcast | fanout p99 ms | lost | duplicated | KiB/session |',
    '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...summary.map(
      (s) =>
        `| ${s.nodes} | ${f(s.cpuUsPerDelivery.median)} (${f(s.cpuUsPerDelivery.min)}-${f(s.cpuUsPerDelivery.max)}) | ${f(s.writesPerDelivery.median, 3)} | ${f(s.writesPerCommit.median, 2)} | ${f(s.readsPerDelivery.median, 3)} | ${f(s.switchesPerDelivery.median, 3)} | ${f(s.idleUsPerS, 0)} | ${f(s.deliveriesPerS.median, 0)} | ${s.natsMessagesPerBroadcast ? f(s.natsMessagesPerBroadcast.median) : 'n/a'} | ${s.natsBytesPerBroadcast ? f(s.natsBytesPerBroadcast.median, 0) : 'n/a'} | ${f(s.p99.median, 0)} | ${s.lost} | ${s.duplicated} | ${f(s.rssPerSessionKiB, 1)} |`,
    ),
    '',
    ...Object.entries(ratios).map(([k, r]) => `CPU per delivery ${k}: ${f(r.median, 3)} (${f(r.min, 3)}-${f(r.max, 3)})${k.startsWith('3n/') ? ` (target <= 1.2: ${r.median <= 1.2 ? 'met' : 'NOT met'})` : ''}`),
    '',
  ];
  const md = lines.join('\n');
  const rest = cases.map((c) => ({ nodes: c.nodes, pids: c.pids, startUs: c.idleStartUs, endUs: c.idleEndUs }));
  const doc = { startedAt: startedAt.toISOString(), quick: o.quick, inFlight: o.inFlight, machine, sessions: o.sessions, users: Math.min(o.sessions, o.users), messages, reps, nodes: o.nodes, samples, rest, summary, ratios, lost: samples.reduce((a, s) => a + s.lost, 0) };
  await mkdir(o.out, { recursive: true });
  const stamp = startedAt.toISOString().replace(/[:.]/g, '-');
  const json = `${JSON.stringify(doc, null, 2)}\n`;
  await writeFile(join(o.out, `cluster-${stamp}.json`), json);
  await writeFile(join(o.out, `cluster-${stamp}.md`), md);
  await writeFile(join(o.out, 'cluster-latest.json'), json);
  await writeFile(join(o.out, 'cluster-latest.md'), md);
  process.stdout.write(`${md}\nwritten: ${join(o.out, `cluster-${stamp}.json`)} (and cluster-latest.*) in ${((Date.now() - T0) / 1000).toFixed(0)} s\n`);
  if (doc.lost > 0) {
    process.stderr.write(`bench --cluster: ${doc.lost} deliveries lost\n`);
    process.exitCode = 1;
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  runClusterBench(process.argv.slice(2)).catch((err: unknown) => {
    process.stderr.write(`bench --cluster: ${(err as Error)?.stack ?? String(err)}\n`);
    process.exit(1);
  });
}
