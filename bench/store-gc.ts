// npm run bench:store-gc: what a post leaves in the server's heap, counted.
//
// bench:store's paced phase loses its p99 to full collections (mark-compacts):
// they come when the old generation reaches its limit, and it grows with what
// outlives the young generation's scavenges (promoted) and what is allocated
// old directly. Those are bytes, counted by V8, not timed: this runs
// bench:store's server (SQLite :memory:, tracing off, its environment) with a
// probe preloaded (bench/store-gc-probe.mjs: v8.GCProfiler over each phase,
// each space's size before and after every collection), makes bench:store's
// world (`--guilds` x `--members`, one lean gateway session per member), then
// - connect: the sessions identify (old space at the end of it is reported);
// - closed: `--closed-posts` posts, one poster per guild posting as soon as
//   answered (bench:store's closed loop, bounded by count);
// - paced: `--posts` posts at `--rate` per second (bench:store's posters and pacer).
// Per phase and per post: bytes allocated (all spaces, between collections),
// promoted by scavenges, allocated directly in the old generation, the old
// generation's growth (the two), and the collections (scavenges,
// mark-compacts, their cost); mark-compacts per 100k posts. `--sample` adds
// V8's sampling heap profiler over the paced phase with the objects a
// scavenge freed left out: what outlived the young generation, by the
// function that allocated it (`--sample-all`: every allocation instead, what
// died young too: what a function allocates, to compare); the sizes of the
// objects sampled are listed for the first functions (or, with
// `--sample-sizes TEXT`, those whose label has TEXT), as `size x count` where
// V8 reports each sample scaled: ~4096 + size/2 bytes for a small object.
// `--snapshot PREFIX` writes two heap snapshots of
// the server after the paced phase (after its counts and the sample were
// taken): PREFIX-end.heapsnapshot as soon as the last post is answered, and
// PREFIX-idle.heapsnapshot `--snapshot-idle-ms` later (what a post leaves
// held for a while, then let go, is in the first only; who holds it:
// `bench/heap-snapshot-summary.ts --retainers`); with `--snapshot-at N`, also
// PREFIX-mid.heapsnapshot when the paced phase sends its Nth post, with posts
// in flight (the server stops for it: that run's paced counts are not a result).
//
//   npm run bench:store-gc -- [--guilds 200] [--members 5] [--closed-posts 40000] [--posts 30000] [--rate 2000]
//                             [--sample [--sample-all] [--sample-sizes FUNCTION]] [--top 25] [--snapshot PREFIX] [--snapshot-idle-ms 3000] [--snapshot-at N] [--compiled] [--server-root DIR] [--server-node-args=ARGS] [--server-env K=V,...] [--json FILE]
import { type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { now } from '../client-sim/clock.js';
import { HistogramSet } from '../client-sim/histograms.js';
import { MESSAGE_INTENTS } from '../client-sim/protocol.js';
import { RestClient, gatewayUrls } from '../client-sim/rest.js';
import { startSimTracing } from '../client-sim/tracing.js';
import { buildWorld, planWorld } from '../client-sim/world.js';
import { pacedUntil } from '../client-sim/pacing.js';
import { stop } from './children.js';
import { parseFlags } from './flags.js';
import { NetPoster } from './store-net-poster.js';
import { LeanSessions } from './store-sessions.js';
import { ENGINES, freshDatabase, startGuildhall } from './store-server.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const PROBE = fileURLToPath(new URL('./store-gc-probe.mjs', import.meta.url));
const USAGE =
  'usage: npm run bench:store-gc -- [--guilds N] [--members N] [--closed-posts N] [--posts N] [--rate R] [--sample [--sample-all] [--sample-sizes FUNCTION]] [--top N] [--snapshot PREFIX] [--snapshot-idle-ms MS] [--snapshot-at N] [--compiled] [--server-root DIR] [--server-node-args=ARGS] [--server-env K=V,...] [--json FILE] [--engine memory|file|postgres]';

const flags = parseFlags(
  process.argv.slice(2),
  {
    guilds: { type: 'string', default: '200' },
    members: { type: 'string', default: '5' },
    'closed-posts': { type: 'string', default: '40000' },
    posts: { type: 'string', default: '30000' },
    rate: { type: 'string', default: '2000' },
    sample: { type: 'boolean', default: false },
    'sample-all': { type: 'boolean', default: false },
    'sample-sizes': { type: 'string' },
    compiled: { type: 'boolean', default: false },
    'server-node-args': { type: 'string', default: '' },
    top: { type: 'string', default: '25' },
    snapshot: { type: 'string' },
    'snapshot-idle-ms': { type: 'string', default: '3000' },
    'snapshot-at': { type: 'string' },
    'server-root': { type: 'string' },
    'server-env': { type: 'string', default: '' },
    json: { type: 'string' },
    engine: { type: 'string', default: 'memory' },
  },
  z.object({
    guilds: z.coerce.number().int().min(1).max(2_000),
    members: z.coerce.number().int().min(1).max(50),
    'closed-posts': z.coerce.number().int().min(0),
    posts: z.coerce.number().int().min(1),
    rate: z.coerce.number().gt(0),
    sample: z.boolean(),
    'sample-all': z.boolean(),
    'sample-sizes': z.string().optional(),
    compiled: z.boolean(),
    'server-node-args': z.string().transform((s) => s.split(/\s+/).filter((a) => a !== '')),
    top: z.coerce.number().int().min(1),
    snapshot: z.string().optional(),
    'snapshot-idle-ms': z.coerce.number().int().min(0),
    'snapshot-at': z.coerce.number().int().min(0).optional(),
    'server-root': z.string().optional(),
    'server-env': z.string().transform((s) => Object.fromEntries(s.split(',').filter((x) => x.includes('=')).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]))),
    json: z.string().optional(),
    engine: z.enum(ENGINES),
  }),
  (message) => {
    process.stderr.write(`bench:store-gc: ${message}\n${USAGE}\n`);
    process.exit(2);
  },
);

