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
// Two loads per repetition and case: `closed` (a closed loop, --in-flight
// posts awaiting their answer at once: how much a cluster does as fast as it
// can, so its commits batch as many posts as its round trips allow) and
// `paced` (--paced-posts posts a second offered whatever the answers, the
// same rate for every node count: the same work, so CPU per delivery compares
// like with like; 0 turns it off). Posts go round-robin over the nodes in both.
//
//   npm run bench -- --cluster [--quick] [--nodes 1,2,3] [--sessions 3000] [--users 100] [--reps N] [--messages N] [--in-flight N | N1,N3] [--paced-posts N] [--paced-seconds S] [--out DIR]
//   (also npm run bench:cluster -- ...; --in-flight as a list is one bound per node count, in --nodes
//   order, to run the closed loop at equal posts per commit)
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { z } from 'zod';
import { clusterEnvSchema } from '../client-sim/cli.js';
import { LocalCluster, dropDatabase } from '../client-sim/local-cluster.js';
import { ClientDriver, type ServerUnderTest } from './children.js';
import { parseFlags } from './flags.js';
import { type Switches, cpuOfPids, readCounters, sumDelta, switchDelta } from './cluster-counters.js';
import { rssBytes } from './proc.js';
import { clusterReport } from './cluster-report.js';

const schema = z
  .object({
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
    /** Posts awaiting their answer at once during a closed-loop burst (client-sim's default 16): one value for every node count, or one per node count in --nodes order. */
    inFlight: z
      .string()
      .regex(/^\d+(,\d+)*$/, '--in-flight must be a number or a comma-separated list of one per node count, e.g. 16,32')
      .transform((s) => s.split(',').map(Number))
      .pipe(z.array(z.number().int().min(1, '--in-flight: at least 1').max(1024, '--in-flight: at most 1024'))),
    /** The paced load: posts offered per second, the same for every node count (0: closed loop only). */
    pacedPosts: z.coerce.number().min(0).max(10_000),
    /** How long each paced run posts, seconds. */
    pacedSeconds: z.coerce.number().min(1).max(600),
    out: z.string().min(1),
    /** A directory for each node's V8 CPU profile (node --cpu-prof, written when the node exits); the samples then carry each burst's window. */
    cpuProf: z.string().min(1).optional(),
  })
  .superRefine((o, ctx) => {
    // Zod runs this even when a flag failed its own check and is still the raw string: that issue is reported already.
    if (!Array.isArray(o.nodes) || !Array.isArray(o.inFlight)) return;
    if (o.inFlight.length !== 1 && o.inFlight.length !== o.nodes.length) {
      ctx.addIssue({ code: 'custom', path: ['inFlight'], message: `--in-flight: one value, or one per node count (${o.nodes.length} for --nodes ${o.nodes.join(',')}); got ${o.inFlight.length}` });
    }
  })
  // From here on inFlight[i] is the closed loop's bound for nodes[i], so that each node count can run at the same posts per commit.
  .transform((o) => ({ ...o, inFlight: o.nodes.map((_, i) => o.inFlight[o.inFlight.length === 1 ? 0 : i]!) }));

export type ClusterFlags = z.infer<typeof schema>;

const USAGE = 'usage: npm run bench -- --cluster [--quick] [--nodes 1,2,3] [--sessions 3000] [--users 100] [--reps N] [--messages N] [--connect-rate N] [--in-flight 16 | --in-flight 16,32 (one per node count)] [--paced-posts 10] [--paced-seconds 10] [--out DIR] [--cpu-prof DIR]';

/**
 * The paced load's default rate: 10 posts a second is 30,000 deliveries a second to 3,000
 * sessions, under half of what 3 nodes answer in the closed loop on the two-core machine
 * (bench/README.md), so every node count keeps up and the runs compare the same work.
 */
const DEFAULT_PACED_POSTS = 10;

