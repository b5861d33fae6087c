// The two measurements of the server benchmark, on one server and its client
// driver: the connect storm (CPU per session, sessions/s, then memory per idle
// session as RSS and as heap after a GC) and one run of messages (burst or
// paced), each read from the server process's /proc before and after.
import { type ClientDriver, type ServerUnderTest, heapAfterGc } from './children.js';
import { pacedPlan } from './paced.js';
import { cpuMicros, rssBytes, schedMicros } from './proc.js';
import type { BurstKind, ModeSetup, Sample } from './summary.js';

/** Burst runs: messages per second offered (as fast as the server takes them, 16 requests in flight). */
export const BURST_RATE = 5_000;

export async function measureConnect(server: ServerUnderTest, driver: ClientDriver, size: number): Promise<ModeSetup> {
  const heapBefore = (await heapAfterGc(server)).heapUsed;
  const rssBefore = rssBytes(server.pid);
  const cpu0 = cpuMicros(server.pid);
  const sched0 = schedMicros(server.pid);
  const t = Date.now();
  const connected = await driver.connect();
  const connectS = (Date.now() - t) / 1000;
  const cpu = cpuMicros(server.pid) - cpu0;
  const sched = schedMicros(server.pid) - sched0;
  // Let the connect's garbage settle before reading memory.
  await new Promise((r) => setTimeout(r, 500));
  const rssAfter = rssBytes(server.pid);
  const heapAfter = (await heapAfterGc(server)).heapUsed;
  const n = Math.max(1, connected);
  return {
    size,
    mode: server.mode,
    connected,
    rssBeforeBytes: rssBefore,
    rssAfterBytes: rssAfter,
    memPerSessionBytes: (rssAfter - rssBefore) / n,
    heapBeforeBytes: heapBefore,
    heapAfterBytes: heapAfter,
    heapPerSessionBytes: (heapAfter - heapBefore) / n,
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
