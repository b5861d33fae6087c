// rolling-restart: chat and broadcast traffic while every node in turn gets
// SIGTERM (it drains: guilds handed over, op 7 RECONNECT to its sessions,
// which RESUME wherever READY's resume_gateway_url says), exits, and is
// started again before the next one goes. A deploy: the run passes only with
// 0 lost, 0 duplicated, 0 out of order over the gateway, per session; an
// INVALID_SESSION or anything recovered from history fails it (report.ts).
import { now, sleep } from '../clock.js';
import { MAX_IN_FLIGHT, pacedUntil } from '../pacing.js';
import { connectAndWait, drain, range } from './common.js';
import { clusterWorld, requireCluster, sendClusterMessage, waitReconnected } from './cluster-load.js';
import type { Scenario } from './types.js';

/** Traffic before the first restart and between restarts, so each node has sessions and guilds again when it goes. */
const SETTLE_MS = 3_000;
/** A drain is bounded by GUILDHALL_DRAIN_TIMEOUT_MS (30 s by default); past this the node is killed and the run fails. */
const EXIT_BOUND_MS = 45_000;

export const rollingRestart: Scenario = {
  name: 'rolling-restart',
  plan: (o) => clusterWorld(o.guilds),
  async run(ctx) {
    const o = ctx.options;
    const cluster = requireCluster(ctx);
    await connectAndWait(ctx, range(o.sessions), o.connectRate, o.sessions);
    await ctx.hooks.onPhase?.('ready');
    ctx.stage('chatting');
    ctx.loadStarted();
    let restarting = true;
    const sending = pacedUntil(o.messages, o.rate, ctx.deadline, (i) => sendClusterMessage(ctx, i, 'rr'), MAX_IN_FLIGHT, () => !restarting);
    try {
      await sleep(SETTLE_MS);
      for (let n = 0; n < cluster.size; n++) {
        ctx.stage(`node ${n + 1}/${cluster.size}: SIGTERM, draining`);
        const t = now();
        const exit = await cluster.terminate(n, EXIT_BOUND_MS);
        ctx.notes[`node${n + 1}_drain_s`] = Math.round(now() - t) / 1000;
        if (exit.code !== 0) ctx.problems.push(`node ${n + 1} exited with ${exit.code ?? exit.signal} after SIGTERM (a drain ends with 0)`);
        ctx.stage(`node ${n + 1}/${cluster.size}: starting again`);
        await cluster.startNode(n);
        await waitReconnected(ctx, `node${n + 1}`);
        await sleep(SETTLE_MS);
      }
    } finally {
      restarting = false;
    }
    ctx.notes.restarted = cluster.size;
    await sending;
    await drain(ctx, 60_000);
    ctx.loadEnded();
  },
};