const CLUSTER_FLAGS = {
  quick: { type: 'boolean', default: false },
  nodes: { type: 'string', default: '1,2,3' },
  sessions: { type: 'string', default: '3000' },
  users: { type: 'string', default: '100' },
  reps: { type: 'string' },
  messages: { type: 'string' },
  'connect-rate': { type: 'string', default: '800' },
  'in-flight': { type: 'string', default: '16' },
  'paced-posts': { type: 'string', default: String(DEFAULT_PACED_POSTS) },
  'paced-seconds': { type: 'string', default: '10' },
  out: { type: 'string', default: 'bench/results' },
  'cpu-prof': { type: 'string' },
} as const;

/** The benchmark's flags, validated; any error goes to `onError`. */
export function parseClusterFlags(argv: string[], onError: (message: string) => never): ClusterFlags {
  return parseFlags(argv, CLUSTER_FLAGS, schema, onError, (v) => ({
    ...v,
    connectRate: v['connect-rate'],
    cpuProf: v['cpu-prof'],
    inFlight: v['in-flight'],
    pacedPosts: v['paced-posts'],
    pacedSeconds: v['paced-seconds'],
  }));
}

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
  /** The closed loop's posts in flight for this node count (--in-flight). */
  inFlight: number;
  connected: number;
  /** CPU of the nodes at rest (heartbeats, membership scans, lease renewals), µs per second summed over the nodes. */
  idleUsPerS: number;
  /** The at-rest window on CLOCK_MONOTONIC in µs (to cut a --cpu-prof profile by). */
  idleStartUs: number;
  idleEndUs: number;
  pids: number[];
  rssPerSessionBytes: number;
}

/** `closed`: --in-flight posts awaiting their answer at once, as fast as the cluster answers; `paced`: a fixed offered rate of posts, the same for every node count. */
export type LoadKind = 'closed' | 'paced';

/** In-flight bound of the paced load: high enough that the pacing, not the answers, sets when a post leaves. */
const PACED_MAX_IN_FLIGHT = 256;

