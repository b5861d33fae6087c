// Benchmark figures: per burst samples in, per (size, mode) medians with min
// and max, paired ratios per repetition (modes run interleaved, so rep r of
// `sampled` and rep r of `off` saw the same machine state), and the markdown
// table for the README.
import { ALL_MODES, type Mode } from './children.js';

/** `burst`: every message at once (as fast as the server takes them); `paced`: a fixed offered rate of deliveries. */
export type BurstKind = 'burst' | 'paced';

export interface Sample {
  size: number;
  mode: Mode;
  kind: BurstKind;
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

/** One mode's connect storm and the memory its idle sessions hold afterwards. */
export interface ModeSetup {
  size: number;
  mode: Mode;
  connected: number;
  rssBeforeBytes: number;
  rssAfterBytes: number;
  /**
   * RSS delta / sessions: readings after two GCs (the least-RSS of three a second apart), each
   * after 10 s idle, the baseline after a warm-up.
   */
  memPerSessionBytes: number;
  /** The same less the young generation's resident pages (sized by the allocation rate, not by sessions). */
  rssLessYoungPerSessionBytes: number;
  /** heapUsed after a forced GC (process.memoryUsage), before the connect and after it. */
  heapBeforeBytes: number;
  heapAfterBytes: number;
  heapPerSessionBytes: number;
  /** `external` (Buffers' memory outside the heap) after a GC, per session. */
  externalPerSessionBytes: number;
  /** First connect to the last session ready (GUILD_CREATE; for Socket.IO, connected and in the room). */
  connectS: number;
  /** The server's CPU over the connect storm (/proc stat), per session that got ready. */
  connectCpuUsPerSession: number;
  /** The same from schedstat. */
  connectSchedUsPerSession: number;
  sessionsPerS: number;
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
  kind: BurstKind;
  cpuUsPerDelivery: Spread;
  schedUsPerDelivery: Spread;
  deliveriesPerS: Spread;
  p50: Spread;
  p99: Spread;
  memPerSessionBytes: number;
  heapPerSessionBytes: number;
  lost: number;
  duplicated: number;
  deliveries: number;
}

export interface RatioSummary {
  size: number;
  kind: BurstKind;
  /** Guildhall with tracing off over Socket.IO (CPU per delivery, /proc stat), paired by repetition. */
  offOverSocketio: Spread;
  /** Over the floor that keeps a seq and a resume ring per socket. */
  offOverFloorSeq: Spread;
  offOverFloor: Spread;
  sampledOverOff: Spread;
  /** Only when the `spans` mode ran (n = 0 otherwise). */
  spansOverOff: Spread;
  /** Tail capture on over off (sampled / notail); only when the `notail` mode ran. */
  sampledOverNotail: Spread;
  naiveOverOff: Spread;
  /** Deliveries per second on a SQLite file over :memory: (only when the `file` mode ran). */
  fileOverOffDeliveries: Spread;
  /** The same from schedstat. */
  sched: { offOverSocketio: Spread; offOverFloorSeq: Spread; sampledOverOff: Spread; naiveOverOff: Spread; offOverFloor: Spread; sampledOverNotail: Spread };
}

/** Guildhall (tracing off) over Socket.IO, per idle session and per connect; one connect per mode and size, so no spread. */
export interface MemoryRatio {
  size: number;
  rssOffOverSocketio: number;
  heapOffOverSocketio: number;
  connectCpuOffOverSocketio: number;
}

const KINDS: readonly BurstKind[] = ['burst', 'paced'];

export function summarise(samples: readonly Sample[], setups: readonly ModeSetup[]): { modes: ModeSummary[]; ratios: RatioSummary[]; memory: MemoryRatio[] } {
  const sizes = [...new Set(samples.map((s) => s.size))].sort((a, b) => a - b);
  const modes: ModeSummary[] = [];
  const ratios: RatioSummary[] = [];
  const memory: MemoryRatio[] = [];
  for (const size of sizes) {
    for (const kind of KINDS) {
      for (const mode of ALL_MODES) {
        const ss = samples.filter((s) => s.size === size && s.mode === mode && s.kind === kind);
        if (ss.length === 0) continue;
        const setup = setups.find((x) => x.size === size && x.mode === mode);
        modes.push({
          size,
          mode,
          kind,
          cpuUsPerDelivery: spread(ss.map((s) => s.cpuUsPerDelivery)),
          schedUsPerDelivery: spread(ss.map((s) => s.schedUsPerDelivery)),
          deliveriesPerS: spread(ss.map((s) => s.deliveriesPerS)),
          p50: spread(ss.map((s) => s.p50)),
          p99: spread(ss.map((s) => s.p99)),
          memPerSessionBytes: setup?.memPerSessionBytes ?? NaN,
          heapPerSessionBytes: setup?.heapPerSessionBytes ?? NaN,
          lost: ss.reduce((n, s) => n + s.lost, 0),
          duplicated: ss.reduce((n, s) => n + s.duplicated, 0),
          deliveries: ss.reduce((n, s) => n + s.delivered, 0),
        });
      }
      if (!samples.some((s) => s.size === size && s.kind === kind)) continue;
      const paired = (a: Mode, b: Mode, key: 'cpuUsPerDelivery' | 'schedUsPerDelivery' | 'deliveriesPerS') => {
        const of = samples.filter((s) => s.size === size && s.kind === kind);
        const out: number[] = [];
        for (const rep of new Set(of.map((s) => s.rep))) {
          const x = of.find((s) => s.rep === rep && s.mode === a)?.[key];
          const y = of.find((s) => s.rep === rep && s.mode === b)?.[key];
          if (x !== undefined && y !== undefined && y > 0) out.push(x / y);
        }
        return spread(out);
      };
      ratios.push({
        size,
        kind,
        offOverSocketio: paired('off', 'socketio', 'cpuUsPerDelivery'),
        offOverFloorSeq: paired('off', 'floor-seq', 'cpuUsPerDelivery'),
        offOverFloor: paired('off', 'floor', 'cpuUsPerDelivery'),
        sampledOverOff: paired('sampled', 'off', 'cpuUsPerDelivery'),
        spansOverOff: paired('spans', 'off', 'cpuUsPerDelivery'),
        sampledOverNotail: paired('sampled', 'notail', 'cpuUsPerDelivery'),
        naiveOverOff: paired('naive', 'off', 'cpuUsPerDelivery'),
        fileOverOffDeliveries: paired('file', 'off', 'deliveriesPerS'),
        sched: {
          offOverSocketio: paired('off', 'socketio', 'schedUsPerDelivery'),
          offOverFloorSeq: paired('off', 'floor-seq', 'schedUsPerDelivery'),
          sampledOverOff: paired('sampled', 'off', 'schedUsPerDelivery'),
          naiveOverOff: paired('naive', 'off', 'schedUsPerDelivery'),
          offOverFloor: paired('off', 'floor', 'schedUsPerDelivery'),
          sampledOverNotail: paired('sampled', 'notail', 'schedUsPerDelivery'),
        },
      });
    }
    const off = setups.find((x) => x.size === size && x.mode === 'off');
    const sio = setups.find((x) => x.size === size && x.mode === 'socketio');
    if (off && sio) {
      memory.push({
        size,
        rssOffOverSocketio: off.memPerSessionBytes / sio.memPerSessionBytes,
        heapOffOverSocketio: off.heapPerSessionBytes / sio.heapPerSessionBytes,
        connectCpuOffOverSocketio: off.connectCpuUsPerSession / sio.connectCpuUsPerSession,
      });
    }
  }
  return { modes, ratios, memory };
}

const f = (n: number, digits = 2) => (Number.isFinite(n) ? n.toFixed(digits) : '—');
const sp = (s: Spread, digits = 2) => `${f(s.median, digits)} (${f(s.min, digits)}–${f(s.max, digits)})`;
const int = (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '—');
const kib = (bytes: number) => (Number.isFinite(bytes) ? `${(bytes / 1024).toFixed(1)} KiB` : '—');

/** The ratio columns, shown when some row has a value for them. */
const RATIO_COLUMNS: readonly { label: string; get: (r: RatioSummary) => Spread; digits?: number }[] = [
  { label: 'guildhall/socketio (off, target ≤ 0.9)', get: (r) => r.offOverSocketio },
  { label: 'off/floor-seq (target ≤ 1.25)', get: (r) => r.offOverFloorSeq },
  { label: 'off/floor', get: (r) => r.offOverFloor },
  { label: 'sampled/off (target ≤ 1.05)', get: (r) => r.sampledOverOff },
  { label: 'spans/off', get: (r) => r.spansOverOff },
  { label: 'naive/off', get: (r) => r.naiveOverOff },
  { label: 'tail on/off: sampled/notail (target ≤ 1.01)', get: (r) => r.sampledOverNotail, digits: 3 },
  { label: 'deliveries/s, SQLite file over :memory: (target ≥ 0.9)', get: (r) => r.fileOverOffDeliveries },
  { label: 'sched: guildhall/socketio', get: (r) => r.sched.offOverSocketio },
  { label: 'sched: off/floor-seq', get: (r) => r.sched.offOverFloorSeq },
  { label: 'sched: off/floor', get: (r) => r.sched.offOverFloor },
  { label: 'sched: sampled/off', get: (r) => r.sched.sampledOverOff },
  { label: 'sched: naive/off', get: (r) => r.sched.naiveOverOff },
];

export interface RunMeta {
  startedAt: string;
  quick: boolean;
  reps: number;
  machine: string;
  messages: Record<number, number>;
  users: Record<number, number>;
  /** Offered deliveries per second of the paced runs (0: none). */
  pacedRate: number;
  /** CPUs the servers and the clients were pinned to, if they were. */
  pinned?: { server: number; clients: number } | undefined;
  /** Guildhall ran server/main.ts through tsx rather than compiled. */
  fromSource?: boolean;
  /** Every server ran with V8's --single-threaded-gc (collections on the event loop). */
  singleThreadedGc?: boolean;
}

export function markdown(meta: RunMeta, modes: ModeSummary[], ratios: RatioSummary[], setups: readonly ModeSetup[], memory: readonly MemoryRatio[]): string {
  const lines: string[] = [];
  lines.push(`## Server benchmark (${meta.quick ? 'quick' : 'full'}), ${meta.startedAt}`);
  lines.push('');
  lines.push(`${meta.machine}. One guild; ${meta.reps} repetitions, modes interleaved (order rotated each repetition); medians with (min–max).`);
  lines.push(`Per repetition: ${Object.entries(meta.messages).map(([n, m]) => `${m} messages to ${Number(n).toLocaleString('en-US')} sessions (${Number(meta.users[Number(n)]).toLocaleString('en-US')} users)`).join('; ')}; burst: all at once; ${meta.pacedRate > 0 ? `paced: the same messages at ${int(meta.pacedRate)} deliveries/s` : 'no paced runs'}.`);
  lines.push(meta.fromSource === true ? 'Guildhall ran from source (tsx).' : 'Guildhall ran compiled (dist/server/main.js, as `npm start` runs it).');
  if (meta.singleThreadedGc === true) lines.push('Every server ran with V8\'s `--single-threaded-gc` (collections on the event loop, no helper threads).');
  lines.push(meta.pinned ? `Servers pinned to CPU ${meta.pinned.server}, client processes to CPU ${meta.pinned.clients} (taskset).` : 'Not pinned: servers and clients share the CPUs.');
  lines.push('CPU is the server process\'s own utime+stime from /proc/<pid>/stat over the run (first send to last delivery), divided by deliveries; "sched" is the same from per-thread schedstat (ns resolution).');
  lines.push('');
  lines.push('| sessions | mode | run | CPU µs/delivery | sched µs/delivery | deliveries/s | fanout p50 ms | fanout p99 ms | lost |');
  lines.push('|---:|---|---|---:|---:|---:|---:|---:|---:|');
  for (const m of modes) {
    lines.push(
      `| ${int(m.size)} | ${m.mode} | ${m.kind} | ${sp(m.cpuUsPerDelivery)} | ${sp(m.schedUsPerDelivery)} | ${int(m.deliveriesPerS.median)} (${int(m.deliveriesPerS.min)}–${int(m.deliveriesPerS.max)}) | ${sp(m.p50, 1)} | ${sp(m.p99, 1)} | ${int(m.lost)} |`,
    );
  }
  // A paced run that did not keep up with its offered rate measured a queue, not latency without one.
  const behind = modes.filter((m) => m.kind === 'paced' && m.deliveriesPerS.median < 0.9 * meta.pacedRate);
  if (behind.length > 0) {
    lines.push('');
    lines.push(`Paced runs below 90 % of the offered ${int(meta.pacedRate)} deliveries/s (a queue formed; their latency is not latency without a queue): ${behind.map((m) => `${int(m.size)} ${m.mode}`).join(', ')}.`);
  }
  lines.push('');
  lines.push('Connect storm (all sessions of a size at once, as fast as `--connect-rate` lets them; Guildhall: IDENTIFY → READY → GUILD_CREATE; Socket.IO: connect and join the room; floors: the WebSocket handshake only) and memory per idle session afterwards:');
  lines.push('');
  lines.push('| sessions | mode | connected | sessions/s | connect CPU µs/session | sched µs/session | RSS/idle session | RSS less young gen | heap after GC/idle session | external/idle session |');
  lines.push('|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const x of setups) {
    lines.push(
      `| ${int(x.size)} | ${x.mode} | ${int(x.connected)} | ${int(x.sessionsPerS)} | ${f(x.connectCpuUsPerSession, 0)} | ${f(x.connectSchedUsPerSession, 0)} | ${kib(x.memPerSessionBytes)} | ${kib(x.rssLessYoungPerSessionBytes)} | ${kib(x.heapPerSessionBytes)} | ${kib(x.externalPerSessionBytes)} |`,
    );
  }
  lines.push('');
  lines.push(
    'Memory readings are taken after two GCs (the least-RSS of three a second apart), each after 10 s idle, the baseline after a warm-up (20 sessions connected and closed) with the world built; "young gen" is V8\'s new space, which grows with the connect storm\'s allocation rate and stays grown (`npm run bench:session-memory` for idle sessions past a heartbeat, and the young generation pinned with `--semi-space-mb`).',
  );
  lines.push('');
  const columns = RATIO_COLUMNS.filter((c) => ratios.some((r) => c.get(r).n > 0));
  if (columns.length > 0) {
    lines.push('CPU per delivery, paired by repetition:');
    lines.push('');
    lines.push(`| sessions | run | ${columns.map((c) => c.label).join(' | ')} |`);
    lines.push(`|---:|---|${columns.map(() => '---:|').join('')}`);
    for (const r of ratios) lines.push(`| ${int(r.size)} | ${r.kind} | ${columns.map((c) => sp(c.get(r), c.digits)).join(' | ')} |`);
    lines.push('');
  }
  if (memory.length > 0) {
    lines.push('| sessions | guildhall/socketio: RSS per idle session | heap per idle session | connect CPU per session |');
    lines.push('|---:|---:|---:|---:|');
    for (const m of memory) lines.push(`| ${int(m.size)} | ${f(m.rssOffOverSocketio)} | ${f(m.heapOffOverSocketio)} | ${f(m.connectCpuOffOverSocketio)} |`);
    lines.push('');
  }
  return lines.join('\n');
}
