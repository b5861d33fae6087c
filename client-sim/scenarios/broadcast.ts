// broadcast: one guild of --sessions sessions and --messages messages: the
// fanout path alone, for latency from REST send to every receipt and for
// deliveries per second. The benchmark drives this scenario.
import { MESSAGE_INTENTS } from '../protocol.js';
import { connectAndWait, pacedLoad, range } from './common.js';
import type { Scenario } from './types.js';

export const broadcast: Scenario = {
  name: 'broadcast',
  plan: () => ({ membership: () => [0], intents: () => MESSAGE_INTENTS }),
  async run(ctx) {
    const o = ctx.options;
    await connectAndWait(ctx, range(o.sessions), o.connectRate, o.sessions);
    await ctx.hooks.onPhase?.('ready');
    await pacedLoad(ctx, 'broadcasting', (i) => ctx.sendMessage(0, `b${i}`));
    ctx.notes.fanout_size = o.sessions;
  },
};
