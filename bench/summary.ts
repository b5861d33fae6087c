// Benchmark figures: per burst samples in, per (size, mode) medians with min
// and max, paired ratios per repetition (modes run interleaved, so rep r of
// `sampled` and rep r of `off` saw the same machine state), and the markdown
// table for the README.
import { ALL_MODES, type Mode } from './children.js';

export interface Sample {
  size: number;
  mode: Mode;
  rep: number;
  /** From /proc/<pid>/stat utime+stime (1/CLK_TCK resolution). */
  cpuUsPerDelivery: number;
  /** From /proc/<pid>/task/<tid>/schedstat (ns resolution), a cross-check. */
  schedUsPerDelivery: number;
  deliveriesPerS: number;
  p50: number;
  p99: number;
  sent: number;
  expected: number;
  delivered: number;
  lost: number;
  duplicated: number;
  wallS: number;
  cpuMs: number;
}

export interface ModeSetup {
  size: number;
  mode: Mode;
  connected: number;
  rssBeforeBytes: number;
  rssAfterBytes: number;
  memPerSessionBytes: number;
  connectS: number;
}

export interface Spread {
  median: number;
  min: number;
  max: number;
  n: number;
}

export function spread(xs: readonly number[]): Spread {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (s.length === 0) return { median: NaN, min: NaN, max: NaN, n: 0 };
  const m = s.length >> 1;
  const median = s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
  return { median, min: s[0]!, max: s[s.length - 1]!, n: s.length };
}

/** A spread rounded for a JSON report: median, min and max to `digits` decimals. */
export function rounded(xs: readonly number[], digits: number): { median: number; min: number; max: number } {
  const { median, min, max } = spread(xs);
  return { median: +median.toFixed(digits), min: +min.toFixed(digits), max: +max.toFixed(digits) };
}

export interface ModeSummary {
  size: number;
  mode: Mode;
  cpuUsPerDelivery: Spread;
  schedUsPerDelivery: Spread;
  deliveriesPerS: Spread;
  p50: Spread;
  p99: Spread;
  memPerSessionBytes: number;
  lost: number;
  duplicated: number;
  deliveries: number;
}

export interface RatioSummary {
  size: number;
  /** CPU per delivery (/proc stat), paired by repetition. */
  sampledOverOff: Spread;
  /** Only when the `spans` mode ran (n = 0 otherwise). */
  spansOverOff: Spread;
  /** Tail capture on over off (sampled / notail); only when the `notail` mode ran. */
  sampledOverNotail: Spread;
  naiveOverOff: Spread;
  offOverFloor: Spread;
  /** Deliveries per second on a SQLite file over :memory: (only when the `file` mode ran). */
  fileOverOffDeliveries: Spread;
  /** The same from schedstat. */
  sched: { sampledOverOff: Spread; naiveOverOff: Spread; offOverFloor: Spread; sampledOverNotail: Spread };
}

export function summarise(samples: readonly Sample[], setups: readonly ModeSetup[]): { modes: ModeSummary[]; ratios: RatioSummary[] } {
  const sizes = [...new Set(samples.map((s) => s.size))].sort((a, b) => a - b);
  const modes: ModeSummary[] = [];
  const ratios: RatioSummary[] = [];
  for (const size of sizes) {
    for (const mode of ALL_MODES) {
      const ss = samples.filter((s) => s.size === size && s.mode === mode);
      if (ss.length === 0) continue;
      modes.push({
        size,
        mode,
        cpuUsPerDelivery: spread(ss.map((s) => s.cpuUsPerDelivery)),
        schedUsPerDelivery: spread(ss.map((s) => s.schedUsPerDelivery)),
        deliveriesPerS: spread(ss.map((s) => s.deliveriesPerS)),
        p50: spread(ss.map((s) => s.p50)),
        p99: spread(ss.map((s) => s.p99)),
        memPerSessionBytes: setups.find((x) => x.size === size && x.mode === mode)?.memPerSessionBytes ?? NaN,
        lost: ss.reduce((n, s) => n + s.lost, 0),
        duplicated: ss.reduce((n, s) => n + s.duplicated, 0),
        deliveries: ss.reduce((n, s) => n + s.delivered, 0),
      });
    }
    const paired = (a: Mode, b: Mode, key: 'cpuUsPerDelivery' | 'schedUsPerDelivery' | 'deliveriesPerS') => {
      const reps = [...new Set(samples.filter((s) => s.size === size).map((s) => s.rep))];
      const out: number[] = [];
      for (const rep of reps) {
        const x = samples.find((s) => s.size === size && s.rep === rep && s.mode === a)?.[key];
        const y = samples.find((s) => s.size === size && s.rep === rep && s.mode === b)?.[key];
        if (x !== undefined && y !== undefined && y > 0) out.push(x / y);
      }
      return spread(out);
    };
    ratios.push({
      size,
      sampledOverOff: paired('sampled', 'off', 'cpuUsPerDelivery'),
      spansOverOff: paired('spans', 'off', 'cpuUsPerDelivery'),
      sampledOverNotail: paired('sampled', 'notail', 'cpuUsPerDelivery'),
      naiveOverOff: paired('naive', 'off', 'cpuUsPerDelivery'),
      offOverFloor: paired('off', 'floor', 'cpuUsPerDelivery'),
      fileOverOffDeliveries: paired('file', 'off', 'deliveriesPerS'),
      sched: {
        sampledOverOff: paired('sampled', 'off', 'schedUsPerDelivery'),
        naiveOverOff: paired('naive', 'off', 'schedUsPerDelivery'),
        offOverFloor: paired('off', 'floor', 'schedUsPerDelivery'),
        sampledOverNotail: paired('sampled', 'notail', 'schedUsPerDelivery'),
      },
    });
  }
  return { modes, ratios };
}

