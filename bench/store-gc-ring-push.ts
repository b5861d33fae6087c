// What a replay ring's push costs in instructions, for callgrind: bench:store-gc-ring's world (`--sessions` in guilds
// of `--members`, the server's default capacity), `--posts` posts each pushed into its guild's members' rings, in a
// function (`deliver`) that V8 optimises with `push` inlined. Every branch of push (filling the first 128 slots,
// filling a later chunk, overwriting once full) is warmed up on a few other rings first, so that the measured posts
// run optimised code and do not deoptimise on a branch seen late. Run it at two `--posts` and subtract: both runs pay
// the same start-up and warm-up; what is left is the posts'. With `--perf-basic-prof`, `bench/callgrind-jit.ts` gives
// `deliver`'s own count (the loop and the inlined push, no collector):
//
//   valgrind --tool=callgrind --callgrind-out-file=cg.%p node --perf-basic-prof --import tsx bench/store-gc-ring-push.ts --posts 200000 [--root DIR]
//   valgrind ... --posts 400000; then node --import tsx bench/callgrind-jit.ts cg.PID /tmp/perf-PID.map for each
//
// From 0 to 200,000 posts (1,000 sessions) the rings fill; past it they are full and overwrite.
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { z } from 'zod';
import { loadConfig } from '../server/config.js';
import { EncodedDispatch } from '../server/gateway/dispatch.js';
import type { ReplayBuffer } from '../server/gateway/replay-buffer.js';
import { parseFlags } from './flags.js';

const o = parseFlags(
  process.argv.slice(2),
  {
    sessions: { type: 'string', default: '1000' },
    members: { type: 'string', default: '5' },
    posts: { type: 'string', default: '200000' },
    root: { type: 'string' },
  },
  z
    .object({
      sessions: z.coerce.number().int().min(1).max(1_000_000),
      members: z.coerce.number().int().min(1).max(10_000),
      posts: z.coerce.number().int().min(0).max(100_000_000),
      root: z.string().optional(),
    })
    .refine((v) => v.sessions % v.members === 0, '--sessions must be a multiple of --members'),
  (message) => {
    process.stderr.write(`store-gc-ring-push: ${message}\nusage: node --import tsx bench/store-gc-ring-push.ts [--sessions N] [--members N] [--posts N] [--root DIR]\n`);
    process.exit(2);
  },
);

const source = o.root ? resolve(o.root, 'server/gateway/replay-buffer.ts') : new URL('../server/gateway/replay-buffer.ts', import.meta.url).pathname;
const { ReplayBuffer: Ring } = (await import(pathToFileURL(source).href)) as { ReplayBuffer: typeof ReplayBuffer };
const capacity = loadConfig({}).resumeBuffer;
const dispatch = new EncodedDispatch('MESSAGE_CREATE', { content: 'x' });

interface World {
  rings: ReplayBuffer[];
  seqs: number[];
  guilds: number;
}
const world = (sessions: number): World => ({
  rings: Array.from({ length: sessions }, () => new Ring(capacity)),
  seqs: new Array<number>(sessions).fill(0),
  guilds: sessions / o.members,
});

function deliver(w: World, from: number, to: number): void {
  const { rings, seqs, guilds } = w;
  for (let p = from; p < to; p++) {
    const first = (p % guilds) * o.members;
    for (let i = first; i < first + o.members; i++) rings[i]!.push(++seqs[i]!, dispatch);
  }
}
/** In calls of 1,000 posts, as a server delivers a turn at a time (and so that `deliver` is optimised whole, not on stack replacement). */
const run = (w: World, posts: number) => {
  for (let p = 0; p < posts; p += 1000) deliver(w, p, Math.min(posts, p + 1000));
};

// Two guilds' rings, three times over, each ring taking 3 x capacity pushes: every branch of push, optimised.
for (let k = 0; k < 3; k++) run(world(2 * o.members), 3 * capacity * 2);
const w = world(o.sessions);
run(w, o.posts);
process.stdout.write(`store-gc-ring-push: ${source}: ${o.posts} posts into ${o.sessions} rings of ${capacity}; newest seq of the first ${w.seqs[0]}\n`);
