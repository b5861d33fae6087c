// resume-storm: chat traffic while, twice, a --cut share of the connections
// is dropped (no close frame, as a network failure) and RESUMEd a moment
// later. The replay must fill every gap: the run passes only when no event
// was lost, repeated or reordered across the resumes.
import { now, sleep } from '../clock.js';
import { MESSAGE_INTENTS } from '../protocol.js';
import { connectAndWait, drain, loadSeconds, paced, range } from './common.js';
import type { RunContext, Scenario } from './types.js';

const WAVES = 2;
/** How long cut sessions stay away: long enough for events to pile up for them. */
const OUTAGE_MS = 750;

async function wave(ctx: RunContext, n: number): Promise<void> {
  const ready = (await ctx.pool.stats(true)).ready;
  const victims = ctx.rng.sample(ready.length, Math.round(ready.length * ctx.options.cut)).map((i) => ready[i]!);
  ctx.stage(`wave ${n}: cut ${victims.length}`);
  await ctx.pool.cut(victims);
  ctx.notes.cut = Number(ctx.notes.cut ?? 0) + victims.length;
  await sleep(OUTAGE_MS);
  ctx.stage(`wave ${n}: resuming ${victims.length}`);
  await ctx.pool.resume(victims, ctx.options.connectRate);
  const back = await ctx.pool.waitFor((s) => s.connected + s.failed >= s.sessions, Math.min(ctx.left(), 30_000 + (victims.length / ctx.options.connectRate) * 2000));
  if (!back.ok) ctx.problems.push(`wave ${n}: only ${back.stats.connected} of ${back.stats.sessions} sessions connected again`);
}

export const resumeStorm: Scenario = {
  name: 'resume-storm',
  plan: (o) => ({ membership: (u, rng) => [u % o.guilds, ...(rng.next() < 0.3 ? [rng.int(o.guilds)] : [])], intents: () => MESSAGE_INTENTS }),
  async run(ctx) {
    const o = ctx.options;
    await connectAndWait(ctx, range(o.sessions), o.connectRate, o.sessions);
    await ctx.hooks.onPhase?.('ready');
    ctx.stage('chatting');
    ctx.loadStarted();
    const sending = paced(ctx, o.messages, o.rate, loadSeconds(ctx), (i) => ctx.sendMessage(ctx.rng.int(o.guilds), `r${i}`));
    // Cut at a third and two thirds of the sending time.
    const sendMs = (o.messages / o.rate) * 1000;
    const start = now();
    for (let n = 1; n <= WAVES; n++) {
      await sleep(start + (sendMs * n) / (WAVES + 1) - now());
      await wave(ctx, n);
    }
    await sending;
    await drain(ctx);
    ctx.loadEnded();
  },
};