type Spaces = Record<string, { size: number; used: number }>;
interface SpaceStat {
  spaceName: string;
  spaceUsedSize: number;
}
interface GcEvent {
  gcType: string;
  cost: number;
  beforeGC: { heapSpaceStatistics: SpaceStat[] };
  afterGC: { heapSpaceStatistics: SpaceStat[] };
}

function ask<T>(child: ChildProcess, request: Record<string, unknown>, ev: string, timeoutMs = 120_000): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => done(new Error(`probe ${String(request.cmd)}: no answer`)), timeoutMs);
    const onMessage = (m: { ev?: string; error?: string }) => {
      if (m?.ev === 'error') done(new Error(`probe ${String(request.cmd)}: ${m.error}`));
      else if (m?.ev === ev) done(undefined, m as T);
    };
    function done(err?: Error, value?: T) {
      clearTimeout(timer);
      child.off('message', onMessage);
      if (err) reject(err);
      else resolve(value!);
    }
    child.on('message', onMessage);
    child.send(request);
  });
}

const YOUNG = new Set(['new_space', 'new_large_object_space']);
const oldUsed = (s: SpaceStat[]) => s.reduce((a, x) => a + (YOUNG.has(x.spaceName) || x.spaceName === 'read_only_space' ? 0 : x.spaceUsedSize), 0);
const youngUsed = (s: SpaceStat[]) => s.reduce((a, x) => a + (YOUNG.has(x.spaceName) ? x.spaceUsedSize : 0), 0);
const asStats = (s: Spaces): SpaceStat[] => Object.entries(s).map(([spaceName, v]) => ({ spaceName, spaceUsedSize: v.used }));

interface PhaseGc {
  posts: number;
  scavenges: number;
  markCompacts: number;
  scavengeMs: number;
  markCompactMs: number;
  /** Bytes, over the phase. */
  allocated: number;
  allocatedYoung: number;
  promoted: number;
  allocatedOld: number;
  oldStart: number;
  oldEnd: number;
  oldSpaceEnd: { size: number; used: number };
}

