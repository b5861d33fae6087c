// npm run bench:store-gc-ring: what the sessions' replay rings allocate per post, and how much of it is garbage, counted.
//
// Every delivery pushes the dispatch into the session's replay ring
// (server/gateway/replay-buffer.ts). A ring fills over the session's first
// `capacity` dispatches, minutes in bench:store, so whatever storage it
// outgrows has been promoted by then and dies in the old generation: garbage
// there brings the next mark-compact nearer (issue 12). This runs the rings
// alone, at bench:store's scale (`--sessions` in guilds of `--members`, the
// server's default capacity unless `--capacity`): each session's READY and
// GUILD_CREATE (connect), then `--posts` posts round-robin over the guilds,
// each pushed into its guild's members' rings, all of them one shared
// dispatch (a ring keeps references; the encodings are not its bytes).
// Per phase: bytes allocated (V8's used heap, summed between collections by
// v8.GCProfiler), retained (used heap after a full collection, against
// before), garbage (the difference). A control runs the post loop over rings
// of capacity 0, which store nothing: what the loop itself allocates.
// Nothing is timed; the counts do not depend on the machine's load.
// `--root DIR` takes the ring from another checkout (the before of an A/B).
//
//   npm run bench:store-gc-ring -- [--sessions 1000] [--members 5] [--posts 70000] [--capacity N] [--reps 3] [--root DIR]
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { GCProfiler, getHeapStatistics } from 'node:v8';
import { z } from 'zod';
import { loadConfig } from '../server/config.js';
import { EncodedDispatch } from '../server/gateway/dispatch.js';
import type { ReplayBuffer } from '../server/gateway/replay-buffer.js';
import { parseFlags } from './flags.js';

const USAGE = 'usage: npm run bench:store-gc-ring -- [--sessions N] [--members N] [--posts N] [--capacity N] [--reps N] [--root DIR]';

const o = parseFlags(
  process.argv.slice(2),
  {
    sessions: { type: 'string', default: '1000' },
    members: { type: 'string', default: '5' },
    posts: { type: 'string', default: '70000' },
    capacity: { type: 'string', default: String(loadConfig({}).resumeBuffer) },
    reps: { type: 'string', default: '3' },
    root: { type: 'string' },
  },
  z
    .object({
      sessions: z.coerce.number().int().min(1).max(1_000_000),
      members: z.coerce.number().int().min(1).max(10_000),
      posts: z.coerce.number().int().min(1).max(100_000_000),
      capacity: z.coerce.number().int().min(0).max(1_000_000),
      reps: z.coerce.number().int().min(1).max(100),
      root: z.string().optional(),
    })
    .refine((v) => v.sessions % v.members === 0, '--sessions must be a multiple of --members'),
  (message) => {
    process.stderr.write(`store-gc-ring: ${message}\n${USAGE}\n`);
    process.exit(2);
  },
);

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) {
  process.stderr.write('store-gc-ring: needs node --expose-gc (npm run bench:store-gc-ring sets it)\n');
  process.exit(2);
}
const collect = () => {
  gc();
  gc();
};
const used = () => getHeapStatistics().used_heap_size;

const source = o.root ? resolve(o.root, 'server/gateway/replay-buffer.ts') : new URL('../server/gateway/replay-buffer.ts', import.meta.url).pathname;
const { ReplayBuffer: Ring } = (await import(pathToFileURL(source).href)) as { ReplayBuffer: typeof ReplayBuffer };

interface Counted {
  allocated: number;
  retained: number;
  garbage: number;
  scavenges: number;
  markCompacts: number;
}

/** What `run` allocates, keeps past a full collection, and leaves as garbage. */
function count(run: () => void): Counted {
  collect();
  const start = used();
  const profiler = new GCProfiler();
  profiler.start();
  run();
  const end = used();
  const { statistics } = profiler.stop();
  // Allocated = used-heap growth between collections (what a collection freed is added back).
  let allocated = 0;
  let previous = start;
  let scavenges = 0;
  let markCompacts = 0;
  for (const s of statistics) {
    allocated += s.beforeGC.heapStatistics.usedHeapSize - previous;
    previous = s.afterGC.heapStatistics.usedHeapSize;
    if (s.gcType === 'Scavenge' || s.gcType === 'MinorMarkCompact') scavenges++;
    else if (s.gcType === 'MarkSweepCompact') markCompacts++;
  }
  allocated += end - previous;
  collect();
  const retained = used() - start;
  return { allocated, retained, garbage: allocated - retained, scavenges, markCompacts };
}

const guilds = o.sessions / o.members;
const dispatch = new EncodedDispatch('MESSAGE_CREATE', { content: 'x' });

/** One repetition: connect (rings made, READY and GUILD_CREATE pushed), then the posts. */
function repetition(capacity: number, posts: number) {
  const rings: ReplayBuffer[] = new Array(o.sessions);
  const seqs: number[] = new Array<number>(o.sessions).fill(0);
  const connect = count(() => {
    for (let i = 0; i < o.sessions; i++) {
      const ring = new Ring(capacity);
      ring.push(1, dispatch);
      ring.push(2, dispatch);
      rings[i] = ring;
      seqs[i] = 2;
    }
  });
  const post = count(() => {
    for (let p = 0; p < posts; p++) {
      const first = (p % guilds) * o.members;
      for (let i = first; i < first + o.members; i++) rings[i]!.push(++seqs[i]!, dispatch);
    }
  });
  return { connect, post };
}

const round = (x: number) => Math.round(x * 10) / 10;
const range = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const median = s[Math.floor(s.length / 2)]!;
  return s.length === 1 ? `${round(median)}` : `${round(median)} (${round(s[0]!)}-${round(s[s.length - 1]!)})`;
};

process.stdout.write(
  `store-gc-ring: ${source}\n  ${o.sessions} sessions in ${guilds} guilds of ${o.members}, capacity ${o.capacity}, ${o.posts} posts ` +
    `(${(o.posts * o.members) / o.sessions} dispatches per session after its 2 at connect), ${o.reps} repetitions after one warm-up\n`,
);
repetition(o.capacity, o.posts);
repetition(0, o.posts);
const runs = Array.from({ length: o.reps }, () => ({ ring: repetition(o.capacity, o.posts), control: repetition(0, o.posts).post }));

const bytes: [string, number[]][] = [
  ['connect: allocated per session', runs.map((r) => r.ring.connect.allocated / o.sessions)],
  ['connect: retained per session', runs.map((r) => r.ring.connect.retained / o.sessions)],
  ['posts: allocated per post', runs.map((r) => r.ring.post.allocated / o.posts)],
  ['posts: garbage per post', runs.map((r) => r.ring.post.garbage / o.posts)],
  ['posts: retained per post', runs.map((r) => r.ring.post.retained / o.posts)],
  ['posts: garbage per session', runs.map((r) => r.ring.post.garbage / o.sessions)],
  ['end: retained per session (its ring)', runs.map((r) => (r.ring.connect.retained + r.ring.post.retained) / o.sessions)],
  ['control (capacity 0): allocated per post', runs.map((r) => r.control.allocated / o.posts)],
];
for (const [label, xs] of bytes) process.stdout.write(`  ${label.padEnd(44)} ${range(xs)} B\n`);
process.stdout.write(`  ${'posts: scavenges, mark-compacts'.padEnd(44)} ${range(runs.map((r) => r.ring.post.scavenges))}, ${range(runs.map((r) => r.ring.post.markCompacts))}\n`);
process.stdout.write(`${JSON.stringify({ source, ...o, runs })}\n`);
