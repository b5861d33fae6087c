// The functions of a V8 CPU profile (node --cpu-prof) over one window of
// time: self or inclusive ms, sorted. The window is on CLOCK_MONOTONIC in µs,
// the clock of the profile's timestamps (process.hrtime in another process).
//
//   node --import tsx bench/profile-window.ts PROFILE.cpuprofile [--from US] [--to US] [--top 40] [--inclusive]
import { readFileSync } from 'node:fs';
import { z } from 'zod';

const profileSchema = z.object({
  nodes: z.array(
    z.object({
      id: z.number(),
      callFrame: z.object({ functionName: z.string(), url: z.string(), lineNumber: z.number() }),
      children: z.array(z.number()).optional(),
    }),
  ),
  startTime: z.number(),
  endTime: z.number(),
  samples: z.array(z.number()),
  timeDeltas: z.array(z.number()),
});

const args = process.argv.slice(2);
const flag = (name: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : undefined;
};
const path = args[0];
if (path === undefined || path.startsWith('--')) {
  process.stderr.write('usage: node --import tsx bench/profile-window.ts PROFILE.cpuprofile [--from US] [--to US] [--top N] [--inclusive]\n');
  process.exit(2);
}
const profile = profileSchema.parse(JSON.parse(readFileSync(path, 'utf8')));
const from = flag('--from') ?? profile.startTime;
const to = flag('--to') ?? profile.endTime;
const top = flag('--top') ?? 40;
const inclusive = args.includes('--inclusive');

const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map<number, number>();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const label = (id: number) => {
  const f = byId.get(id)!.callFrame;
  return `${f.functionName || '(anonymous)'} ${f.url.replace(/^.*\/(?=[^/]+\/[^/]+$)/, '')}:${f.lineNumber + 1}`;
};

const time = new Map<string, number>();
let total = 0;
let busy = 0;
let t = profile.startTime;
for (let i = 0; i < profile.samples.length; i++) {
  t += profile.timeDeltas[i]!;
  if (t < from || t > to) continue;
  const dt = profile.timeDeltas[i + 1] ?? 0;
  total += dt;
  let id: number | undefined = profile.samples[i]!;
  const self = label(id);
  if (!self.startsWith('(idle)')) busy += dt;
  const labels = new Set<string>();
  if (!inclusive) labels.add(self);
  else for (; id !== undefined; id = parent.get(id)) labels.add(label(id));
  for (const l of labels) time.set(l, (time.get(l) ?? 0) + dt);
}
console.log(`window ${((to - from) / 1e6).toFixed(1)} s; sampled ${(total / 1000).toFixed(0)} ms, busy ${(busy / 1000).toFixed(1)} ms (${inclusive ? 'inclusive' : 'self'} ms below)`);
for (const [l, us] of [...time].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${(us / 1000).toFixed(1).padStart(9)}  ${l}`);
