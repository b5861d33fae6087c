// The functions of a V8 CPU profile (node --cpu-prof) over one window of
// time: self or inclusive ms, sorted. The window is on CLOCK_MONOTONIC in µs,
// the clock of the profile's timestamps (process.hrtime in another process).
//
//   node --import tsx bench/profile-window.ts PROFILE.cpuprofile [--from US] [--to US] [--top 40] [--inclusive]
import { readCpuProfile } from './cpu-profile.js';

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
const profile = readCpuProfile(path);
const from = flag('--from') ?? profile.startTime;
const to = flag('--to') ?? profile.endTime;
const top = flag('--top') ?? 40;
const inclusive = args.includes('--inclusive');

const { label, parent } = profile;

const time = new Map<string, number>();
let total = 0;
let busy = 0;
for (const { id: leaf, at, us: dt } of profile.samples) {
  if (at < from || at > to) continue;
  total += dt;
  const self = label(leaf);
  if (!self.startsWith('(idle)')) busy += dt;
  const labels = new Set<string>();
  if (!inclusive) labels.add(self);
  else for (let id: number | undefined = leaf; id !== undefined; id = parent(id)) labels.add(label(id));
  for (const l of labels) time.set(l, (time.get(l) ?? 0) + dt);
}
console.log(`window ${((to - from) / 1e6).toFixed(1)} s; sampled ${(total / 1000).toFixed(0)} ms, busy ${(busy / 1000).toFixed(1)} ms (${inclusive ? 'inclusive' : 'self'} ms below)`);
for (const [l, us] of [...time].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${(us / 1000).toFixed(1).padStart(9)}  ${l}`);
