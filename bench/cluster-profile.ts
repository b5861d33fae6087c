// Where the cluster benchmark's nodes spend their bursts: each node's V8 CPU
// profile (bench:cluster --cpu-prof DIR) cut to the bursts' windows (the
// result file's samples carry them, on CLOCK_MONOTONIC like the profile's
// timestamps) and split into categories by what is on the stack, in µs per
// delivery of the whole burst (so the nodes of one case add up). Under load
// the absolute figures are wall-clock sampled and inflated; the shares still
// say where the time goes.
//
//   node --import tsx bench/cluster-profile.ts RESULT.json PROFILE_DIR [--top 15]
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { readCpuProfile } from './cpu-profile.js';

const windowSchema = z.object({ nodes: z.number(), pids: z.array(z.number()), startUs: z.number(), endUs: z.number() });
const resultSchema = z.object({
  samples: z.array(windowSchema.extend({ delivered: z.number() })),
  rest: z.array(windowSchema).optional(),
});

const args = process.argv.slice(2);
const [resultPath, dir] = args.filter((a) => !a.startsWith('--'));
if (resultPath === undefined || dir === undefined) {
  process.stderr.write('usage: node --import tsx bench/cluster-profile.ts RESULT.json PROFILE_DIR [--top N]\n');
  process.exit(2);
}
const topAt = args.indexOf('--top');
const top = topAt >= 0 ? Number(args[topAt + 1]) : 15;
const result = resultSchema.parse(JSON.parse(readFileSync(resultPath, 'utf8')));
const bursts = result.samples;
const rests = result.rest ?? [];

// First rule that matches any frame of the stack wins, so the order is the priority:
// a session's socket write counts as a write, not as the session that made it.
const RULES: [string, (url: string, fn: string) => boolean][] = [
  ['gc', (_u, fn) => fn === '(garbage collector)'],
  ['session socket writes', (u) => u.includes('gateway/frame-writer')],
  ['session handling', (u) => u.includes('gateway/session-actor') || u.includes('gateway/replay-buffer') || u.includes('gateway/connection')],
  ['remote inbound (frame to mailboxes)', (u) => u.includes('cluster/remote-inbound') || u.includes('cluster/target-lists') || u.includes('cluster/codec')],
  ['cluster send (batches, outbox, wire)', (u) => u.includes('cluster/broadcast-batches') || u.includes('cluster/outbox') || u.includes('cluster/wire') || u.includes('cluster/remote-router')],
  ['cluster upkeep (leases, membership, watch)', (u) => u.includes('cluster/leases') || u.includes('cluster/membership') || u.includes('cluster/node-watch')],
  ['guild', (u) => u.includes('server/guild/')],
  ['actors (relay, cells, scheduler)', (u) => u.includes('/actors/')],
  ['postgres', (u) => u.includes('node_modules/pg') || u.includes('store/')],
  ['nats client', (u) => u.includes('@nats-io')],
  ['metrics', (u) => u.includes('prom-client') || u.includes('metrics')],
  ['REST (fastify, http)', (u) => u.includes('fastify') || u.includes('node:_http') || u.includes('server/routes') || u.includes('find-my-way')],
  ['ws / gateway other', (u) => u.includes('node_modules/ws') || u.includes('server/gateway')],
  ['node streams/net (other)', (u) => u.startsWith('node:')],
  ['(program)', (_u, fn) => fn === '(program)'],
];

type Window = z.infer<typeof windowSchema>;

/** Busy time by category over `windows`, divided by `per` (deliveries, or seconds at rest). */
function split(path: string, windows: Window[], per: number, unit: string, title: string): void {
  const profile = readCpuProfile(path);
  const byCategory = new Map<string, number>();
  const self = new Map<string, number>();
  const categoryOf = new Map<number, string>();
  let busy = 0;
  let idle = 0;
  for (const { id, at, us } of profile.samples) {
    if (!windows.some((b) => at >= b.startUs && at <= b.endUs)) continue;
    if (profile.frame(id).functionName === '(idle)') {
      idle += us;
      continue;
    }
    busy += us;
    let category = categoryOf.get(id);
    if (category === undefined) {
      category = 'other';
      const stack: number[] = [];
      for (let n: number | undefined = id; n !== undefined; n = profile.parent(n)) stack.push(n);
      for (const [name, match] of RULES) {
        if (stack.some((n) => match(profile.frame(n).url, profile.frame(n).functionName))) {
          category = name;
          break;
        }
      }
      categoryOf.set(id, category);
    }
    byCategory.set(category, (byCategory.get(category) ?? 0) + us);
    const l = profile.label(id);
    self.set(l, (self.get(l) ?? 0) + us);
  }
  process.stdout.write(`\n${title}: busy ${(busy / per).toFixed(3)} ${unit}, idle ${(idle / 1000).toFixed(0)} ms\n`);
  for (const [c, us] of [...byCategory].sort((a, b) => b[1] - a[1])) {
    process.stdout.write(`  ${c.padEnd(44)} ${(us / per).toFixed(3).padStart(8)} ${unit} ${((100 * us) / busy).toFixed(1).padStart(5)}%\n`);
  }
  process.stdout.write('  top self:\n');
  for (const [l, us] of [...self].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    process.stdout.write(`    ${((100 * us) / busy).toFixed(1).padStart(5)}% ${l}\n`);
  }
}

for (const file of readdirSync(dir).filter((f) => f.endsWith('.cpuprofile')).sort()) {
  const pid = Number(/-(\d+)\.cpuprofile$/.exec(file)?.[1]);
  const mine = bursts.filter((b) => b.pids.includes(pid));
  if (mine.length === 0) continue;
  const delivered = mine.reduce((a, b) => a + b.delivered, 0);
  const name = `${file} (${mine[0]!.nodes}-node case, node ${mine[0]!.pids.indexOf(pid) + 1})`;
  split(join(dir, file), mine, delivered, 'µs/delivery', `${name}, ${mine.length} bursts, ${delivered} deliveries`);
  const rest = rests.filter((r) => r.pids.includes(pid));
  const restS = rest.reduce((a, r) => a + (r.endUs - r.startUs) / 1e6, 0);
  if (restS > 0) split(join(dir, file), rest, restS, 'µs/s', `${name} at rest, ${restS.toFixed(1)} s`);
}
