// The schema, as one ordered list of migrations. They run when the store
// opens, under a lock (a PostgreSQL advisory lock, a SQLite EXCLUSIVE
// transaction), so several servers starting on one database apply each
// migration once. `schema_migrations` records what was applied; a database
// whose schema is newer than this binary knows is refused rather than used
// by code that does not understand it.
//
// Append new migrations at the end; never edit one that has shipped.
import { type Kysely, sql } from 'kysely';
import { ConfigError } from '../config.js';
import type { SqlEngine } from './database.js';

type Kind = SqlEngine['kind'];

export interface Migration {
  version: number;
  name: string;
  // Migrations see the database as it was then, not as schema.ts describes it now.
  up(db: Kysely<any>, kind: Kind): Promise<void>; // eslint-disable-line @typescript-eslint/no-explicit-any
}

/** Any constant, the same for every Guildhall: it names "the migration lock" in pg_locks. */
const MIGRATION_LOCK_KEY = '7239162415';

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'users, guilds, channels, members, messages, reactions, settings',
    async up(db, kind) {
      // A snowflake: BIGINT on PostgreSQL; on SQLite every INTEGER is 64-bit, and an
      // INTEGER PRIMARY KEY is the table's rowid (no second index).
      const id = kind === 'postgres' ? 'bigint' : 'integer';
      await db.schema
        .createTable('users')
        .addColumn('id', id, (c) => c.primaryKey())
        .addColumn('username', 'text', (c) => c.notNull())
        .addColumn('username_key', 'text', (c) => c.notNull().unique())
        .addColumn('global_name', 'text')
        .addColumn('bot', 'integer', (c) => c.notNull().defaultTo(0))
        .execute();
      await db.schema
        .createTable('guilds')
        .addColumn('id', id, (c) => c.primaryKey())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('owner_id', id, (c) => c.notNull().references('users.id'))
        .execute();
      await db.schema
        .createTable('channels')
        .addColumn('id', id, (c) => c.primaryKey())
        .addColumn('guild_id', id, (c) => c.notNull().references('guilds.id').onDelete('cascade'))
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('topic', 'text')
        .addColumn('position', 'integer', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('channels_guild').on('channels').columns(['guild_id', 'position']).execute();
      await db.schema
        .createTable('members')
        .addColumn('guild_id', id, (c) => c.notNull().references('guilds.id').onDelete('cascade'))
        .addColumn('user_id', id, (c) => c.notNull().references('users.id'))
        .addColumn('nick', 'text')
        .addColumn('roles', 'text', (c) => c.notNull().defaultTo('[]'))
        .addColumn('joined_at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('members_pk', ['guild_id', 'user_id'])
        .execute();
      // A user's guilds (READY, /users/@me/guilds).
      await db.schema.createIndex('members_user').on('members').columns(['user_id', 'guild_id']).execute();
      await db.schema
        .createTable('messages')
        .addColumn('id', id, (c) => c.primaryKey())
        .addColumn('channel_id', id, (c) => c.notNull().references('channels.id').onDelete('cascade'))
        .addColumn('guild_id', id, (c) => c.notNull())
        .addColumn('author_id', id, (c) => c.notNull().references('users.id'))
        .addColumn('content', 'text', (c) => c.notNull())
        .addColumn('edited_timestamp', 'text')
        .execute();
      // History pages (before/after/around, newest first) walk this index; so does last_message_id.
      await db.schema.createIndex('messages_channel_id').on('messages').columns(['channel_id', 'id']).unique().execute();
      await db.schema
        .createTable('reactions')
        .addColumn('seq', kind === 'postgres' ? 'bigint' : 'integer', (c) =>
          kind === 'postgres' ? c.primaryKey().generatedAlwaysAsIdentity() : c.primaryKey(),
        )
        .addColumn('message_id', id, (c) => c.notNull().references('messages.id').onDelete('cascade'))
        .addColumn('emoji_key', 'text', (c) => c.notNull())
        .addColumn('emoji_id', 'text')
        .addColumn('emoji_name', 'text', (c) => c.notNull())
        .addColumn('user_id', id, (c) => c.notNull().references('users.id'))
        .execute();
      await db.schema.createIndex('reactions_unique').on('reactions').columns(['message_id', 'emoji_key', 'user_id']).unique().execute();
      await db.schema
        .createTable('settings')
        .addColumn('key', 'text', (c) => c.primaryKey())
        .addColumn('value', 'text', (c) => c.notNull())
        .execute();
    },
  },
  {
    version: 2,
    name: 'messages.nonce: enforce_nonce posts survive a restart or a failover',
    async up(db) {
      // Set only on enforce_nonce posts (typed, as RecentNonces keys it); null on every other message.
      await db.schema.alterTable('messages').addColumn('nonce', 'text').execute();
      // A guild starting loads its posts of the last minutes that carry one: partial, so the
      // index holds only those rows and a post without a nonce does not touch it.
      await db.schema
        .createIndex('messages_guild_nonce')
        .on('messages')
        .columns(['guild_id', 'id'])
        .where(sql.ref('nonce'), 'is not', null)
        .execute();
    },
  },
  {
    version: 3,
    name: 'PostgreSQL: a message belongs to its channel and that channel\'s guild (messages (channel_id, guild_id) references channels (id, guild_id))',
    async up(db, kind) {
      // PostgreSQL's insert of new messages is the rows as they are, checked by the foreign keys
      // alone (guild-writes.ts): the key on (channel_id, guild_id) says what the insert's join on
      // channels said, that the guild is the channel's. It replaces the key on channel_id alone
      // (the same probe of channels per row, one column more), with the same cascade. Adding it
      // checks every stored message once. SQLite cannot change a table's constraints in place, and
      // its inserts keep their own check (sqlite-messages.ts): nothing to do there.
      if (kind !== 'postgres') return;
      await sql`create unique index channels_id_guild on channels (id, guild_id)`.execute(db);
      await sql`alter table messages
        add constraint messages_channel_guild_fkey foreign key (channel_id, guild_id) references channels (id, guild_id) on delete cascade,
        drop constraint messages_channel_id_fkey`.execute(db);
    },
  },
  {
    version: 4,
    name: 'PostgreSQL: no foreign key from messages.author_id to users (nothing deletes a user; the store checks authors it has not read)',
    async up(db, kind) {
      // The key made PostgreSQL probe users, with its own executor start and row lock, for every
      // new message. Nothing in Guildhall deletes a user, so a user once read exists for good: the
      // store inserts a run unchecked only when it has read every author (UserCache.has), and
      // sends any other run through the insert that checks each author exists (guild-writes.ts).
      // Dropping a key checks nothing and takes a moment's lock. SQLite: nothing (its inserts
      // check authors themselves, and it cannot drop a constraint in place).
      if (kind !== 'postgres') return;
      await sql`alter table messages drop constraint messages_author_id_fkey`.execute(db);
    },
  },
];