/** Counts a phase's collections from the probe's GCProfiler record and the heap at its start and end. */
function countPhase(posts: number, start: Spaces, end: Spaces, events: GcEvent[]): PhaseGc {
  let prev = asStats(start);
  const r: PhaseGc = { posts, scavenges: 0, markCompacts: 0, scavengeMs: 0, markCompactMs: 0, allocated: 0, allocatedYoung: 0, promoted: 0, allocatedOld: 0, oldStart: oldUsed(prev), oldEnd: oldUsed(asStats(end)), oldSpaceEnd: end.old_space! };
  const interval = (before: SpaceStat[]) => {
    r.allocatedYoung += Math.max(0, youngUsed(before) - youngUsed(prev));
    r.allocatedOld += Math.max(0, oldUsed(before) - oldUsed(prev));
  };
  for (const e of events) {
    const before = e.beforeGC.heapSpaceStatistics;
    const after = e.afterGC.heapSpaceStatistics;
    interval(before);
    if (e.gcType === 'Scavenge' || e.gcType === 'MinorMarkCompact') {
      r.scavenges++;
      r.scavengeMs += e.cost / 1000;
      r.promoted += Math.max(0, oldUsed(after) - oldUsed(before));
    } else if (e.gcType === 'MarkSweepCompact') {
      r.markCompacts++;
      r.markCompactMs += e.cost / 1000;
    }
    prev = after;
  }
  interval(asStats(end));
  r.allocated = r.allocatedYoung + r.allocatedOld;
  return r;
}

const mb = (b: number) => (b / 1048576).toFixed(1);

