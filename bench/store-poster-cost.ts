// What bench:store's posters cost the load generator, one kind against another
// in one process and against one server: `npm run bench:store-poster-cost --
// [--posters net,http] [--rate 2000] [--seconds 3] [--rounds 5] [--guilds 200]`.
// A server on SQLite :memory: with the benchmark's guilds but no gateway
// sessions (the posts are what is measured); each round runs every poster kind
// paced at --rate for --seconds, the order rotated, and reads this process's
// main thread CPU (the posters' thread, /proc schedstat) per acknowledged post,
// its event-loop delay and how late posts were sent. The ratio is taken per
// round and its median reported: on a loaded machine the µs are not a result,
// the ratio of two kinds taking turns is steadier.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { now } from '../client-sim/clock.js';
import { HistogramSet } from '../client-sim/histograms.js';
import { pacedUntil } from '../client-sim/pacing.js';
import { RestClient } from '../client-sim/rest.js';
import { startSimTracing } from '../client-sim/tracing.js';
import { buildWorld, planWorld } from '../client-sim/world.js';
import { stop } from './children.js';
import { parseFlags } from './flags.js';
import { NetPoster } from './store-net-poster.js';
import { Poster } from './store-poster.js';
import { mainThreadMicros } from './store-probes.js';
import { freshDatabase, startGuildhall } from './store-server.js';
import { rounded } from './summary.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const KINDS = ['net', 'http'] as const;
type Kind = (typeof KINDS)[number];

const flags = parseFlags(
  process.argv.slice(2),
  {
    posters: { type: 'string', default: KINDS.join(',') },
    rate: { type: 'string', default: '2000' },
    seconds: { type: 'string', default: '3' },
    rounds: { type: 'string', default: '5' },
    guilds: { type: 'string', default: '200' },
  },
  z.object({
    posters: z.string().transform((s) => s.split(',').map((k) => z.enum(KINDS).parse(k.trim()))),
    rate: z.coerce.number().int().min(1).max(100_000),
    seconds: z.coerce.number().gt(0).max(120),
    rounds: z.coerce.number().int().min(1).max(50),
    guilds: z.coerce.number().int().min(1).max(2_000),
  }),
  (message) => {
    process.stderr.write(`bench:store-poster-cost: ${message}\n`);
    process.exit(2);
  },
);

interface Round {
  kind: Kind;
  usPerPost: number;
  acked: number;
  errors: number;
  loopP99: number;
  lateP99: number;
}

const dir = mkdtempSync(join(tmpdir(), 'guildhall-poster-cost-'));
const db = await freshDatabase('memory', dir);
const server = await startGuildhall(db.url, { root: ROOT });
const results: Round[] = [];
try {
  const setup = new HistogramSet();
  const rest = new RestClient(server.url, startSimTracing({}), setup);
  const world = await buildWorld(planWorld({ users: flags.guilds, guilds: flags.guilds, sessions: 0, seed: 1, membership: () => [] }), rest);
  const loop = monitorEventLoopDelay({ resolution: 1 });
  for (let round = 0; round < flags.rounds; round++) {
    const order = flags.posters.map((_, i) => flags.posters[(i + round) % flags.posters.length]!);
    for (const kind of order) {
      const histograms = new HistogramSet();
      const poster = kind === 'net' ? new NetPoster(server.url, histograms) : new Poster(server.url, histograms);
      let acked = 0;
      loop.reset();
      loop.enable();
      const cpu0 = mainThreadMicros();
      const p0 = performance.now();
      await pacedUntil(Math.ceil(flags.rate * flags.seconds), flags.rate, now() + flags.seconds * 1000 + 30_000, async (i) => {
        histograms.record('late', performance.now() - (p0 + (i / flags.rate) * 1000));
        const guild = world.guilds[i % world.guilds.length]!;
        if (await poster.post(guild.channelId, world.users[guild.members[0]!]!.token, `g${i % world.guilds.length} m${i}`)) acked++;
      });
      const cpu = mainThreadMicros() - cpu0;
      loop.disable();
      poster.close();
      const r: Round = { kind, usPerPost: cpu / Math.max(1, acked), acked, errors: poster.errors, loopP99: loop.percentile(99) / 1e6, lateP99: histograms.get('late').summary().p99 };
      results.push(r);
      process.stderr.write(`round ${round + 1}/${flags.rounds} ${kind}: ${r.usPerPost.toFixed(1)} µs CPU/post (${acked} acked, ${r.errors} errors), loop p99 ${r.loopP99.toFixed(1)} ms, sent late p99 ${r.lateP99.toFixed(1)} ms\n`);
    }
  }
} finally {
  await stop(server.child);
  await db.drop();
  rmSync(dir, { recursive: true, force: true });
}

const of = (k: Kind) => results.filter((r) => r.kind === k);
const lines = [`bench:store-poster-cost: ${flags.rate} posts/s for ${flags.seconds} s, ${flags.rounds} rounds, ${flags.guilds} guilds, Node ${process.versions.node}`, '', '| poster | µs CPU/post of the posters\' thread | loop p99 ms | sent late p99 ms | errors |', '|---|---|---|---|---|'];
for (const k of flags.posters) {
  const f = (xs: number[], d: number) => {
    const s = rounded(xs, d);
    return `${s.median} (${s.min}–${s.max})`;
  };
  lines.push(`| ${k} | ${f(of(k).map((r) => r.usPerPost), 1)} | ${f(of(k).map((r) => r.loopP99), 1)} | ${f(of(k).map((r) => r.lateP99), 1)} | ${of(k).reduce((a, r) => a + r.errors, 0)} |`);
}
if (flags.posters.length === 2) {
  const [a, b] = flags.posters as [Kind, Kind];
  const ratios = of(a).map((r, i) => r.usPerPost / of(b)[i]!.usPerPost);
  const s = rounded(ratios, 2);
  lines.push('', `${a}/${b} CPU per post, per round: ${s.median} (${s.min}–${s.max})`);
}
process.stdout.write(`${lines.join('\n')}\n`);
