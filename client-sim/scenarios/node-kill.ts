// node-kill: chat and broadcast traffic; a third of the way in, one node is
// killed (SIGKILL: no drain) and, --down later, started again as a process
// supervisor would. Its sockets drop; its sessions cannot resume anywhere
// (INVALID_SESSION), IDENTIFY afresh and read the history they missed over
// REST; its guilds move once their leases expire. The run passes when every
// acknowledged message reached each member once: over the gateway or, for a
// session that had to IDENTIFY again (or saw its guild go unavailable), in
// history; none twice over the gateway.
import { now, sleep } from '../clock.js';
import { pacedUntil } from '../pacing.js';
import { connectAndWait, drain, loadSeconds, range } from './common.js';
import { clusterWorld, requireCluster, sendClusterMessage, waitReconnected } from './cluster-load.js';
import type { Scenario } from './types.js';

export const nodeKill: Scenario = {
  name: 'node-kill',
  plan: (o) => clusterWorld(o.guilds),
  expectsNodeLoss: true,
  async run(ctx) {
    const o = ctx.options;
    const cluster = requireCluster(ctx);
    await connectAndWait(ctx, range(o.sessions), o.connectRate, o.sessions);
    await ctx.hooks.onPhase?.('ready');
    ctx.stage('chatting');
    ctx.loadStarted();
    const sending = pacedUntil(o.messages, o.rate, Math.min(ctx.deadline, now() + loadSeconds(ctx) * 1000), (i) => sendClusterMessage(ctx, i, 'k'));
    await sleep(((o.messages / o.rate) * 1000) / 3);
    const victim = ctx.rng.int(cluster.size);
    ctx.stage(`kill -9 node ${victim + 1}`);
    await cluster.kill(victim);
    const killedAt = now();
    ctx.notes.killed_node = victim + 1;
    await sleep(Math.min(o.down * 1000, ctx.left()));
    ctx.stage(`node ${victim + 1}: starting again`);
    await cluster.startNode(victim);
    ctx.notes.down_s = Math.round(now() - killedAt) / 1000;
    await sending;
    await waitReconnected(ctx, 'after_kill');
    await drain(ctx, 60_000);
    ctx.loadEnded();
  },
};
