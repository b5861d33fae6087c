// Splits a server's V8 CPU profile (bench:sampling-ab --cpu-prof) by burst
// kind: the samples taken during sampled bursts against those taken during
// unsampled ones, each function's time per delivery, sorted by what the
// sampled bursts spend more. The result file's samples carry each burst's
// start and end on CLOCK_MONOTONIC, the clock of the profile's timestamps.
//
//   node --import tsx bench/profile-split.ts PROFILE.cpuprofile RESULT.json [--top 40] [--inclusive]
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { readCpuProfile } from './cpu-profile.js';

const resultSchema = z.object({
  samples: z.array(z.object({ sampled: z.boolean(), delivered: z.number(), startUs: z.number(), endUs: z.number() })),
});

const [profilePath, resultPath] = process.argv.slice(2).filter((a) => !a.startsWith('--'));
if (profilePath === undefined || resultPath === undefined) {
  process.stderr.write('usage: node --import tsx bench/profile-split.ts PROFILE.cpuprofile RESULT.json [--top N] [--inclusive]\n');
  process.exit(2);
}
const topIndex = process.argv.indexOf('--top');
const top = topIndex >= 0 ? Number(process.argv[topIndex + 1]) : 40;
const inclusive = process.argv.includes('--inclusive');
const profile = readCpuProfile(profilePath);
const bursts = resultSchema.parse(JSON.parse(readFileSync(resultPath, 'utf8'))).samples;

const { label, parent } = profile;

// time (µs) per label, per kind of burst
const time = { sampled: new Map<string, number>(), unsampled: new Map<string, number>() };
const totals = { sampled: 0, unsampled: 0 };
const deliveries = { sampled: 0, unsampled: 0 };
for (const b of bursts) deliveries[b.sampled ? 'sampled' : 'unsampled'] += b.delivered;
let burst = 0;
const sorted = [...bursts].sort((a, b) => a.startUs - b.startUs);
for (const { id: leaf, at: t, us: dt } of profile.samples) {
  while (burst < sorted.length && sorted[burst]!.endUs < t) burst++;
  const b = sorted[burst];
  if (b === undefined || t < b.startUs) continue;
  const kind = b.sampled ? 'sampled' : 'unsampled';
  totals[kind] += dt;
  const labels = new Set<string>();
  if (!inclusive) labels.add(label(leaf));
  else
    for (let id: number | undefined = leaf; id !== undefined; id = parent(id)) labels.add(label(id));
  for (const l of labels) time[kind].set(l, (time[kind].get(l) ?? 0) + dt);
}

const per = (kind: 'sampled' | 'unsampled', l: string) => ((time[kind].get(l) ?? 0) / Math.max(1, deliveries[kind])) * 1000;
const labels = new Set([...time.sampled.keys(), ...time.unsampled.keys()]);
const rows = [...labels].map((l) => ({ l, s: per('sampled', l), u: per('unsampled', l) })).sort((a, b) => b.s - b.u - (a.s - a.u));
console.log(
  `profiled: sampled ${(totals.sampled / 1000).toFixed(0)} ms over ${deliveries.sampled} deliveries (${((totals.sampled / deliveries.sampled) * 1000).toFixed(0)} ns each), ` +
    `unsampled ${(totals.unsampled / 1000).toFixed(0)} ms over ${deliveries.unsampled} (${((totals.unsampled / deliveries.unsampled) * 1000).toFixed(0)} ns each)`,
);
console.log(`${inclusive ? 'inclusive' : 'self'} ns per delivery: sampled, unsampled, difference`);
for (const r of rows.slice(0, top)) console.log(`${r.s.toFixed(1).padStart(8)} ${r.u.toFixed(1).padStart(8)} ${(r.s - r.u).toFixed(1).padStart(8)}  ${r.l}`);
console.log('...');
for (const r of rows.slice(-10)) console.log(`${r.s.toFixed(1).padStart(8)} ${r.u.toFixed(1).padStart(8)} ${(r.s - r.u).toFixed(1).padStart(8)}  ${r.l}`);
