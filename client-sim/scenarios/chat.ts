// chat: the everyday load. Many guilds, each user in one (and some in a
// second), sessions spread over them, messages to random guilds at --rate
// per second in total.
import { MESSAGE_INTENTS } from '../protocol.js';
import { connectAndWait, pacedLoad, range } from './common.js';
import type { Scenario } from './types.js';

export const chat: Scenario = {
  name: 'chat',
  plan: (o) => ({
    // Three in ten users are in a second guild, so sessions see more than one guild's traffic.
    membership: (u, rng) => [u % o.guilds, ...(rng.next() < 0.3 ? [rng.int(o.guilds)] : [])],
    intents: () => MESSAGE_INTENTS,
  }),
  async run(ctx) {
    const o = ctx.options;
    await connectAndWait(ctx, range(o.sessions), o.connectRate, o.sessions);
    await ctx.hooks.onPhase?.('ready');
    await pacedLoad(ctx, 'chatting', (i) => ctx.sendMessage(ctx.rng.int(o.guilds), `m${i}`));
  },
};
