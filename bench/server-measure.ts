// The two measurements of the server benchmark, on one server and its client
// driver: the connect storm (CPU per session, sessions/s, then memory per idle
// session: RSS, heap and external after a GC, bench/server-memory.ts) and one
// run of messages (burst or paced), each read from the server process's /proc
// before and after.
import type { ClientDriver, ServerUnderTest } from './children.js';
import { pacedPlan } from './paced.js';
import { cpuMicros, schedMicros } from './proc.js';
import { perSession, settledMemory } from './server-memory.js';
import type { BurstKind, ModeSetup, Sample } from './summary.js';

const IDLE_BEFORE_READING_MS = 10_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Burst runs: messages per second offered (as fast as the server takes them, 16 requests in flight). */
export const BURST_RATE = 5_000;

/** The server must have been warmed up (bench/server-memory.ts warmUp) and the driver set up: the baseline is read here. */
export async function measureConnect(server: ServerUnderTest, driver: ClientDriver, size: number): Promise<ModeSetup> {
  // Both readings after the same idle time: V8's memory reducer gives back heap pages and
  // shrinks the young generation some seconds (8 or more) after allocation stops.
  await sleep(IDLE_BEFORE_READING_MS);
  const before = await settledMemory(server.child);
  const cpu0 = cpuMicros(server.pid);
  const sched0 = schedMicros(server.pid);
  const t = Date.now();
  const connected = await driver.connect();
  const connectS = (Date.now() - t) / 1000;
  const cpu = cpuMicros(server.pid) - cpu0;
  const sched = schedMicros(server.pid) - sched0;
  await sleep(IDLE_BEFORE_READING_MS);
  const after = await settledMemory(server.child);
  const n = Math.max(1, connected);
  const per = perSession(before, after, n);
  return {
    size,
    mode: server.mode,
    connected,
    rssBeforeBytes: before.rss,
    rssAfterBytes: after.rss,
    memPerSessionBytes: per.rss,
    rssLessYoungPerSessionBytes: per.rssLessYoung,
    heapBeforeBytes: before.heapUsed,
    heapAfterBytes: after.heapUsed,
    heapPerSessionBytes: per.heapUsed,
    externalPerSessionBytes: per.external,
    connectS,
    connectCpuUsPerSession: cpu / n,
    connectSchedUsPerSession: sched / n,
    sessionsPerS: connected / Math.max(connectS, 1e-3),
  };
}

export interface RunSpec {
  size: number;
  rep: number;
  kind: BurstKind;
  messages: number;
  /** Offered deliveries per second of a paced run. */
  pacedRate: number;
}

export async function measureRun(server: ServerUnderTest, driver: ClientDriver, r: RunSpec): Promise<Sample> {
  const plan = r.kind === 'paced' ? pacedPlan(r.pacedRate, r.size, r.messages) : { messagesPerS: BURST_RATE, timeoutMs: 60_000 };
  const cpu0 = cpuMicros(server.pid);
  const sched0 = schedMicros(server.pid);
  const result = await driver.burst(r.messages, plan.messagesPerS, false, plan.timeoutMs);
  const cpu = cpuMicros(server.pid) - cpu0;
  const sched = schedMicros(server.pid) - sched0;
  const delivered = Math.max(1, result.delivered);
  return {
    size: r.size,
    mode: server.mode,
    kind: r.kind,
    rep: r.rep,
    cpuUsPerDelivery: cpu / delivered,
    schedUsPerDelivery: sched / delivered,
    deliveriesPerS: result.deliveriesPerS,
    p50: result.fanout.p50,
    p99: result.fanout.p99,
    sent: result.sent,
    expected: result.expected,
    delivered: result.delivered,
    lost: result.lost,
    duplicated: result.duplicated,
    wallS: result.wallS,
    cpuMs: cpu / 1000,
  };
}
