// What a guild actor holds in memory: its slice of the store, plus who is
// connected. The actor is the only writer of its guild, so this stays in step
// with the store without reads on the hot path.
import type { ActorRef } from '../../actors/index.js';
import type { SessionProtocol } from '../gateway/session-protocol.js';
import type { ChannelRecord, GuildRecord, MemberRecord, Store } from '../store/store.js';
import type { Presence } from './guild-create.js';

export interface ConnectedSession {
  ref: ActorRef<SessionProtocol>;
  userId: string;
  intents: number;
}

export interface GuildState {
  guild: GuildRecord;
  channels: Map<string, ChannelRecord>;
  members: Map<string, MemberRecord>;
  /** Online users (not invisible/offline). */
  presences: Map<string, Presence>;
  /** By session id. */
  sessions: Map<string, ConnectedSession>;
  /** User id -> their connected session ids. */
  sessionsByUser: Map<string, Set<string>>;
}

export async function loadGuildState(store: Store, guildId: string): Promise<GuildState> {
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
  return { guild, channels, members, presences: new Map(), sessions: new Map(), sessionsByUser: new Map() };
}
