// broadcast: one guild of --sessions sessions and --messages messages: the
// fanout path alone, for latency from REST send to every receipt and for
// deliveries per second. The benchmark drives this scenario.
import { MESSAGE_INTENTS } from '../protocol.js';
import { connectAndWait, drain, loadSeconds, paced, range } from './common.js';
import type { Scenario } from './types.js';

export const broadcast: Scenario = {
  name: 'broadcast',
  plan: () => ({ membership: () => [0], intents: () => MESSAGE_INTENTS }),
  async run(ctx) {
    const o = ctx.options;
    await connectAndWait(ctx, range(o.sessions), o.connectRate, o.sessions);
    await ctx.hooks.onPhase?.('ready');
    ctx.stage('broadcasting');
    await ctx.hooks.onPhase?.('load-start');
    ctx.loadStarted();
    await paced(ctx, o.messages, o.rate, loadSeconds(ctx), (i) => ctx.sendMessage(0, `b${i}`));
    await drain(ctx);
    ctx.loadEnded();
    await ctx.hooks.onPhase?.('load-end');
    ctx.notes.fanout_size = o.sessions;
  },
};
