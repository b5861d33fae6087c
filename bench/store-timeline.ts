// Reads what `npm run bench:store -- --timeline DIR` left in DIR and prints,
// per paced window, the episodes in which posts waited past --over ms (20 by
// default: issue 12's p99 target), each beside what the server's event loop
// did around it (bench/stall-probe.mjs: turns that held the loop, GC pauses).
//   node --import tsx bench/store-timeline.ts DIR [--over 20] [--gap 50]
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const { values, positionals } = parseArgs({ allowPositionals: true, options: { over: { type: 'string', default: '20' }, gap: { type: 'string', default: '50' } } });
const dir = positionals[0];
if (dir === undefined) {
  process.stderr.write('usage: node --import tsx bench/store-timeline.ts DIR [--over MS] [--gap MS]\n');
  process.exit(2);
}
const over = Number(values.over);
const gap = Number(values.gap);

interface Stall {
  type: 'loop' | 'gc';
  at: number;
  ms: number;
  kind?: string;
}

for (const name of readdirSync(dir).filter((f) => f.startsWith('paced-')).sort()) {
  const run = JSON.parse(readFileSync(join(dir, name), 'utf8')) as { engine: string; rep: number; serverPid: number; pacedRate: number; dueAndMs: number[] };
  let stalls: Stall[] = [];
  try {
    stalls = readFileSync(join(dir, `stalls-${run.serverPid}.jsonl`), 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Stall);
  } catch {
    // no probe file
  }
  const posts: [number, number][] = [];
  for (let i = 0; i < run.dueAndMs.length; i += 2) posts.push([run.dueAndMs[i]!, run.dueAndMs[i + 1]!]);
  const start = posts[0]?.[0] ?? 0;
  const end = posts.at(-1)?.[0] ?? 0;
  const late = posts.filter(([, ms]) => ms > over).sort((a, b) => a[0] - b[0]);
  const inWindow = stalls.filter((s) => s.at >= start - 200 && s.at <= end + 200);
  const mc = inWindow.filter((s) => s.type === 'gc' && s.kind === 'mark-compact');
  process.stdout.write(
    `\n${run.engine} rep ${run.rep} (server ${run.serverPid}): ${posts.length} posts at ${run.pacedRate}/s, ${late.length} over ${over} ms (${((100 * late.length) / Math.max(1, posts.length)).toFixed(2)} %); ` +
      `loop stalls >= 5 ms: ${inWindow.filter((s) => s.type === 'loop').length}, mark-compacts ${mc.length} (${mc.map((s) => s.ms.toFixed(1)).join(', ')} ms)\n`,
  );
  // Episodes: late posts whose due times are within `gap` ms of each other.
  const episodes: [number, number][][] = [];
  for (const p of late) {
    const cur = episodes.at(-1);
    if (cur !== undefined && p[0] - cur.at(-1)![0] <= gap) cur.push(p);
    else episodes.push([p]);
  }
  for (const e of episodes) {
    const from = e[0]![0];
    const to = e.at(-1)![0];
    const maxMs = Math.max(...e.map(([, ms]) => ms));
    const near = inWindow.filter((s) => s.at + s.ms >= from - 20 && s.at <= to + maxMs);
    const what = near.map((s) => `${s.type === 'gc' ? s.kind : 'loop'} ${s.ms.toFixed(1)}@${(s.at - from).toFixed(0)}`).join(', ');
    process.stdout.write(`  +${((from - start) / 1000).toFixed(2)} s: ${e.length} posts over ${(to - from).toFixed(0)} ms, max ${maxMs.toFixed(1)} ms | server: ${what || 'nothing >= 5 ms'}\n`);
  }
}
