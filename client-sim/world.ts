// The world a scenario runs in (users, guilds, memberships, which session is
// whose), planned from the seed and then made through the public REST API
// only: dev accounts, guild creation by each guild's owner, members added by
// the owner. Nothing is assumed of the server beyond that API, so the
// simulator works against any Guildhall, local or remote.
import { randomBytes } from 'node:crypto';
import { now, sleep } from './clock.js';
import { type RestClient, RestError } from './rest.js';
import { Rng } from './rng.js';

/** Discord's global limit is 50 requests/s per user; an owner adding members stays under it. */
const OWNER_REQUESTS_PER_S = 45;

export interface GuildPlan {
  /** Groups guilds in the report (`hot`, `quiet`); undefined for none. */
  label: string | undefined;
  /** User indices; the first one owns the guild. */
  members: number[];
}

export interface WorldPlan {
  users: number;
  guilds: GuildPlan[];
  /** The user of each session. */
  sessionUser: number[];
}

export interface PlanInput {
  users: number;
  guilds: number;
  sessions: number;
  seed: number;
  /** Guild indices user `u` joins besides the guilds it owns; default: guild u % guilds. */
  membership?: (user: number, rng: Rng) => number[];
  label?: (guild: number) => string | undefined;
}

/** Guild g is owned by user g; sessions go round-robin over users. */
export function planWorld(input: PlanInput): WorldPlan {
  const rng = new Rng(input.seed);
  const membership = input.membership ?? ((u: number) => [u % input.guilds]);
  const guilds: GuildPlan[] = Array.from({ length: input.guilds }, (_, g) => ({ label: input.label?.(g), members: [g] }));
  for (let u = 0; u < input.users; u++) {
    for (const g of new Set(membership(u, rng))) {
      if (g !== u && g >= 0 && g < input.guilds) guilds[g]!.members.push(u);
    }
  }
  return { users: input.users, guilds, sessionUser: Array.from({ length: input.sessions }, (_, s) => s % input.users) };
}

export interface WorldUser {
  id: string;
  username: string;
  token: string;
}

export interface WorldGuild {
  id: string;
  /** The `general` text channel messages go to. */
  channelId: string;
  label: string | undefined;
  /** User indices, owner first. */
  members: number[];
}

export interface World {
  users: WorldUser[];
  guilds: WorldGuild[];
  sessionUser: number[];
  /** Guild indices of each user. */
  guildsOfUser: number[][];
}

/** Runs `fn` over `items` with at most `limit` in flight; rejects on the first failure. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!, i);
    }
  });
  await Promise.all(lanes);
  return out;
}

export interface BuildProgress {
  (stage: 'users' | 'guilds' | 'members', done: number, total: number): void;
}

/**
 * POST /dev/users. A retried create (after a 503 or a refused connection) can find its own first
 * attempt done ("username taken") without its token: then it takes the name with a suffix.
 */
async function createUser(rest: RestClient, username: string): Promise<WorldUser> {
  for (let n = 0; ; n++) {
    try {
      return await rest.request<WorldUser>('POST', '/dev/users', { body: { username: n === 0 ? username : `${username}_${n}` }, route: 'POST /dev/users', histogram: 'rest_setup' });
    } catch (err) {
      if (n >= 3 || !(err instanceof RestError) || err.status !== 400 || !JSON.stringify(err.body).includes('USERNAME_ALREADY_TAKEN')) throw err;
    }
  }
}

/** Makes the planned world on the server. Usernames carry a random tag, so runs never collide. */
export async function buildWorld(plan: WorldPlan, rest: RestClient, progress: BuildProgress = () => {}): Promise<World> {
  const tag = randomBytes(4).toString('hex');
  let done = 0;
  const users = await mapLimit(Array.from({ length: plan.users }, (_, i) => i), 32, async (i) => {
    const user = await createUser(rest, `sim_${tag}_${i}`);
    progress('users', ++done, plan.users);
    return user;
  });

  done = 0;
  const guilds = await mapLimit(plan.guilds, 16, async (g, i) => {
    const owner = users[g.members[0]!]!;
    const guild = await rest.request<{ id: string }>('POST', '/guilds', { token: owner.token, body: { name: `sim ${tag} ${i}` }, route: 'POST /guilds', histogram: 'rest_setup' });
    const channels = await rest.request<Array<{ id: string; type: number; name: string }>>('GET', `/guilds/${guild.id}/channels`, {
      token: owner.token,
      route: 'GET /guilds/{id}/channels',
      idempotent: true,
      histogram: 'rest_setup',
    });
    const text = channels.find((c) => c.type === 0 && c.name === 'general') ?? channels.find((c) => c.type === 0);
    if (!text) throw new Error(`guild ${guild.id} has no text channel`);
    progress('guilds', ++done, plan.guilds.length);
    return { id: guild.id, channelId: text.id, label: g.label, members: g.members };
  });

  // The owner adds every member. Per guild in order (one owner's rate limit), guilds in parallel.
  const adds = plan.guilds.reduce((n, g) => n + g.members.length - 1, 0);
  done = 0;
  await mapLimit(guilds, 64, async (guild) => {
    const owner = users[guild.members[0]!]!;
    // Paced just under the per-user limit, so the owner is not answered 429 over and over.
    let slot = now();
    await mapLimit(guild.members.slice(1), 8, async (u) => {
      const at = (slot = Math.max(slot + 1000 / OWNER_REQUESTS_PER_S, now()));
      await sleep(at - now());
      await rest.request('PUT', `/guilds/${guild.id}/members/${users[u]!.id}`, { token: owner.token, route: 'PUT /guilds/{id}/members/{user}', idempotent: true, histogram: 'rest_setup' });
      progress('members', ++done, adds);
    });
  });

  const guildsOfUser: number[][] = Array.from({ length: plan.users }, () => []);
  guilds.forEach((g, gi) => g.members.forEach((u) => guildsOfUser[u]!.push(gi)));
  return { users, guilds, sessionUser: plan.sessionUser, guildsOfUser };
}