const f = (n: number, digits = 2) => (Number.isFinite(n) ? n.toFixed(digits) : '—');
const sp = (s: Spread, digits = 2) => `${f(s.median, digits)} (${f(s.min, digits)}–${f(s.max, digits)})`;
const int = (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '—');

export function markdown(meta: { startedAt: string; quick: boolean; reps: number; machine: string; messages: Record<number, number>; users: Record<number, number> }, modes: ModeSummary[], ratios: RatioSummary[]): string {
  const lines: string[] = [];
  lines.push(`## Server benchmark (${meta.quick ? 'quick' : 'full'}), ${meta.startedAt}`);
  lines.push('');
  lines.push(`${meta.machine}. One guild; ${meta.reps} repetitions, modes interleaved (order rotated each repetition); medians with (min–max).`);
  lines.push(`Burst per repetition: ${Object.entries(meta.messages).map(([n, m]) => `${m} messages to ${Number(n).toLocaleString('en-US')} sessions (${Number(meta.users[Number(n)]).toLocaleString('en-US')} users)`).join('; ')}.`);
  lines.push('CPU is the server process\'s own utime+stime from /proc/<pid>/stat over the burst (first send to last delivery), divided by deliveries; "sched" is the same from per-thread schedstat (ns resolution).');
  lines.push('');
  lines.push('| sessions | mode | CPU µs/delivery | sched µs/delivery | deliveries/s | fanout p50 ms | fanout p99 ms | memory/idle session | lost |');
  lines.push('|---:|---|---:|---:|---:|---:|---:|---:|---:|');
  for (const m of modes) {
    lines.push(
      `| ${int(m.size)} | ${m.mode} | ${sp(m.cpuUsPerDelivery)} | ${sp(m.schedUsPerDelivery)} | ${int(m.deliveriesPerS.median)} (${int(m.deliveriesPerS.min)}–${int(m.deliveriesPerS.max)}) | ${sp(m.p50, 1)} | ${sp(m.p99, 1)} | ${Number.isFinite(m.memPerSessionBytes) ? `${(m.memPerSessionBytes / 1024).toFixed(1)} KiB` : '—'} | ${int(m.lost)} |`,
    );
  }
  lines.push('');
  // spans/off (sampled without the export) only when that diagnostic mode ran.
  const spans = ratios.some((r) => r.spansOverOff.n > 0);
  lines.push(`| sessions | sampled/off (target ≤ 1.05) |${spans ? ' spans/off |' : ''} naive/off | off/floor (target ≤ 1.5) | sched: sampled/off | sched: naive/off | sched: off/floor |`);
  lines.push(`|---:|---:|${spans ? '---:|' : ''}---:|---:|---:|---:|---:|`);
  for (const r of ratios) {
    lines.push(`| ${int(r.size)} | ${sp(r.sampledOverOff)} |${spans ? ` ${sp(r.spansOverOff)} |` : ''} ${sp(r.naiveOverOff)} | ${sp(r.offOverFloor)} | ${sp(r.sched.sampledOverOff)} | ${sp(r.sched.naiveOverOff)} | ${sp(r.sched.offOverFloor)} |`);
  }
  lines.push('');
  // The storage cost of a broadcast, when the `file` mode ran beside `off`.
  if (ratios.some((r) => r.fileOverOffDeliveries.n > 0)) {
    lines.push('| sessions | deliveries/s, SQLite file over :memory: (target ≥ 0.9) |', '|---:|---:|');
    for (const r of ratios) lines.push(`| ${int(r.size)} | ${sp(r.fileOverOffDeliveries)} |`);
    lines.push('');
  }
  // Tail capture on/off (sampled/notail) only when the notail mode ran.
  if (ratios.some((r) => r.sampledOverNotail.n > 0)) {
    lines.push('| sessions | tail capture on/off: sampled/notail CPU (target ≤ 1.01) | sched |');
    lines.push('|---:|---:|---:|');
    for (const r of ratios) lines.push(`| ${int(r.size)} | ${sp(r.sampledOverNotail, 3)} | ${sp(r.sched.sampledOverNotail, 3)} |`);
    lines.push('');
  }
  return lines.join('\n');
}
