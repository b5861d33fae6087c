// The data behind the server, as an interface. The implementation is
// sql-store.ts (SQLite or PostgreSQL through Kysely).
//
// Records are plain data close to Discord's objects, with snake_case fields
// as on the wire; api-shapes.ts turns them into full discord-api-types
// objects (adding the many fields Discord always sends but this server does
// not model). Records returned are copies: mutating one changes nothing.
//
// Contract for misses: `get*` return undefined; a write that names something
// missing fails with a StoreError (UNKNOWN_GUILD, UNKNOWN_CHANNEL, ...). The
// store knows nothing of HTTP: the REST edge maps StoreErrors to Discord's
// codes. An unreachable, read-only or full database is a StoreError too
// (UNAVAILABLE, READ_ONLY, DISK_FULL), from any method.
import type { SnowflakeGenerator } from '../ids/snowflake.js';
import type { StoreError } from './errors.js';

export { StoreError, isStoreError, type StoreErrorCode } from './errors.js';

export interface UserRecord {
  id: string;
  username: string;
  /** Discord dropped discriminators for unique usernames; '0' marks a migrated user. */
  discriminator: '0';
  global_name: string | null;
  avatar: null;
  bot: boolean;
}

export interface GuildRecord {
  id: string;
  name: string;
  owner_id: string;
  icon: null;
  /** ISO 8601; the time in the guild's snowflake. */
  created_at: string;
}

export interface ChannelRecord {
  id: string;
  /** GUILD_TEXT; the only kind of channel here. */
  type: 0;
  guild_id: string;
  name: string;
  position: number;
  topic: string | null;
  last_message_id: string | null;
}

export interface MemberRecord {
  guild_id: string;
  user: UserRecord;
  nick: string | null;
  roles: string[];
  /** ISO 8601. */
  joined_at: string;
}

export interface EmojiRecord {
  /** null for a unicode emoji. */
  id: string | null;
  name: string;
}

export interface ReactionRecord {
  emoji: EmojiRecord;
  count: number;
  /** Who reacted, in the order they did. */
  user_ids: string[];
}

export interface MessageRecord {
  id: string;
  channel_id: string;
  guild_id: string;
  author: UserRecord;
  content: string;
  /** ISO 8601; the time in the message's snowflake, as on Discord. */
  timestamp: string;
  edited_timestamp: string | null;
  /** In the order each emoji was first used. */
  reactions: ReactionRecord[];
}

export interface NewUser {
  username: string;
  global_name?: string | null;
  bot?: boolean;
}

export interface NewGuild {
  name: string;
  owner_id: string;
}

export interface NewChannel {
  guild_id: string;
  name: string;
  topic?: string | null;
  /** Defaults to after the last channel. */
  position?: number;
}

export interface NewMessage {
  channel_id: string;
  author_id: string;
  content: string;
}

export interface MessageEdit {
  content: string;
}

/** At most one of before/after/around, as Discord's Get Channel Messages. */
export interface ListMessagesOptions {
  /** 1..100, default 50. */
  limit?: number;
  before?: string;
  after?: string;
  around?: string;
}

export interface ListMembersOptions {
  /** 1..1000, default 1000. */
  limit?: number;
  /** Only members whose user id is greater than this. */
  after?: string;
}

export interface MemberAdded {
  member: MemberRecord;
  /** False when the user was already a member (nothing changed). */
  added: boolean;
}

export interface ReactionChange {
  message: MessageRecord;
  /** False when the call was a no-op (already reacted / had not reacted). */
  changed: boolean;
}

/** One write of a guild, with ids and timestamps chosen by the caller (the guild actor keeps order). */
export type GuildWrite =
  | {
      kind: 'create_message';
      id: string;
      channel_id: string;
      guild_id: string;
      author_id: string;
      content: string;
      /** Only on an enforce_nonce post: its nonce, typed as RecentNonces keys it; stored with the row (recentNonces). */
      nonce?: string | null;
    }
  | { kind: 'update_message'; channel_id: string; message_id: string; content: string; edited_timestamp: string }
  | { kind: 'delete_message'; channel_id: string; message_id: string }
  | { kind: 'add_reaction'; channel_id: string; message_id: string; user_id: string; emoji: EmojiRecord }
  | { kind: 'remove_reaction'; channel_id: string; message_id: string; user_id: string; emoji: EmojiRecord }
  | { kind: 'add_member'; guild_id: string; user_id: string; joined_at: string }
  | { kind: 'remove_member'; guild_id: string; user_id: string }
  | { kind: 'create_channel'; id: string; guild_id: string; name: string; topic: string | null; position: number };

