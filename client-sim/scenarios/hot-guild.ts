// hot-guild: one guild flooded with messages (--rate per second) and
// presence updates (a fifth of that) while new sessions keep identifying
// into it and into quiet guilds. Every user is in one quiet guild; half are
// also in the hot one. Half the sessions connect before the flood (their
// connect latencies are not recorded); the other half identify during it, so
// READY and GUILD_CREATE latency by guild (guild_create_hot against
// guild_create_quiet) show what a busy guild does to the people joining it.
import { PRESENCE_INTENTS } from '../protocol.js';
import { connectAndWait, drain, loadSeconds, paced, range } from './common.js';
import type { Scenario } from './types.js';

const HOT = 0;
const STATUSES = ['online', 'idle', 'dnd'] as const;

export const hotGuild: Scenario = {
  name: 'hot-guild',
  plan: (o) => {
    const early = Math.ceil(o.sessions / 2);
    return {
      membership: (u) => [1 + (u % (o.guilds - 1)), ...(u % 2 === 0 ? [HOT] : [])],
      label: (g) => (g === HOT ? 'hot' : 'quiet'),
      intents: () => PRESENCE_INTENTS,
      recordConnect: (s) => s >= early,
    };
  },
  async run(ctx) {
    const o = ctx.options;
    const early = Math.ceil(o.sessions / 2);
    await connectAndWait(ctx, range(early), o.connectRate, early);
    await ctx.hooks.onPhase?.('ready');

    const hotUsers = new Set(ctx.world.guilds[HOT]!.members);
    const ready = (await ctx.pool.stats(true)).ready.filter((s) => hotUsers.has(ctx.world.sessionUser[s]!));
    const loadS = loadSeconds(ctx);
    const floodS = o.messages / o.rate;
    ctx.stage('flooding');
    ctx.loadStarted();
    const late = range(o.sessions).slice(early);
    const messages = paced(ctx, o.messages, o.rate, loadS, (i) => ctx.sendMessage(HOT, `h${i}`));
    const presenceCount = ready.length > 0 ? Math.max(1, Math.floor(o.messages / 5)) : 0;
    const presences = paced(ctx, presenceCount, o.rate / 5, loadS, (i) => ctx.sendPresence(ready[i % ready.length]!, `p${i}`, STATUSES[i % STATUSES.length]!));
    // Late sessions spread over the flood (at the connect rate at most).
    const joining = connectAndWait(ctx, late, Math.min(o.connectRate, Math.max(1, late.length / Math.max(1, floodS))), o.sessions);
    await Promise.all([messages, presences, joining]);
    ctx.notes.joined_during_flood = late.length;
    await drain(ctx);
    ctx.loadEnded();
  },
};
