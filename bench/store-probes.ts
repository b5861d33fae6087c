// What bench:store reads beside the client's ack latency, per phase, so that
// the server's share of a tail can be told from the load generator's:
// - the server's own REST histogram for the posts (GET /metrics, before and
//   after: the phase's bucket counts), its event-loop delay (prom-client resets
//   it at each scrape, so the end scrape covers the phase), GC time, and the
//   group commits (count, writes, time);
// - CPU time of the server, of this process (the posters and the session
//   pool's worker) and of PostgreSQL's processes, from /proc;
// - this process's event-loop delay (perf_hooks), the posters' own thread;
// - for the server's main thread and the posters' thread, what the scheduler
//   did to them (/proc/<pid>/task/<tid>/schedstat and status): time spent
//   runnable but waiting for a core, and involuntary context switches (the
//   kernel took the core away). On two cores shared by the server, the client
//   and PostgreSQL, a post that arrives while the server's thread waits for a
//   core waits as long: these are counted, where a latency is only timed;
// - the load averages at the end.
import { readFileSync, readdirSync } from 'node:fs';
import { loadavg } from 'node:os';
import { type IntervalHistogram, monitorEventLoopDelay } from 'node:perf_hooks';
import { cpuMicros } from './proc.js';

type Samples = Map<string, number>;

/** Prometheus text exposition as `name{labels}` -> value (labels as written, which is stable per server). */
export function parseMetrics(text: string): Samples {
  const out: Samples = new Map();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const cut = line.lastIndexOf(' ');
    out.set(line.slice(0, cut), Number(line.slice(cut + 1)));
  }
  return out;
}

async function scrape(url: string): Promise<Samples> {
  return parseMetrics(await (await fetch(`${url}/metrics`)).text());
}

/** A histogram's bucket counts (cumulative, by upper bound) over the samples whose key contains every `filters` string. */
function buckets(s: Samples, name: string, filters: readonly string[]): Map<number, number> {
  const out = new Map<number, number>();
  for (const [key, value] of s) {
    if (!key.startsWith(`${name}_bucket{`) || !filters.every((f) => key.includes(f))) continue;
    const le = /le="([^"]+)"/.exec(key)?.[1];
    if (le === undefined) continue;
    const bound = le === '+Inf' ? Infinity : Number(le);
    out.set(bound, (out.get(bound) ?? 0) + value);
  }
  return out;
}

function sum(s: Samples, prefix: string, label?: string): number {
  let total = 0;
  for (const [key, value] of s) if ((key === prefix || key.startsWith(`${prefix}{`)) && (label === undefined || key.includes(label))) total += value;
  return total;
}

/**
 * The q-quantile of a phase from cumulative bucket counts at its start and end, interpolated
 * linearly inside its bucket (so only as fine as the buckets: say which bucket it fell in).
 */
export function bucketQuantile(before: Map<number, number>, after: Map<number, number>, q: number): { value: number; lower: number; upper: number; count: number } {
  const bounds = [...after.keys()].sort((a, b) => a - b);
  const counts = bounds.map((b) => (after.get(b) ?? 0) - (before.get(b) ?? 0));
  const total = counts.at(-1) ?? 0;
  const rank = q * total;
  for (let i = 0; i < bounds.length; i++) {
    if (counts[i]! >= rank && total > 0) {
      const lower = i === 0 ? 0 : bounds[i - 1]!;
      const below = i === 0 ? 0 : counts[i - 1]!;
      const upper = bounds[i]!;
      const within = counts[i]! - below;
      const value = upper === Infinity ? lower : lower + ((upper - lower) * (rank - below)) / Math.max(1, within);
      return { value, lower, upper, count: total };
    }
  }
  return { value: 0, lower: 0, upper: 0, count: total };
}

/** PIDs of PostgreSQL's processes (postgres and its backends), by command name. */
function postgresPids(): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/comm`, 'utf8').trim() === 'postgres') out.push(Number(entry));
    } catch {
      // gone
    }
  }
  return out;
}

/** CPU of every postgres process now, by pid (backends come and go: a phase counts the pids it saw at both ends, plus new ones from 0). */
function postgresCpu(): Map<number, number> {
  const out = new Map<number, number>();
  for (const pid of postgresPids()) {
    try {
      out.set(pid, cpuMicros(pid));
    } catch {
      // gone
    }
  }
  return out;
}

/** CPU time of this process's main thread (its task id is the pid), µs, from its schedstat (ns). */
export function mainThreadMicros(): number {
  return Number(readFileSync(`/proc/self/task/${process.pid}/schedstat`, 'utf8').split(' ')[0]) / 1000;
}

/** A main thread's scheduling so far: ns waiting on a run queue, and involuntary context switches. */
export interface Scheduling {
  waitNs: number;
  preempted: number;
}

export function mainThreadScheduling(pid: number): Scheduling {
  const waitNs = Number(readFileSync(`/proc/${pid}/task/${pid}/schedstat`, 'utf8').split(' ')[1]);
  const m = /^nonvoluntary_ctxt_switches:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/task/${pid}/status`, 'utf8'));
  return { waitNs, preempted: m ? Number(m[1]) : NaN };
}

