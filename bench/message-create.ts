// The MESSAGE_CREATE payload of the benchmark's non-Guildhall servers (the
// floors and Socket.IO), built as Guildhall's guild actor builds its own
// (server/guild/guild-actor.ts `create_message`): the REST shape of the stored
// message (toAPIMessage), then `guild_id`, the author's member data without its
// user, and `mentions`. Same fields, same construction, one new object per
// broadcast; only the transport around it differs between modes.
import { SnowflakeGenerator, timestampOf } from '../server/ids/snowflake.js';
import { toAPIMember, toAPIMessage } from '../server/store/api-shapes.js';
import type { MemberRecord, UserRecord } from '../server/store/store.js';

export interface MessageCreateSource {
  /** The MESSAGE_CREATE data (`d`) for one post of `content`. */
  next(content: string): Record<string, unknown>;
  readonly author: UserRecord;
}

/** One guild, one channel, one author (a sim user, named as client-sim names them). */
export function messageCreateSource(authorName: string): MessageCreateSource {
  const ids = new SnowflakeGenerator();
  const guildId = ids.next();
  const channelId = ids.next();
  const author: UserRecord = { id: ids.next(), username: authorName, discriminator: '0', global_name: null, avatar: null, bot: false };
  const member: MemberRecord = { guild_id: guildId, user: author, nick: null, roles: [], joined_at: new Date(timestampOf(author.id)).toISOString() };
  return {
    author,
    next(content) {
      const id = ids.next();
      const message = toAPIMessage({ id, channel_id: channelId, guild_id: guildId, author, content, timestamp: new Date(timestampOf(id)).toISOString(), edited_timestamp: null, reactions: [] });
      const { user: _user, ...memberData } = toAPIMember(member);
      return { ...message, guild_id: guildId, member: memberData, mentions: [] };
    },
  };
}
