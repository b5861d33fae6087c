// The world the counted commit tools share (bench:store-commit-instructions,
// bench:store-pg-wakes): 40 guilds of 5 users on a store opened from a
// checkout's own server code, and a commit of N new messages spread over them.
import type { SqlStore } from '../server/index.js';

const GUILDS = 40;

/** Builds the world on `store`; returns one group commit of `size` new messages (throws if any write fails). */
export async function commitWorld(store: SqlStore): Promise<(size: number) => Promise<void>> {
  const guilds: { guild: string; channel: string; users: string[] }[] = [];
  for (let g = 0; g < GUILDS; g++) {
    const users: string[] = [];
    for (let u = 0; u < 5; u++) users.push((await store.createUser({ username: `g${g}u${u}` })).id);
    const guild = await store.createGuild({ name: `g${g}`, owner_id: users[0]! });
    for (const u of users.slice(1)) await store.addMember(guild.id, u);
    guilds.push({ guild: guild.id, channel: (await store.listChannels(guild.id))[0]!.id, users });
  }
  let k = 0;
  return async (size) => {
    const writes = [];
    for (let i = 0; i < size; i++, k++) {
      const g = guilds[(k * 7) % GUILDS]!;
      writes.push({ kind: 'create_message' as const, id: store.ids.next(), channel_id: g.channel, guild_id: g.guild, author_id: g.users[k % 5]!, content: `g${k % 200} m${k}` });
    }
    const outcomes = await store.applyWrites(writes);
    if (!outcomes.every((o) => o.ok)) throw new Error('a write failed');
  };
}
