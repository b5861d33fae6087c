// Building blocks the scenarios share: connect and wait for READY, paced
// sending with a bounded number of requests in flight, and draining until
// every due delivery has arrived. All of them stop at the run's deadline.
import { now, sleep } from '../clock.js';
import { pacedUntil } from '../pacing.js';
import type { RunContext } from './types.js';

/**
 * After the last session is complete, the load waits this long: the ledger
 * expects an event at a session only if its GUILD_CREATE came more than a
 * millisecond before the send, and the stats that say "complete" are polled
 * from other threads, whose clocks may differ by about that much. Without it,
 * a session completing right at the poll was now and then left out.
 */
const SETTLE_MS = 25;

/** Connects `indices` at `perSecond` and waits until `target` sessions in all are complete (READY + every GUILD_CREATE). */
export async function connectAndWait(ctx: RunContext, indices: readonly number[], perSecond: number, target: number): Promise<boolean> {
  ctx.stage('connecting');
  await ctx.pool.connect(indices, perSecond);
  const budget = Math.min(ctx.left(), 30_000 + (indices.length / perSecond) * 2000);
  const { ok, stats } = await ctx.pool.waitFor((s) => s.complete >= target || s.complete + s.failed >= s.sessions, budget, 100);
  ctx.notes.sessions_ready = stats.complete;
  if (!ok || stats.complete < target) ctx.problems.push(`only ${stats.complete} of ${target} sessions got READY and every GUILD_CREATE`);
  await sleep(SETTLE_MS);
  return ok && stats.complete >= target;
}

/**
 * Calls `send(i)` for i in [0, count) at `perSecond`, at most MAX_IN_FLIGHT
 * at once, for at most `maxS` seconds (and never past the deadline). Resolves
 * when every started send has finished; returns how many were started.
 */
export function paced(ctx: RunContext, count: number, perSecond: number, maxS: number, send: (i: number) => Promise<unknown>): Promise<number> {
  return pacedUntil(count, perSecond, Math.min(ctx.deadline, now() + maxS * 1000), send);
}

/** Waits until nothing due is outstanding (or `timeoutMs`); true when drained. */
export async function drain(ctx: RunContext, timeoutMs = 30_000): Promise<boolean> {
  ctx.stage('draining');
  const { ok } = await ctx.pool.waitFor((s) => s.outstanding <= 0, Math.min(timeoutMs, ctx.left()), 20);
  return ok;
}

/** Seconds the load phase may take: the configured duration, or what the count needs at the rate, with slack. */
export function loadSeconds(ctx: RunContext): number {
  const o = ctx.options;
  return Math.max(o.duration, o.messages / o.rate) * 1.5 + 5;
}

/**
 * The load phase most scenarios share: announce it, send `--messages` items at
 * `--rate` through `send`, wait until everything due has arrived, close it.
 */
export async function pacedLoad(ctx: RunContext, stage: string, send: (i: number) => Promise<unknown>): Promise<void> {
  const o = ctx.options;
  ctx.stage(stage);
  await ctx.hooks.onPhase?.('load-start');
  ctx.loadStarted();
  await paced(ctx, o.messages, o.rate, loadSeconds(ctx), send);
  await drain(ctx);
  ctx.loadEnded();
  await ctx.hooks.onPhase?.('load-end');
}

export const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);