/** An enforce_nonce post as stored: what a starting guild needs to answer a retry of it. */
export interface StoredNonce {
  message_id: string;
  channel_id: string;
  author_id: string;
  /** As written (GuildWrite create_message `nonce`). */
  nonce: string;
}

/**
 * What each write produced: create/update_message -> MessageRecord; delete_message -> MessageRecord
 * (as it was); add/remove_reaction -> ReactionChange; add_member -> MemberAdded; remove_member -> boolean;
 * create_channel -> ChannelRecord.
 */
export type WriteOutcome = { ok: true; value: unknown } | { ok: false; error: StoreError };

/** Discord's cap on distinct reaction emoji per message. */
export const MAX_REACTIONS_PER_MESSAGE = 20;

export interface Store {
  /** Snowflakes for everything stored: they never repeat across restarts (the generator starts after the largest stored id). */
  readonly ids: SnowflakeGenerator;

  /**
   * All writes in ONE transaction, in order. A write that fails a domain rule (unknown message,
   * max reactions...) changes nothing and yields {ok:false}, without rolling back the others.
   * An infrastructure failure rejects the whole call with StoreError (UNAVAILABLE, READ_ONLY,
   * DISK_FULL) and NOTHING of the call is committed. Resolves only after the commit is durable.
   */
  applyWrites(writes: readonly GuildWrite[]): Promise<WriteOutcome[]>;

  /** The stored value of a setting; stores `initial` first when there is none (atomically: every node agrees). */
  setting(key: string, initial: string): Promise<string>;

  /** Whether nothing was ever stored (no users): the demo world is seeded only into an empty database. */
  isEmpty(): Promise<boolean>;

  close(): Promise<void>;

  /** USERNAME_TAKEN for a taken username (case-insensitive). */
  createUser(input: NewUser): Promise<UserRecord>;
  getUser(id: string): Promise<UserRecord | undefined>;
  findUserByUsername(username: string): Promise<UserRecord | undefined>;

  /** Creates the guild, a `general` text channel, and makes the owner a member. */
  createGuild(input: NewGuild): Promise<GuildRecord>;
  getGuild(id: string): Promise<GuildRecord | undefined>;
  /** Guilds the user is a member of, by id. */
  listGuildsForUser(userId: string): Promise<GuildRecord[]>;
  /** Deletes the guild with its channels, members and messages. False when there was no such guild. */
  deleteGuild(id: string): Promise<boolean>;

  createChannel(input: NewChannel): Promise<ChannelRecord>;
  getChannel(id: string): Promise<ChannelRecord | undefined>;
  /** By position, then id (Discord's sort). Empty for an unknown guild. */
  listChannels(guildId: string): Promise<ChannelRecord[]>;

  addMember(guildId: string, userId: string): Promise<MemberAdded>;
  /** False when the user was not a member. Whether the owner may leave is the caller's policy. */
  removeMember(guildId: string, userId: string): Promise<boolean>;
  getMember(guildId: string, userId: string): Promise<MemberRecord | undefined>;
  /** By user id ascending, as Discord's List Guild Members pages. */
  listMembers(guildId: string, options?: ListMembersOptions): Promise<MemberRecord[]>;
  isMember(guildId: string, userId: string): Promise<boolean>;

  // The single-write helpers below are applyWrites([one]) with ids and times chosen here (seeding, tests).

  /** Also moves the channel's last_message_id. Membership and permissions are the caller's job. */
  createMessage(input: NewMessage): Promise<MessageRecord>;
  getMessage(channelId: string, messageId: string): Promise<MessageRecord | undefined>;
  /**
   * The guild's messages posted with a nonce (enforce_nonce) at or after `sinceMs` (their snowflake's
   * time), newest first, at most `limit`: one range scan of a partial index of those rows only.
   */
  recentNonces(guildId: string, sinceMs: number, limit: number): Promise<StoredNonce[]>;
  /** Newest first, like Discord. */
  listMessages(channelId: string, options?: ListMessagesOptions): Promise<MessageRecord[]>;
  updateMessage(channelId: string, messageId: string, edit: MessageEdit): Promise<MessageRecord>;
  /** Returns the message as it was. */
  deleteMessage(channelId: string, messageId: string): Promise<MessageRecord>;
  /** Idempotent per user and emoji. MAX_REACTIONS past 20 distinct emoji on one message. */
  addReaction(channelId: string, messageId: string, userId: string, emoji: EmojiRecord): Promise<ReactionChange>;
  removeReaction(channelId: string, messageId: string, userId: string, emoji: EmojiRecord): Promise<ReactionChange>;
}