function line(name: string, p: PhaseGc): string {
  const per = (b: number) => (p.posts > 0 ? `${(b / p.posts).toFixed(0)} B` : '-');
  return (
    `${name}: ${p.posts} posts; per post allocated ${per(p.allocated)} (young ${per(p.allocatedYoung)}), promoted ${per(p.promoted)}, allocated old ${per(p.allocatedOld)}, ` +
    `old generation +${per(p.promoted + p.allocatedOld)}; scavenges ${p.scavenges} (${p.scavengeMs.toFixed(0)} ms), mark-compacts ${p.markCompacts} (${p.markCompactMs.toFixed(0)} ms)` +
    `${p.posts > 0 ? `, ${((p.markCompacts * 100_000) / p.posts).toFixed(1)} per 100k posts` : ''}; old generation ${mb(p.oldStart)} -> ${mb(p.oldEnd)} MB (old_space ${mb(p.oldSpaceEnd.used)} used of ${mb(p.oldSpaceEnd.size)} MB)`
  );
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'guildhall-store-gc-'));
  const db = await freshDatabase(flags.engine, dir);
  const server = await startGuildhall(db.url, { root: flags['server-root'] ?? ROOT, nodeArgs: [...flags['server-node-args'], '--import', PROBE], env: flags['server-env'], ipc: true, compiled: flags.compiled });
  const child = server.child;
  const histograms = new HistogramSet();
  const rest = new RestClient(server.url, startSimTracing({}), histograms);
  let sessions: LeanSessions | undefined;
  const poster = new NetPoster(server.url, histograms);
  const phase = async (posts: () => Promise<number>): Promise<PhaseGc> => {
    const { spaces: start } = await ask<{ spaces: Spaces }>(child, { cmd: 'heap' }, 'heap');
    await ask(child, { cmd: 'gc-start' }, 'gc-started');
    const n = await posts();
    const { data, spaces: end } = await ask<{ data: { statistics: GcEvent[] }; spaces: Spaces }>(child, { cmd: 'gc-stop' }, 'gc-stopped');
    return countPhase(n, start, end, data.statistics);
  };
  try {
    const users = flags.guilds * flags.members;
    const plan = planWorld({ users, guilds: flags.guilds, sessions: users, seed: 1, membership: (u) => (u < flags.guilds ? [] : [(u - flags.guilds) % flags.guilds]) });
    const world = await buildWorld(plan, rest);
    const [gateway] = await gatewayUrls(rest, [server.url]);
    const specs = world.sessionUser.map((u) => ({ token: world.users[u]!.token, guildIds: world.guildsOfUser[u]!.map((g) => world.guilds[g]!.id) }));
    const connect = await phase(async () => {
      sessions = LeanSessions.start({ url: gateway!, intents: MESSAGE_INTENTS, sessions: specs, connectPerS: 500 });
      const ready = await sessions.waitFor((s) => s.complete + s.failed >= s.sessions, 60_000);
      if (!ready.ok || ready.stats.complete < ready.stats.sessions) throw new Error(`sessions not ready: ${ready.stats.complete} of ${ready.stats.sessions}`);
      return 0;
    });
    process.stdout.write(`${line('connect', connect)}\n`);

    const post = async (g: number, n: number) => {
      const guild = world.guilds[g]!;
      const author = world.users[guild.members[n % guild.members.length]!]!;
      if (!(await poster.post(guild.channelId, author.token, `g${g} m${n}`))) throw new Error('post failed');
    };
    const closed = await phase(async () => {
      let made = 0;
      await Promise.all(
        world.guilds.map(async (_, g) => {
          while (made < flags['closed-posts']) await post(g, made++);
        }),
      );
      return made;
    });
    process.stdout.write(`${line('closed', closed)}\n`);

    if (flags.sample) await ask(child, { cmd: 'sample-start', interval: 4096, all: flags['sample-all'] }, 'sample-started');
    const snapshotPath = (at: string) => `${resolve(flags.snapshot ?? 'store-gc')}-${at}.heapsnapshot`;
    let mid: Promise<{ path: string }> | undefined;
    const paced = await phase(() =>
      pacedUntil(flags.posts, flags.rate, now() + (flags.posts / flags.rate) * 1000 + 60_000, (i) => {
        if (i === flags['snapshot-at'] && flags.snapshot !== undefined) mid = ask(child, { cmd: 'snapshot', path: snapshotPath('mid') }, 'snapshot-written', 600_000);
        return post(i % world.guilds.length, i);
      }),
    );
    if (mid !== undefined) process.stdout.write(`heap snapshot (mid, at post ${flags['snapshot-at']}): ${(await mid).path}\n`);
    process.stdout.write(`${line('paced', paced)}\n`);
    let sample: { total: number; self: [string, number][]; ours: [string, number][]; sizes: Record<string, [size: number, samples: number][]> } | undefined;
    if (flags.sample) {
      sample = await ask(child, { cmd: 'sample-stop', top: flags.top, sizesOf: flags['sample-sizes'] }, 'sample-stopped');
      const per = (b: number) => `${(b / paced.posts).toFixed(0)} B/post`;
      process.stdout.write(`${flags['sample-all'] ? 'allocated (all of it, --sample-all)' : 'outlived the young generation'}, paced (sampled, ${per(sample!.total)}), by allocating function:\n`);
      for (const [l, b] of sample!.self) process.stdout.write(`  ${per(b).padStart(12)}  ${l}\n`);
      process.stdout.write(`by the nearest function of ours:\n`);
      for (const [l, b] of sample!.ours) process.stdout.write(`  ${per(b).padStart(12)}  ${l}\n`);
      process.stdout.write(`object sizes sampled (bytes x samples), first allocating functions:\n`);
      for (const [l, s] of Object.entries(sample!.sizes)) process.stdout.write(`  ${l}: ${s.map(([size, n]) => `${size} x${n}`).join(', ')}\n`);
    }
    if (flags.snapshot !== undefined) {
      for (const [at, waitMs] of [['end', 0], ['idle', flags['snapshot-idle-ms']]] as const) {
        if (waitMs > 0) await new Promise((r) => setTimeout(r, waitMs));
        const { path } = await ask<{ path: string }>(child, { cmd: 'snapshot', path: snapshotPath(at) }, 'snapshot-written', 600_000);
        process.stdout.write(`heap snapshot (${at}): ${path}\n`);
      }
    }
    if (poster.errors > 0) throw new Error(`${poster.errors} posts failed`);
    if (flags.json) writeFileSync(flags.json, JSON.stringify({ at: new Date().toISOString(), node: process.versions.node, flags, connect, closed, paced, sample }, null, 2));
  } finally {
    poster.close();
    await sessions?.close();
    await stop(child);
    await db.drop();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
