// A small demo world, so a fresh server has something to look at: three
// people and a bot, three guilds with different memberships, a few channels
// and messages. It is written straight to the store before the server
// listens, and only into an empty database; guild actors load their state
// from the store when first used, so nothing is bypassed that anyone could
// observe.
import { issueToken } from './auth/token.js';
import type { ServerContext } from './context.js';
import type { Store, UserRecord } from './store/store.js';

export interface SeededUser {
  id: string;
  username: string;
  bot: boolean;
  token: string;
}

export interface SeededGuild {
  id: string;
  name: string;
  /** Channel name -> id. */
  channels: Record<string, string>;
}

export interface SeedResult {
  users: SeededUser[];
  guilds: SeededGuild[];
  /** False when the database was not empty (a second run): nothing was written, and `users` are the demo users still there. */
  created: boolean;
}

const PEOPLE = [
  { username: 'alice', global_name: 'Alice' },
  { username: 'bob', global_name: 'Bob' },
  { username: 'carol', global_name: 'Carol' },
] as const;
const BOT = { username: 'guildhall-bot', global_name: 'Guildhall Bot' } as const;

type Name = (typeof PEOPLE)[number]['username'] | typeof BOT.username;

interface GuildPlan {
  name: string;
  owner: Name;
  members: Name[];
  /** Besides `general`, which every guild gets. */
  channels: { name: string; topic: string }[];
  /** Posted to `general`, in order. */
  messages: [Name, string][];
}

const GUILDS: GuildPlan[] = [
  {
    name: 'Guildhall Lobby',
    owner: 'alice',
    members: ['bob', 'carol', 'guildhall-bot'],
    channels: [
      { name: 'announcements', topic: 'News about this server' },
      { name: 'off-topic', topic: 'Anything goes' },
    ],
    messages: [
      ['alice', 'Welcome to Guildhall! Every guild here is an actor.'],
      ['bob', 'Hi all. Is this thing traced?'],
      ['guildhall-bot', 'Every message is: open the trace viewer and look for this one.'],
      ['carol', 'Nice. 👋'],
    ],
  },
  {
    name: 'Tavern',
    owner: 'bob',
    members: ['alice'],
    channels: [{ name: 'dice', topic: 'Roll for initiative' }],
    messages: [
      ['bob', 'First round is on me.'],
      ['alice', 'I will have whatever the actor model is having.'],
    ],
  },
  { name: 'Quiet Room', owner: 'carol', members: [], channels: [], messages: [['carol', 'Just me in here.']] },
];

export async function seedDemoWorld(ctx: Pick<ServerContext, 'store' | 'config'>): Promise<SeedResult> {
  const { store, config } = ctx;
  const empty = await store.isEmpty();
  const users = new Map<Name, UserRecord>();
  for (const spec of [...PEOPLE, BOT]) {
    const user = empty
      ? await store.createUser({ username: spec.username, global_name: spec.global_name, bot: spec === BOT })
      : await store.findUserByUsername(spec.username);
    if (user !== undefined) users.set(spec.username, user);
  }
  const seededUsers = [...users.values()].map((u) => ({ id: u.id, username: u.username, bot: u.bot, token: issueToken(config.tokenSecret, u.id) }));
  if (!empty) return { users: seededUsers, guilds: [], created: false };

  const guilds: SeededGuild[] = [];
  for (const plan of GUILDS) guilds.push(await seedGuild(store, plan, users));
  return { users: seededUsers, guilds, created: true };
}

async function seedGuild(store: Store, plan: GuildPlan, users: Map<Name, UserRecord>): Promise<SeededGuild> {
  const id = (name: Name): string => users.get(name)!.id;
  const guild = await store.createGuild({ name: plan.name, owner_id: id(plan.owner) });
  for (const member of plan.members) await store.addMember(guild.id, id(member));
  const channels: Record<string, string> = {};
  for (const c of await store.listChannels(guild.id)) channels[c.name] = c.id;
  for (const c of plan.channels) channels[c.name] = (await store.createChannel({ guild_id: guild.id, name: c.name, topic: c.topic })).id;
  for (const [author, content] of plan.messages) {
    await store.createMessage({ channel_id: channels.general!, author_id: id(author), content });
  }
  return { id: guild.id, name: guild.name, channels };
}
