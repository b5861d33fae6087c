// presence: presence updates at --rate per second from random sessions,
// each fanned out to every guild of its user; every user is in every guild,
// so the guilds are as large as the user count. Sessions ask for the
// GUILD_PRESENCES intent (privileged; the server must allow it).
import { PRESENCE_INTENTS } from '../protocol.js';
import { connectAndWait, pacedLoad, range } from './common.js';
import type { Scenario } from './types.js';

const STATUSES = ['online', 'idle', 'dnd'] as const;

export const presence: Scenario = {
  name: 'presence',
  plan: (o) => ({ membership: () => range(o.guilds), intents: () => PRESENCE_INTENTS }),
  async run(ctx) {
    const o = ctx.options;
    await connectAndWait(ctx, range(o.sessions), o.connectRate, o.sessions);
    await ctx.hooks.onPhase?.('ready');
    const ready = (await ctx.pool.stats(true)).ready;
    if (ready.length === 0) return;
    // Each session sends at most one update per second or so: the gateway allows 120 events a minute.
    await pacedLoad(ctx, 'presence', (i) => ctx.sendPresence(ready[ctx.rng.int(ready.length)]!, `p${i}`, STATUSES[i % STATUSES.length]!));
  },
};