export interface PhaseProbe {
  /** Server-side POST /channels/:id/messages latency from its own histogram, ms (p50, p99 interpolated in their buckets). */
  serverP50: number;
  serverP99: number;
  /** The bucket the server's p99 fell in, ms. */
  serverP99Bucket: string;
  /** Server event-loop delay over the phase (prom-client's monitor, 10 ms resolution), ms. */
  serverLoopP99: number;
  serverLoopMax: number;
  /** GC time in the server over the phase, ms, and the count of GCs. */
  serverGcMs: number;
  serverGcs: number;
  /** Of those, the mark-compacts (prom-client's kind="major"): their count and ms. One of 30-80 ms in an 8 s phase delays about as many posts as a p99 counts. */
  serverMajorGcs: number;
  serverMajorGcMs: number;
  /** Group commits in the phase, the writes in them, and the mean commit time (ms). */
  commits: number;
  commitWrites: number;
  commitMeanMs: number;
  /** CPU time over the phase, in ms per second of wall time (1000 = one core busy). */
  serverCpu: number;
  clientCpu: number;
  /** Of the client's: its main thread (the posters), the rest being the session pool's worker and V8's and libuv's helpers. */
  clientMainCpu: number;
  postgresCpu: number;
  /** This process's main thread (the posters): event-loop delay p99 and max over the phase, ms. */
  clientLoopP99: number;
  clientLoopMax: number;
  /** Server's main thread: ms per second runnable but not running (waiting for a core), and involuntary switches per second. */
  serverRunqueueMs: number;
  serverPreemptsPerS: number;
  /** The same for the posters' thread (this process's main thread). */
  clientRunqueueMs: number;
  clientPreemptsPerS: number;
  /** 1-minute load average at the end of the phase. */
  load1: number;
}

export class PhaseMeter {
  private readonly loop: IntervalHistogram = monitorEventLoopDelay({ resolution: 2 });
  private t0 = 0;
  private serverCpu0 = 0;
  private clientCpu0 = 0;
  private clientMain0 = 0;
  private pg0 = new Map<number, number>();
  private metrics0: Samples = new Map();
  private serverSched0: Scheduling = { waitNs: 0, preempted: 0 };
  private clientSched0: Scheduling = { waitNs: 0, preempted: 0 };

  constructor(
    private readonly serverUrl: string,
    private readonly serverPid: number,
  ) {}

  async start(): Promise<void> {
    this.metrics0 = await scrape(this.serverUrl);
    this.pg0 = postgresCpu();
    this.serverCpu0 = cpuMicros(this.serverPid);
    this.clientCpu0 = cpuMicros(process.pid);
    this.clientMain0 = mainThreadMicros();
    this.serverSched0 = mainThreadScheduling(this.serverPid);
    this.clientSched0 = mainThreadScheduling(process.pid);
    this.t0 = performance.now();
    this.loop.reset();
    this.loop.enable();
  }

  async end(): Promise<PhaseProbe> {
    this.loop.disable();
    const wallS = (performance.now() - this.t0) / 1000;
    const serverCpu = (cpuMicros(this.serverPid) - this.serverCpu0) / 1000 / wallS;
    const clientCpu = (cpuMicros(process.pid) - this.clientCpu0) / 1000 / wallS;
    const clientMainCpu = (mainThreadMicros() - this.clientMain0) / 1000 / wallS;
    const serverSched = mainThreadScheduling(this.serverPid);
    const clientSched = mainThreadScheduling(process.pid);
    let pg = 0;
    for (const [pid, us] of postgresCpu()) pg += us - (this.pg0.get(pid) ?? 0);
    const m1 = await scrape(this.serverUrl);
    const m0 = this.metrics0;
    const route = ['method="POST"', '/messages"'];
    const http0 = buckets(m0, 'guildhall_http_request_duration_seconds', route);
    const http1 = buckets(m1, 'guildhall_http_request_duration_seconds', route);
    const p50 = bucketQuantile(http0, http1, 0.5);
    const p99 = bucketQuantile(http0, http1, 0.99);
    const delta = (name: string) => sum(m1, name) - sum(m0, name);
    const deltaWith = (name: string, label: string) => sum(m1, name, label) - sum(m0, name, label);
    const commits = delta('guildhall_store_commit_duration_seconds_count');
    return {
      serverP50: p50.value * 1000,
      serverP99: p99.value * 1000,
      serverP99Bucket: `${p99.lower * 1000}-${p99.upper * 1000}`,
      serverLoopP99: (m1.get('nodejs_eventloop_lag_p99_seconds') ?? NaN) * 1000,
      serverLoopMax: (m1.get('nodejs_eventloop_lag_max_seconds') ?? NaN) * 1000,
      serverGcMs: delta('nodejs_gc_duration_seconds_sum') * 1000,
      serverGcs: delta('nodejs_gc_duration_seconds_count'),
      serverMajorGcs: deltaWith('nodejs_gc_duration_seconds_count', 'kind="major"'),
      serverMajorGcMs: deltaWith('nodejs_gc_duration_seconds_sum', 'kind="major"') * 1000,
      commits,
      commitWrites: delta('guildhall_store_commit_batch_size_sum'),
      commitMeanMs: commits > 0 ? (delta('guildhall_store_commit_duration_seconds_sum') * 1000) / commits : 0,
      serverCpu,
      clientCpu,
      clientMainCpu,
      postgresCpu: pg / 1000 / wallS,
      clientLoopP99: this.loop.percentile(99) / 1e6,
      clientLoopMax: this.loop.max / 1e6,
      serverRunqueueMs: (serverSched.waitNs - this.serverSched0.waitNs) / 1e6 / wallS,
      serverPreemptsPerS: (serverSched.preempted - this.serverSched0.preempted) / wallS,
      clientRunqueueMs: (clientSched.waitNs - this.clientSched0.waitNs) / 1e6 / wallS,
      clientPreemptsPerS: (clientSched.preempted - this.clientSched0.preempted) / wallS,
      load1: loadavg()[0]!,
    };
  }
}
