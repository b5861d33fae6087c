// The load the cluster scenarios share: every user in guild 0 (a broadcast to
// all) and in one of the other guilds (chat), one message in three to guild
// 0; and the wait until every session is connected again after a node went.
import { now } from '../clock.js';
import { MESSAGE_INTENTS } from '../protocol.js';
import type { RunContext, WorldShape } from './types.js';

export function clusterWorld(guilds: number): WorldShape {
  return {
    membership: (u) => [0, 1 + (u % (guilds - 1))],
    label: (g) => (g === 0 ? 'broadcast' : 'chat'),
    intents: () => MESSAGE_INTENTS,
  };
}

/** Message `i`: every third to the broadcast guild, the rest to a random chat guild. */
export function sendClusterMessage(ctx: RunContext, i: number, prefix: string): Promise<boolean> {
  const g = i % 3 === 0 ? 0 : 1 + ctx.rng.int(ctx.options.guilds - 1);
  return ctx.sendMessage(g, `${prefix}${i}`);
}

/** Waits (bounded) until every session that has not failed is connected; records how long it took. */
export async function waitReconnected(ctx: RunContext, what: string, timeoutMs = 60_000): Promise<void> {
  const t = now();
  const back = await ctx.pool.waitFor((s) => s.connected + s.failed >= s.sessions, Math.min(ctx.left(), timeoutMs), 100);
  ctx.notes[`${what}_reconnected_s`] = Math.round(now() - t) / 1000;
  if (!back.ok) ctx.problems.push(`${what}: only ${back.stats.connected} of ${back.stats.sessions} sessions connected again within ${timeoutMs / 1000} s`);
}

export function requireCluster(ctx: RunContext) {
  if (!ctx.cluster) throw new Error(`${ctx.options.scenario} needs the nodes started by client-sim (--spawn-cluster)`);
  return ctx.cluster;
}
