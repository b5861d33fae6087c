// Reads a server's V8 CPU profile from a bench:store run (--server-node-args
// "--cpu-prof --cpu-prof-dir=DIR") over one phase's window (the JSON's
// `windows`, on CLOCK_MONOTONIC like the profile): where the server's CPU went
// (self time by function, and inclusive time of our own files), and the
// longest stretches without an idle sample, which is what an event-loop delay
// of 10-20 ms is made of (a stretch is one or more macrotasks back to back).
//
//   node --import tsx bench/store-profile.ts PROFILE.cpuprofile RESULT.json [--phase paced|closed] [--run 0] [--top 30] [--stretches 10]
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { readCpuProfile } from './cpu-profile.js';

const resultSchema = z.object({
  results: z.array(z.object({ engine: z.string(), windows: z.object({ serverPid: z.number(), closed: z.tuple([z.number(), z.number()]), paced: z.tuple([z.number(), z.number()]) }) })),
});

const args = process.argv.slice(2);
const opt = (name: string, fallback: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1]! : fallback;
};
const [profilePath, resultPath] = args.filter((a, i) => !a.startsWith('--') && !args[i - 1]?.startsWith('--'));
if (profilePath === undefined || resultPath === undefined) {
  process.stderr.write('usage: node --import tsx bench/store-profile.ts PROFILE.cpuprofile RESULT.json [--phase paced|closed] [--run N] [--top N] [--stretches N]\n');
  process.exit(2);
}
const phase = opt('phase', 'paced') === 'closed' ? 'closed' : 'paced';
const run = resultSchema.parse(JSON.parse(readFileSync(resultPath, 'utf8'))).results[Number(opt('run', '0'))]!;
const [from, to] = run.windows[phase];
const profile = readCpuProfile(profilePath);
const top = Number(opt('top', '30'));

const { parent } = profile;
const frame = (id: number) => profile.frame(id);
const label = (id: number) => {
  const f = frame(id);
  const file = f.url.replace(/^.*\/(node_modules\/)?/, (m) => (m.includes('node_modules') ? 'nm:' : ''));
  return `${f.functionName || '(anonymous)'} ${file}:${f.lineNumber + 1}`;
};
const IDLE = new Set(['(idle)']);
const isIdle = (id: number) => IDLE.has(frame(id).functionName);

// Samples in the window, each with its duration (the delta to the next sample).
const inWindow = profile.samples.filter((s) => s.at >= from && s.at < to);
const windowMs = (to - from) / 1000;

const self = new Map<string, number>();
const ours = new Map<string, number>();
let busy = 0;
for (const s of inWindow) {
  if (isIdle(s.id)) continue;
  busy += s.us;
  const l = label(s.id);
  self.set(l, (self.get(l) ?? 0) + s.us);
  // Inclusive, each of our frames once per sample.
  const seen = new Set<string>();
  for (let id: number | undefined = s.id; id !== undefined; id = parent(id)) {
    const f = frame(id);
    if (!/\/(server|actors|tracing)\//.test(f.url) || f.url.includes('node_modules')) continue;
    const k = label(id);
    if (seen.has(k)) continue;
    seen.add(k);
    ours.set(k, (ours.get(k) ?? 0) + s.us);
  }
}
const ms = (us: number) => (us / 1000).toFixed(1).padStart(8);
const pct = (us: number) => `${((100 * us) / Math.max(1, busy)).toFixed(1).padStart(5)} %`;
process.stdout.write(`${run.engine} ${phase}: window ${windowMs.toFixed(0)} ms, busy ${ms(busy)} ms (${((100 * busy) / (to - from)).toFixed(0)} %), ${inWindow.length} samples\n\n`);
process.stdout.write('self time\n');
for (const [k, v] of [...self].sort((a, b) => b[1] - a[1]).slice(0, top)) process.stdout.write(`${ms(v)} ms ${pct(v)}  ${k}\n`);
process.stdout.write('\ninclusive time, our files\n');
for (const [k, v] of [...ours].sort((a, b) => b[1] - a[1]).slice(0, top)) process.stdout.write(`${ms(v)} ms ${pct(v)}  ${k}\n`);

// Stretches of consecutive non-idle samples.
const stretches: { at: number; us: number; samples: number[] }[] = [];
let cur: { at: number; us: number; samples: number[] } | undefined;
for (const s of inWindow) {
  if (isIdle(s.id)) {
    cur = undefined;
    continue;
  }
  if (cur === undefined) stretches.push((cur = { at: s.at, us: 0, samples: [] }));
  cur.us += s.us;
  cur.samples.push(s.id);
}
const lengths = stretches.map((s) => s.us).sort((a, b) => a - b);
const q = (p: number) => lengths[Math.min(lengths.length - 1, Math.floor(p * lengths.length))] ?? 0;
process.stdout.write(`\n${stretches.length} busy stretches: p50 ${ms(q(0.5))} p90 ${ms(q(0.9))} p99 ${ms(q(0.99))} max ${ms(q(1))} ms; over 10 ms: ${lengths.filter((x) => x >= 10_000).length}\n`);
for (const s of [...stretches].sort((a, b) => b.us - a.us).slice(0, Number(opt('stretches', '8')))) {
  const counts = new Map<string, number>();
  for (const id of s.samples) {
    // The frame under the runtime's entry: which of our callbacks the time is in.
    const chain: number[] = [];
    for (let x: number | undefined = id; x !== undefined; x = parent(x)) chain.push(x);
    const named = chain.reverse().filter((x) => !frame(x).functionName.startsWith('(root'));
    const k = named.slice(0, 3).map(label).join(' > ') + ' ... ' + label(id);
    counts.set(k, (counts.get(k) ?? 0) + 1);
  }
  process.stdout.write(`\nstretch at +${((s.at - from) / 1000).toFixed(0)} ms: ${ms(s.us)} ms\n`);
  for (const [k, n] of [...counts].sort((a, b) => b[1] - a[1]).slice(0, 6)) process.stdout.write(`  ${String(n).padStart(4)}  ${k}\n`);
}
