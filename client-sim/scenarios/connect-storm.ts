// connect-storm: --sessions IDENTIFYs at --rate per second. Reports connect,
// READY and GUILD_CREATE latency and any errors; then one message per guild
// proves the freshly connected sessions all receive.
import { now } from '../clock.js';
import { MESSAGE_INTENTS } from '../protocol.js';
import { connectAndWait, drain, paced, range } from './common.js';
import type { Scenario } from './types.js';

export const connectStorm: Scenario = {
  name: 'connect-storm',
  plan: () => ({ intents: () => MESSAGE_INTENTS }),
  async run(ctx) {
    const o = ctx.options;
    const started = now();
    await connectAndWait(ctx, range(o.sessions), o.rate, o.sessions);
    ctx.notes.identify_per_s = Math.round((o.sessions * 1000) / Math.max(1, now() - started));
    await ctx.hooks.onPhase?.('ready');
    ctx.stage('checking delivery');
    ctx.loadStarted();
    await paced(ctx, o.messages, Math.max(o.guilds, 10), 60, (i) => ctx.sendMessage(i % o.guilds, `c${i}`));
    await drain(ctx);
    ctx.loadEnded();
  },
};
