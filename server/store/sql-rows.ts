// Reads shared by the store and its writes, and the conversion of rows into
// records: snowflakes become decimal strings, SQLite's bigints small numbers,
// a message's reaction rows its reactions in first-use order.
import type { Kysely } from 'kysely';
import { timestampOf } from '../ids/snowflake.js';
import type { SqlEngine } from './database.js';
import type { Database } from './schema.js';
import type { ChannelRecord, EmojiRecord, MemberRecord, MessageRecord, ReactionRecord, UserRecord } from './store.js';

/** The database a read runs on: the store's, or a transaction's. */
export type Db = Kysely<Database>;

export const str = (v: string | bigint): string => (typeof v === 'bigint' ? v.toString() : v);
export const num = (v: number | bigint | string): number => Number(v);

export const emojiKey = (e: EmojiRecord): string => (e.id === null ? `u:${e.name}` : `c:${e.id}`);

export interface UserRow {
  id: string | bigint;
  username: string;
  global_name: string | null;
  bot: number | bigint;
}

export function toUser(row: UserRow): UserRecord {
  return { id: str(row.id), username: row.username, discriminator: '0', global_name: row.global_name, avatar: null, bot: num(row.bot) !== 0 };
}

/**
 * Users as they were read, so the hot write (a message, whose record carries its author) costs one
 * statement, not two. Safe because a user never changes or goes away once created (there is no
 * user update or delete); bounded by forgetting everything when full.
 */
export class UserCache {
  private readonly users = new Map<string, UserRecord>();

  constructor(private readonly max = 10_000) {}

  async get(db: Db, engine: SqlEngine, id: string): Promise<UserRecord | undefined> {
    return this.peek(id) ?? this.keep(await readUser(db, engine, id));
  }

  /** The cached user (a copy), without reading. */
  peek(id: string): UserRecord | undefined {
    const cached = this.users.get(id);
    return cached && { ...cached };
  }

  /**
   * Whether the user was read from the database (users are never deleted: it still exists).
   * PostgreSQL's unchecked insert of new messages relies on it for their authors.
   */
  has(id: string): boolean {
    return this.users.has(id);
  }

  /** Keeps a user just read; returns a copy. */
  keep(user: UserRecord | undefined): UserRecord | undefined {
    if (user === undefined) return undefined;
    if (this.users.size >= this.max) this.users.clear();
    this.users.set(user.id, user);
    return { ...user };
  }
}

export async function readUser(db: Db, engine: SqlEngine, id: string): Promise<UserRecord | undefined> {
  const row = await db.selectFrom('users').select(['id', 'username', 'global_name', 'bot']).where('id', '=', engine.id(id)).executeTakeFirst();
  return row && toUser(row);
}

export function channelQuery(db: Db) {
  return db
    .selectFrom('channels as c')
    .select(['c.id', 'c.guild_id', 'c.name', 'c.topic', 'c.position'])
    // Discord's last_message_id; the (channel_id, id) index answers it without a scan.
    .select((eb) => eb.selectFrom('messages as m').whereRef('m.channel_id', '=', 'c.id').select((e) => e.fn.max('m.id').as('x')).as('last_message_id'));
}

export function toChannel(row: {
  id: string | bigint;
  guild_id: string | bigint;
  name: string;
  topic: string | null;
  position: number | bigint;
  last_message_id: string | bigint | null;
}): ChannelRecord {
  return {
    id: str(row.id),
    type: 0,
    guild_id: str(row.guild_id),
    name: row.name,
    position: num(row.position),
    topic: row.topic,
    last_message_id: row.last_message_id === null ? null : str(row.last_message_id),
  };
}

export function memberQuery(db: Db) {
  return db
    .selectFrom('members as m')
    .innerJoin('users as u', 'u.id', 'm.user_id')
    .select(['m.guild_id', 'm.nick', 'm.roles', 'm.joined_at', 'u.id', 'u.username', 'u.global_name', 'u.bot']);
}

export function toMember(row: UserRow & { guild_id: string | bigint; nick: string | null; roles: string; joined_at: string }): MemberRecord {
  return { guild_id: str(row.guild_id), user: toUser(row), nick: row.nick, roles: JSON.parse(row.roles) as string[], joined_at: row.joined_at };
}

export function messageQuery(db: Db) {
  return db
    .selectFrom('messages as m')
    .innerJoin('users as u', 'u.id', 'm.author_id')
    .select(['m.id as message_id', 'm.channel_id', 'm.guild_id', 'm.content', 'm.edited_timestamp', 'u.id', 'u.username', 'u.global_name', 'u.bot']);
}

type MessageRow = UserRow & {
  message_id: string | bigint;
  channel_id: string | bigint;
  guild_id: string | bigint;
  content: string;
  edited_timestamp: string | null;
};

/** Messages with their reactions (one query for all of them), in the order of `rows`. */
export async function toMessages(db: Db, engine: SqlEngine, rows: readonly MessageRow[]): Promise<MessageRecord[]> {
  const reactions = await readReactions(db, engine, rows.map((r) => str(r.message_id)));
  return rows.map((row) => {
    const id = str(row.message_id);
    return {
      id,
      channel_id: str(row.channel_id),
      guild_id: str(row.guild_id),
      author: toUser(row),
      content: row.content,
      timestamp: new Date(timestampOf(id)).toISOString(),
      edited_timestamp: row.edited_timestamp,
      reactions: reactions.get(id) ?? [],
    };
  });
}

export async function readMessage(db: Db, engine: SqlEngine, channelId: string, messageId: string): Promise<MessageRecord | undefined> {
  const row = await messageQuery(db).where('m.channel_id', '=', engine.id(channelId)).where('m.id', '=', engine.id(messageId)).executeTakeFirst();
  return row && (await toMessages(db, engine, [row]))[0];
}

async function readReactions(db: Db, engine: SqlEngine, messageIds: readonly string[]): Promise<Map<string, ReactionRecord[]>> {
  const byMessage = new Map<string, Map<string, ReactionRecord>>();
  if (messageIds.length === 0) return new Map();
  const rows = await db
    .selectFrom('reactions')
    .select(['message_id', 'emoji_key', 'emoji_id', 'emoji_name', 'user_id'])
    .where('message_id', 'in', messageIds.map((id) => engine.id(id)))
    .orderBy('seq')
    .execute();
  for (const row of rows) {
    const messageId = str(row.message_id);
    let emojis = byMessage.get(messageId);
    if (!emojis) byMessage.set(messageId, (emojis = new Map()));
    let reaction = emojis.get(row.emoji_key);
    // The first row of an emoji names it: a custom emoji used again under another name keeps its first name.
    if (!reaction) emojis.set(row.emoji_key, (reaction = { emoji: { id: row.emoji_id, name: row.emoji_name }, count: 0, user_ids: [] }));
    reaction.user_ids.push(str(row.user_id));
    reaction.count++;
  }
  return new Map([...byMessage].map(([id, emojis]) => [id, [...emojis.values()]]));
}