export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;

export interface MigrationResult {
  /** The version found (0 for an empty database). */
  from: number;
  to: number;
}

/** Brings the schema up to date, once, under the migration lock. */
export async function migrate(engine: SqlEngine, migrations: readonly Migration[] = MIGRATIONS): Promise<MigrationResult> {
  const latest = migrations.length === 0 ? 0 : migrations[migrations.length - 1]!.version;
  return engine.db.connection().execute(async (conn) => {
    if (engine.kind === 'sqlite') {
      await sql`BEGIN EXCLUSIVE`.execute(conn);
    } else {
      await sql`BEGIN`.execute(conn);
      await sql`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK_KEY}::bigint)`.execute(conn);
    }
    try {
      await conn.schema
        .createTable('schema_migrations')
        .ifNotExists()
        .addColumn('version', 'integer', (c) => c.primaryKey())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('applied_at', 'text', (c) => c.notNull())
        .execute();
      const row = await conn.selectFrom('schema_migrations').select((eb) => eb.fn.max('version').as('v')).executeTakeFirst();
      const from = Number(row?.v ?? 0);
      if (from > latest) {
        throw new ConfigError([
          {
            field: 'DATABASE_URL',
            problem: `the database schema is version ${from}, newer than this Guildhall knows (${latest}); run the newer Guildhall that migrated it, or restore a backup`,
          },
        ]);
      }
      for (const m of migrations) {
        if (m.version <= from) continue;
        await m.up(conn, engine.kind);
        await conn.insertInto('schema_migrations').values({ version: m.version, name: m.name, applied_at: new Date().toISOString() }).execute();
      }
      await sql`COMMIT`.execute(conn);
      return { from, to: Math.max(from, latest) };
    } catch (err) {
      await sql`ROLLBACK`.execute(conn).catch(() => undefined);
      throw err;
    }
  });
}