export interface ClusterSample {
  nodes: number;
  kind: LoadKind;
  rep: number;
  /** The run's bound on posts awaiting their answer (closed: --in-flight for its node count); absent in results from before it was recorded. */
  inFlight?: number;
  cpuUsPerDelivery: number;
  /** Each node's share of the CPU of the burst, µs per delivery. */
  cpuUsPerDeliveryByNode: number[];
  /** Of cpuUsPerDeliveryByNode, the kernel's share (stime: system calls, loopback TCP, wake-ups), µs per delivery. */
  sysUsPerDeliveryByNode?: number[];
  /** Of cpuUsPerDeliveryByNode, the main thread's (utime + stime; the rest is GC and compiler threads), µs per delivery. */
  mainUsPerDeliveryByNode?: number[];
  /** Each node's main thread: moves to another CPU per 1,000 deliveries (counted). */
  migrationsPer1kDeliveriesByNode?: number[];
  /** Each node's main thread: µs per delivery spent runnable, waiting for a CPU another process held. */
  runDelayUsPerDeliveryByNode?: number[];
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
  /** Posts per second answered over the run (sent / wall time). */
  postsPerS: number;
  /** The nodes' upkeep at rest (the case's at-rest CPU per second) times the run's wall time, per delivery: the share of CPU per delivery that is not delivery work. */
  restUsPerDelivery: number;
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

/** "16 posts in flight", or "posts in flight: 16 on 1 node(s), 32 on 3 node(s)" when the node counts ran with bounds of their own. */
const inFlightText = (o: ClusterFlags): string =>
  new Set(o.inFlight).size === 1 ? `${o.inFlight[0]} posts in flight` : `posts in flight: ${o.nodes.map((n, i) => `${o.inFlight[i]} on ${n} node(s)`).join(', ')}`;

const pidsOf = (c: Case): number[] =>
  Array.from({ length: c.cluster.size }, (_, i) => {
    const pid = c.cluster.pid(i);
    if (pid === undefined) throw new Error(`${c.nodes}-node case: node ${i + 1} is not running`);
    return pid;
  });

const monotonicUs = () => Number(process.hrtime.bigint() / 1000n);

/** Starts a case and adds it to `cases` as soon as its nodes run (so that an interruption stops them). */
async function startCase(nodes: number, o: ClusterFlags, env: z.infer<typeof clusterEnvSchema>, cases: Case[]): Promise<Case> {
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
  const c: Case = { nodes, cluster, driver: ClientDriver.start(), databaseUrl, inFlight: o.inFlight[o.nodes.indexOf(nodes)]!, connected: 0, rssPerSessionBytes: NaN, idleUsPerS: NaN, idleStartUs: NaN, idleEndUs: NaN, pids: Array.from({ length: cluster.size }, (_, i) => cluster.pid(i) ?? 0) };
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

/** One run of `kind` on case `c`: the nodes' counters read right before and right after it. */
async function measure(c: Case, kind: LoadKind, rep: number, o: ClusterFlags, messages: number): Promise<ClusterSample> {
  const pids = pidsOf(c);
  const nats0 = await natsSent(c.cluster.urls);
  const commits0 = await commitsOf(c.cluster.urls);
  const k0 = readCounters(pids);
  const startUs = monotonicUs();
  const inFlight = kind === 'closed' ? c.inFlight : PACED_MAX_IN_FLIGHT;
  const r =
    kind === 'closed'
      ? await c.driver.burst(messages, 5_000, false, 60_000, inFlight)
      : await c.driver.burst(Math.max(2, Math.round(o.pacedPosts * o.pacedSeconds)), o.pacedPosts, false, Math.ceil(o.pacedSeconds * 1000) + 60_000, inFlight);
  const endUs = monotonicUs();
  const k1 = readCounters(pids);
  const nats1 = await natsSent(c.cluster.urls);
  const commits1 = await commitsOf(c.cluster.urls);
  const delivered = Math.max(1, r.delivered);
  const byNode = k1.cpu.map((v, i) => (v - k0.cpu[i]!) / delivered);
  const writesByNode = k1.writes.map((v, i) => (v - k0.writes[i]!) / delivered);
  const switches = switchDelta(k1.switches, k0.switches);
  return {
    nodes: c.nodes,
    kind,
    rep,
    inFlight,
    cpuUsPerDelivery: byNode.reduce((a, b) => a + b, 0),
    cpuUsPerDeliveryByNode: byNode.map((v) => +v.toFixed(3)),
    sysUsPerDeliveryByNode: k1.sys.map((v, i) => +((v - k0.sys[i]!) / delivered).toFixed(3)),
    mainUsPerDeliveryByNode: k1.main.map((v, i) => +((v - k0.main[i]!) / delivered).toFixed(3)),
    migrationsPer1kDeliveriesByNode: k1.migrations.map((v, i) => +((1000 * (v - k0.migrations[i]!)) / delivered).toFixed(3)),
    runDelayUsPerDeliveryByNode: k1.runDelayUs.map((v, i) => +((v - k0.runDelayUs[i]!) / delivered).toFixed(3)),
    writesPerDelivery: +writesByNode.reduce((a, b) => a + b, 0).toFixed(4),
    writesPerDeliveryByNode: writesByNode.map((v) => +v.toFixed(4)),
    writesPerCommit: +((commits1.writes - commits0.writes) / Math.max(1, commits1.commits - commits0.commits)).toFixed(2),
    readsPerDelivery: +(sumDelta(k1.reads, k0.reads) / delivered).toFixed(4),
    switchesPerDelivery: +(switches.reduce((a, v) => a + v, 0) / delivered).toFixed(4),
    switchesByKind: switches.map((v) => +(v / delivered).toFixed(4)) as Switches,
    pids,
    startUs,
    endUs,
    deliveriesPerS: r.deliveriesPerS,
    postsPerS: r.sent / Math.max(r.wallS, 1e-3),
    restUsPerDelivery: +((c.idleUsPerS * ((endUs - startUs) / 1e6)) / delivered).toFixed(3),
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
}

export async function runClusterBench(argv: string[]): Promise<void> {
  const o = parseClusterFlags(argv, fail);
  const envParsed = clusterEnvSchema.safeParse({ GUILDHALL_NATS_URL: process.env.GUILDHALL_NATS_URL || undefined, DATABASE_URL: process.env.DATABASE_URL || undefined });
  if (!envParsed.success) fail(envParsed.error.issues.map((i) => i.message).join('; '));
  const reps = o.reps ?? (o.quick ? 3 : 5);
  const messages = o.messages ?? Math.max(5, Math.round((o.quick ? 60_000 : 300_000) / o.sessions));
  const kinds: LoadKind[] = o.pacedPosts > 0 ? ['closed', 'paced'] : ['closed'];
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
      const idle0 = cpuOfPids(pidsOf(c));
      const idleT = performance.now();
      c.idleStartUs = monotonicUs();
      await new Promise((r) => setTimeout(r, 5_000));
      c.idleEndUs = monotonicUs();
      c.idleUsPerS = sumDelta(cpuOfPids(pidsOf(c)), idle0) / ((performance.now() - idleT) / 1000);
      log(`${c.nodes} node(s) at rest: ${Math.round(c.idleUsPerS)} µs CPU per second over the nodes`);
      log(`${c.nodes} node(s): ${c.connected} sessions connected in ${((Date.now() - t) / 1000).toFixed(1)} s, ${(c.rssPerSessionBytes / 1024).toFixed(1)} KiB/session over the nodes`);
    }
    for (let rep = 1; rep <= reps; rep++) {
      const order = cases.map((_, i) => cases[(i + rep - 1) % cases.length]!);
      for (const kind of kinds) {
        for (const c of order) {
          const s = await measure(c, kind, rep, o, messages);
          samples.push(s);
          log(
            `rep ${rep} ${kind} ${c.nodes} node(s), ${s.inFlight} in flight: ${s.cpuUsPerDelivery.toFixed(2)} µs/delivery (${s.cpuUsPerDeliveryByNode.join(' + ')}; at-rest share ${s.restUsPerDelivery}), ${s.writesPerDelivery} writes/delivery (${s.writesPerDeliveryByNode.join(' + ')}), ${s.writesPerCommit} posts/commit, ${s.readsPerDelivery} reads, ${s.switchesPerDelivery} switches/delivery (${s.switchesByKind.join(' / ')}), ${s.postsPerS.toFixed(1)} posts/s, ${Math.round(s.deliveriesPerS)} deliveries/s, NATS ${s.natsMessagesPerBroadcast?.toFixed(2) ?? 'n/a'} msgs and ${s.natsBytesPerBroadcast ?? 'n/a'} bytes/broadcast, p50 ${s.p50} p99 ${s.p99} ms, lost ${s.lost}`,
          );
        }
      }
    }
  } finally {
    process.off('SIGINT', interrupted);
    process.off('SIGTERM', interrupted);
    for (const c of cases) await stopCase(c);
  }

  const machine = `${cpus().length} × ${cpus()[0]?.model.trim() ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}`;
  const report = clusterReport({
    samples,
    cases: cases.map((c) => ({ nodes: c.nodes, connected: c.connected, rssPerSessionBytes: c.rssPerSessionBytes, idleUsPerS: c.idleUsPerS })),
    nodes: o.nodes,
    kinds,
    reps,
    pacedPosts: o.pacedPosts,
    heading: `### npm run bench -- --cluster (${startedAt.toISOString()}${o.quick ? ', quick' : ''})`,
    setting: `${machine}; one guild, ${o.sessions} sessions over ${Math.min(o.sessions, o.users)} users, spread round-robin over the nodes; per repetition and case a closed-loop run (${messages} broadcasts, ${inFlightText(o)})${kinds.includes('paced') ? ` and a paced run (${o.pacedPosts} posts/s offered for ${o.pacedSeconds} s, the same rate for every node count)` : ''}, ${reps} repetitions interleaved; medians (min-max).`,
  });
  const md = report.markdown;
  const rest = cases.map((c) => ({ nodes: c.nodes, pids: c.pids, startUs: c.idleStartUs, endUs: c.idleEndUs }));
  const doc = { startedAt: startedAt.toISOString(), quick: o.quick, inFlight: o.inFlight, pacedPosts: o.pacedPosts, pacedSeconds: o.pacedSeconds, machine, sessions: o.sessions, users: Math.min(o.sessions, o.users), messages, reps, nodes: o.nodes, samples, rest, summary: report.summary, ratios: report.ratios, lost: samples.reduce((a, s) => a + s.lost, 0) };
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
