// What a guild actor holds in memory: its slice of the store and who is
// online. Who is connected (the subscribers) lives in its pub/sub topic
// (server/pubsub/guild-pubsub.ts). The actor is the only writer of its guild,
// so this stays in step with the store without reads on the hot path.
import type { ChannelRecord, GuildRecord, MemberRecord, Store } from '../store/store.js';

/** A member's presence in the guild, as PRESENCE_UPDATE carries it. */
export interface Presence {
  status: string;
  activities: unknown[];
}

export interface GuildState {
  guild: GuildRecord;
  channels: Map<string, ChannelRecord>;
  members: Map<string, MemberRecord>;
  /** Online users (not invisible/offline). */
  presences: Map<string, Presence>;
}

export async function loadGuildState(store: Pick<Store, 'getGuild' | 'listChannels' | 'listMembers'>, guildId: string): Promise<GuildState> {
  const guild = await store.getGuild(guildId);
  if (!guild) throw new Error(`guild ${guildId} does not exist`);
  const channels = new Map((await store.listChannels(guildId)).map((c) => [c.id, c]));
  const members = new Map<string, MemberRecord>();
  // Members come in pages of at most 1000, by user id.
  for (let after: string | undefined; ; ) {
    const page = await store.listMembers(guildId, { limit: 1000, after });
    for (const m of page) members.set(m.user.id, m);
    if (page.length < 1000) break;
    after = page[page.length - 1]!.user.id;
  }
  return { guild, channels, members, presences: new Map() };
}
