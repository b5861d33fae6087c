// The tables, as Kysely sees them. One set of types for both engines.
//
// Snowflakes are 64-bit integers in the database (BIGINT on PostgreSQL,
// INTEGER on SQLite), so `ORDER BY id` and keyset pagination compare numbers
// on both. They leave the database as `bigint` (SQLite, with safe integers
// on) or as a decimal string (pg's default for int8) and become strings at
// the edge (sql-rows.ts); parameters go in as the driver wants them
// (SqlEngine.id). Small integers (position, bot) come back as bigint from
// SQLite for the same reason, and are converted with Number().
import type { ColumnType, Generated } from 'kysely';

/** A snowflake column: written as a string (pg) or bigint (SQLite), read as either. */
export type IdColumn = ColumnType<string | bigint, string | bigint, string | bigint>;
/** An integer column that SQLite reads back as bigint. */
export type IntColumn = ColumnType<number | bigint, number, number>;

export interface UsersTable {
  id: IdColumn;
  username: string;
  /** Lowercased username with a UNIQUE index: usernames are unique case-insensitively. */
  username_key: string;
  global_name: string | null;
  /** 0 or 1 (SQLite has no boolean). */
  bot: IntColumn;
}

export interface GuildsTable {
  id: IdColumn;
  name: string;
  owner_id: IdColumn;
}

export interface ChannelsTable {
  id: IdColumn;
  guild_id: IdColumn;
  name: string;
  topic: string | null;
  position: IntColumn;
}

export interface MembersTable {
  guild_id: IdColumn;
  user_id: IdColumn;
  nick: string | null;
  /** JSON array of role ids. */
  roles: string;
  /** ISO 8601. */
  joined_at: string;
}

export interface MessagesTable {
  id: IdColumn;
  channel_id: IdColumn;
  guild_id: IdColumn;
  author_id: IdColumn;
  content: string;
  /** ISO 8601, null until edited. */
  edited_timestamp: string | null;
  /** An enforce_nonce post's nonce, typed (`string:abc`, `number:42`); null otherwise. Schema version 2. */
  nonce: ColumnType<string | null, string | null | undefined, string | null>;
}

export interface ReactionsTable {
  /** Insertion order: who reacted first, which emoji was used first. */
  seq: Generated<IntColumn>;
  message_id: IdColumn;
  /** `u:<name>` for a unicode emoji, `c:<id>` for a custom one (a custom emoji is its id, whatever its name). */
  emoji_key: string;
  emoji_id: string | null;
  emoji_name: string;
  user_id: IdColumn;
}

export interface SettingsTable {
  key: string;
  value: string;
}

export interface SchemaMigrationsTable {
  version: IntColumn;
  name: string;
  applied_at: string;
}

export interface Database {
  users: UsersTable;
  guilds: GuildsTable;
  channels: ChannelsTable;
  members: MembersTable;
  messages: MessagesTable;
  reactions: ReactionsTable;
  settings: SettingsTable;
  schema_migrations: SchemaMigrationsTable;
}
