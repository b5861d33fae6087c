// The Store on SQL: SQLite (better-sqlite3) or PostgreSQL (pg), one code
// path through Kysely. Opening it runs the migrations and starts the id
// generator after the largest id stored, so ids never repeat across restarts.
//
// Every read and write goes to the database: the process keeps no copy of
// message history. A guild's members and channels are cached by its actor,
// not here.
import { compareSnowflakes, DISCORD_EPOCH, SnowflakeGenerator, snowflakeAt, timestampOf } from '../ids/snowflake.js';
import { type DatabaseTarget, type OpenDatabaseOptions, type SqlEngine, openDatabase } from './database.js';
import { StoreError, isUniqueViolation, mapDriverError } from './errors.js';
import { applyWrite, createMessages } from './guild-writes.js';
import { migrate } from './migrations.js';
import { INSERT_MESSAGE, SqliteMessages } from './sqlite-messages.js';
import { SqliteWriter } from './sqlite-writer.js';
import { type Db, UserCache, channelQuery, memberQuery, messageQuery, readMessage, readUser, str, toChannel, toMember, toMessages } from './sql-rows.js';
import type {
  ChannelRecord,
  EmojiRecord,
  GuildRecord,
  GuildWrite,
  ListMembersOptions,
  ListMessagesOptions,
  MemberAdded,
  MemberRecord,
  MessageEdit,
  MessageRecord,
  NewChannel,
  NewGuild,
  NewMessage,
  NewUser,
  ReactionChange,
  Store,
  StoredNonce,
  UserRecord,
  WriteOutcome,
} from './store.js';

export interface SqlStoreOptions extends OpenDatabaseOptions {
  /** Unix milliseconds, for ids, joined_at and edited_timestamp. Defaults to Date.now. */
  now?: () => number;
  /** A SQLite file: commit new messages on a worker thread (default true), so the fsync does not hold the event loop. */
  sqliteWriterThread?: boolean;
}

/** Opens the database, brings its schema up to date and returns the store. */
export async function openSqlStore(target: DatabaseTarget, options: SqlStoreOptions = {}): Promise<SqlStore> {
  let engine: SqlEngine | undefined;
  try {
    engine = openDatabase(target, options);
    await migrate(engine);
    const now = options.now ?? Date.now;
    const ids = new SnowflakeGenerator({ clock: now, after: await largestId(engine.db) });
    return new SqlStore(engine, ids, now, await openWriter(target, options));
  } catch (err) {
    await engine?.close().catch(() => undefined);
    throw mapDriverError(err);
  }
}

/** The writer thread of a SQLite file, or undefined (`:memory:` has one connection; a thread that cannot open: the main thread commits). */
async function openWriter(target: DatabaseTarget, options: SqlStoreOptions): Promise<SqliteWriter | undefined> {
  if (target.kind !== 'sqlite' || target.path === ':memory:' || options.sqliteWriterThread === false) return undefined;
  const writer = new SqliteWriter({
    path: target.path,
    insert: INSERT_MESSAGE,
    synchronous: (options.synchronous ?? 'full').toUpperCase(),
    busyTimeoutMs: Math.max(0, Math.floor(options.busyTimeoutMs ?? 5000)),
    binding: options.sqliteBinding,
  });
  try {
    await writer.ready;
    return writer;
  } catch {
    await writer.close();
    return undefined;
  }
}

/** The largest snowflake of any table (each max() is one step down a primary-key index). */
async function largestId(db: Db): Promise<string | undefined> {
  let largest: string | undefined;
  for (const table of ['users', 'guilds', 'channels', 'messages'] as const) {
    const row = await db.selectFrom(table).select((eb) => eb.fn.max('id').as('id')).executeTakeFirst();
    const id = row?.id === null || row?.id === undefined ? undefined : str(row.id);
    if (id !== undefined && (largest === undefined || compareSnowflakes(id, largest) > 0)) largest = id;
  }
  return largest;
}

function clamp(n: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, Math.floor(n)));
}

export class SqlStore implements Store {
  readonly ids: SnowflakeGenerator;
  private readonly engine: SqlEngine;
  private readonly db: Db;
  private readonly now: () => number;
  private readonly users = new UserCache();
  /** SQLite: new messages committed on the connection directly (the hot path). */
  private readonly sqliteMessages: SqliteMessages | undefined;
  private closed: Promise<void> | undefined;

  constructor(
    engine: SqlEngine,
    ids: SnowflakeGenerator,
    now: () => number,
    private readonly writer?: SqliteWriter,
  ) {
    this.engine = engine;
    this.db = engine.db;
    this.ids = ids;
    this.now = now;
    this.sqliteMessages = engine.sqlite && new SqliteMessages(engine.sqlite, this.users, (v) => engine.id(v) as bigint);
  }

  get kind(): SqlEngine['kind'] {
    return this.engine.kind;
  }

  /** Runs `fn`, turning a driver's infrastructure failure into a StoreError. */
  private async run<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw mapDriverError(err);
    }
  }

  private id(value: string): string | bigint {
    return this.engine.id(value);
  }

  // --- guild writes -----------------------------------------------------------

  applyWrites(writes: readonly GuildWrite[]): Promise<WriteOutcome[]> {
    if (writes.length === 0) return Promise.resolve([]);
    const onlyMessages = writes.every((w) => w.kind === 'create_message');
    const messages = this.sqliteMessages;
    if (onlyMessages && messages !== undefined) {
      const ws = writes as Extract<GuildWrite, { kind: 'create_message' }>[];
      const writer = this.writer?.alive === true ? this.writer : undefined;
      if (writer !== undefined || messages.available) {
        return this.run(async () =>
          (writer === undefined ? messages.apply(ws) : await messages.applyOn(writer, ws)).map((r) => (r instanceof StoreError ? { ok: false, error: r } : { ok: true, value: r })),
        );
      }
    }
    if (this.engine.kind === 'postgres' && onlyMessages) {
      // The usual group commit: one statement, atomic on its own, so no BEGIN and COMMIT
      // around it (three round trips become one), as a prepared statement. SQLite is in-process: nothing to save.
      return this.run(async () =>
        (await createMessages(this.db, this.engine, this.users, writes as Extract<GuildWrite, { kind: 'create_message' }>[], true)).map((r) =>
          r instanceof StoreError ? { ok: false, error: r } : { ok: true, value: r },
        ),
      );
    }
    return this.run(() =>
      this.db.transaction().execute(async (trx) => {
        const outcomes: WriteOutcome[] = [];
        for (let i = 0; i < writes.length; ) {
          // Consecutive new messages go in as one statement (in order: ids are the order).
          let j = i;
          while (j < writes.length && writes[j]!.kind === 'create_message') j++;
          if (j - i > 1) {
            const run = writes.slice(i, j) as Extract<GuildWrite, { kind: 'create_message' }>[];
            for (const r of await createMessages(trx, this.engine, this.users, run)) outcomes.push(r instanceof StoreError ? { ok: false, error: r } : { ok: true, value: r });
            i = j;
            continue;
          }
          const w = writes[i++]!;
          try {
            outcomes.push({ ok: true, value: await applyWrite(trx, this.engine, this.users, w) });
          } catch (err) {
            // Domain failures changed nothing (guild-writes.ts checks before it writes); anything else aborts the call.
            if (err instanceof StoreError) outcomes.push({ ok: false, error: err });
            else throw err;
          }
        }
        return outcomes;
      }),
    );
  }

  private async applyOne<T>(write: GuildWrite): Promise<T> {
    const [outcome] = await this.applyWrites([write]);
    if (!outcome!.ok) throw outcome!.error;
    return outcome!.value as T;
  }

  setting(key: string, initial: string): Promise<string> {
    return this.run(async () => {
      await this.db.insertInto('settings').values({ key, value: initial }).onConflict((oc) => oc.column('key').doNothing()).execute();
      return (await this.db.selectFrom('settings').select('value').where('key', '=', key).executeTakeFirstOrThrow()).value;
    });
  }

  isEmpty(): Promise<boolean> {
    return this.run(async () => (await this.db.selectFrom('users').select('id').limit(1).executeTakeFirst()) === undefined);
  }

  close(): Promise<void> {
    this.closed ??= (async () => {
      await this.writer?.close();
      await this.engine.close();
    })();
    return this.closed;
  }

  // --- users ------------------------------------------------------------------

  createUser(input: NewUser): Promise<UserRecord> {
    const user: UserRecord = {
      id: this.ids.next(),
      username: input.username,
      discriminator: '0',
      global_name: input.global_name ?? null,
      avatar: null,
      bot: input.bot ?? false,
    };
    return this.run(async () => {
      try {
        await this.db
          .insertInto('users')
          .values({ id: this.id(user.id), username: user.username, username_key: user.username.toLowerCase(), global_name: user.global_name, bot: user.bot ? 1 : 0 })
          .execute();
      } catch (err) {
        if (isUniqueViolation(err)) throw new StoreError('USERNAME_TAKEN', 'Username is unavailable. Try another.', { cause: err });
        throw err;
      }
      return user;
    });
  }

  getUser(id: string): Promise<UserRecord | undefined> {
    return this.run(() => readUser(this.db, this.engine, id));
  }

  findUserByUsername(username: string): Promise<UserRecord | undefined> {
    return this.run(async () => {
      const row = await this.db.selectFrom('users').select('id').where('username_key', '=', username.toLowerCase()).executeTakeFirst();
      return row && readUser(this.db, this.engine, str(row.id));
    });
  }

  // --- guilds -----------------------------------------------------------------

  createGuild(input: NewGuild): Promise<GuildRecord> {
    const id = this.ids.next();
    const channelId = this.ids.next();
    const joinedAt = new Date(this.now()).toISOString();
    return this.run(() =>
      this.db.transaction().execute(async (trx) => {
        if ((await readUser(trx, this.engine, input.owner_id)) === undefined) throw new StoreError('UNKNOWN_USER');
        await trx.insertInto('guilds').values({ id: this.id(id), name: input.name, owner_id: this.id(input.owner_id) }).execute();
        await trx.insertInto('channels').values({ id: this.id(channelId), guild_id: this.id(id), name: 'general', topic: null, position: 0 }).execute();
        await trx.insertInto('members').values({ guild_id: this.id(id), user_id: this.id(input.owner_id), nick: null, roles: '[]', joined_at: joinedAt }).execute();
        return { id, name: input.name, owner_id: input.owner_id, icon: null, created_at: new Date(timestampOf(id)).toISOString() };
      }),
    );
  }

  getGuild(id: string): Promise<GuildRecord | undefined> {
    return this.run(async () => {
      const row = await this.db.selectFrom('guilds').select(['id', 'name', 'owner_id']).where('id', '=', this.id(id)).executeTakeFirst();
      return row && toGuild(row);
    });
  }

  listGuildsForUser(userId: string): Promise<GuildRecord[]> {
    return this.run(async () => {
      const rows = await this.db
        .selectFrom('members as m')
        .innerJoin('guilds as g', 'g.id', 'm.guild_id')
        .select(['g.id', 'g.name', 'g.owner_id'])
        .where('m.user_id', '=', this.id(userId))
        .orderBy('g.id')
        .execute();
      return rows.map(toGuild);
    });
  }

  deleteGuild(id: string): Promise<boolean> {
    // Channels, members, messages and reactions go with it (ON DELETE CASCADE).
    return this.run(async () => (await this.db.deleteFrom('guilds').where('id', '=', this.id(id)).executeTakeFirst()).numDeletedRows > 0n);
  }

  // --- channels ---------------------------------------------------------------

  async createChannel(input: NewChannel): Promise<ChannelRecord> {
    let position = input.position;
    if (position === undefined) {
      const row = await this.run(() =>
        this.db.selectFrom('channels').select((eb) => eb.fn.max('position').as('p')).where('guild_id', '=', this.id(input.guild_id)).executeTakeFirst(),
      );
      position = row?.p === null || row?.p === undefined ? 0 : Number(row.p) + 1;
    }
    return this.applyOne({ kind: 'create_channel', id: this.ids.next(), guild_id: input.guild_id, name: input.name, topic: input.topic ?? null, position });
  }

  getChannel(id: string): Promise<ChannelRecord | undefined> {
    return this.run(async () => {
      const row = await channelQuery(this.db).where('c.id', '=', this.id(id)).executeTakeFirst();
      return row && toChannel(row);
    });
  }

  listChannels(guildId: string): Promise<ChannelRecord[]> {
    return this.run(async () => (await channelQuery(this.db).where('c.guild_id', '=', this.id(guildId)).orderBy('c.position').orderBy('c.id').execute()).map(toChannel));
  }

  // --- members ----------------------------------------------------------------

  addMember(guildId: string, userId: string): Promise<MemberAdded> {
    return this.applyOne({ kind: 'add_member', guild_id: guildId, user_id: userId, joined_at: new Date(this.now()).toISOString() });
  }

  removeMember(guildId: string, userId: string): Promise<boolean> {
    return this.applyOne({ kind: 'remove_member', guild_id: guildId, user_id: userId });
  }

  getMember(guildId: string, userId: string): Promise<MemberRecord | undefined> {
    return this.run(async () => {
      const row = await memberQuery(this.db).where('m.guild_id', '=', this.id(guildId)).where('m.user_id', '=', this.id(userId)).executeTakeFirst();
      return row && toMember(row);
    });
  }

  listMembers(guildId: string, options: ListMembersOptions = {}): Promise<MemberRecord[]> {
    const limit = clamp(options.limit ?? 1000, 1, 1000);
    return this.run(async () => {
      let query = memberQuery(this.db).where('m.guild_id', '=', this.id(guildId));
      if (options.after !== undefined) query = query.where('m.user_id', '>', this.id(options.after));
      return (await query.orderBy('m.user_id').limit(limit).execute()).map(toMember);
    });
  }

  isMember(guildId: string, userId: string): Promise<boolean> {
    return this.run(
      async () =>
        (await this.db.selectFrom('members').select('user_id').where('guild_id', '=', this.id(guildId)).where('user_id', '=', this.id(userId)).executeTakeFirst()) !== undefined,
    );
  }

  // --- messages ---------------------------------------------------------------

  async createMessage(input: NewMessage): Promise<MessageRecord> {
    const channel = await this.getChannel(input.channel_id);
    if (channel === undefined) throw new StoreError('UNKNOWN_CHANNEL');
    return this.applyOne({ kind: 'create_message', id: this.ids.next(), channel_id: input.channel_id, guild_id: channel.guild_id, author_id: input.author_id, content: input.content });
  }

  getMessage(channelId: string, messageId: string): Promise<MessageRecord | undefined> {
    return this.run(() => readMessage(this.db, this.engine, channelId, messageId));
  }

  recentNonces(guildId: string, sinceMs: number, limit: number): Promise<StoredNonce[]> {
    const since = snowflakeAt(Math.max(sinceMs, DISCORD_EPOCH));
    return this.run(async () => {
      // `nonce is not null` as the partial index messages_guild_nonce says: the planner may use it.
      const rows = await this.db
        .selectFrom('messages')
        .select(['id', 'channel_id', 'author_id', 'nonce'])
        .where('guild_id', '=', this.id(guildId))
        .where('nonce', 'is not', null)
        .where('id', '>=', this.id(since))
        .orderBy('id', 'desc')
        .limit(clamp(limit, 1, 100_000))
        .execute();
      return rows.map((r) => ({ message_id: str(r.id), channel_id: str(r.channel_id), author_id: str(r.author_id), nonce: r.nonce! }));
    });
  }

  /**
   * Newest first, like Discord, one page of at most 100 with keyset pagination on
   * (channel_id, id): every variant is one range scan of that index.
   */
  listMessages(channelId: string, options: ListMessagesOptions = {}): Promise<MessageRecord[]> {
    const limit = clamp(options.limit ?? 50, 1, 100);
    const channel = this.id(channelId);
    const page = () => messageQuery(this.db).where('m.channel_id', '=', channel);
    return this.run(async () => {
      let rows;
      if (options.before !== undefined) {
        rows = await page().where('m.id', '<', this.id(options.before)).orderBy('m.id', 'desc').limit(limit).execute();
      } else if (options.after !== undefined) {
        // Discord returns the messages right after `after`, not the newest ones.
        rows = (await page().where('m.id', '>', this.id(options.after)).orderBy('m.id', 'asc').limit(limit).execute()).reverse();
      } else if (options.around !== undefined) {
        // Half the page before the pivot, the rest from the pivot on (the pivot included when it exists).
        const older = await page().where('m.id', '<', this.id(options.around)).orderBy('m.id', 'desc').limit(Math.floor(limit / 2)).execute();
        const newer = await page().where('m.id', '>=', this.id(options.around)).orderBy('m.id', 'asc').limit(limit - older.length).execute();
        rows = [...newer.reverse(), ...older];
      } else {
        rows = await page().orderBy('m.id', 'desc').limit(limit).execute();
      }
      return toMessages(this.db, this.engine, rows);
    });
  }

  updateMessage(channelId: string, messageId: string, edit: MessageEdit): Promise<MessageRecord> {
    return this.applyOne({ kind: 'update_message', channel_id: channelId, message_id: messageId, content: edit.content, edited_timestamp: new Date(this.now()).toISOString() });
  }

  deleteMessage(channelId: string, messageId: string): Promise<MessageRecord> {
    return this.applyOne({ kind: 'delete_message', channel_id: channelId, message_id: messageId });
  }

  addReaction(channelId: string, messageId: string, userId: string, emoji: EmojiRecord): Promise<ReactionChange> {
    return this.applyOne({ kind: 'add_reaction', channel_id: channelId, message_id: messageId, user_id: userId, emoji });
  }

  removeReaction(channelId: string, messageId: string, userId: string, emoji: EmojiRecord): Promise<ReactionChange> {
    return this.applyOne({ kind: 'remove_reaction', channel_id: channelId, message_id: messageId, user_id: userId, emoji });
  }
}

function toGuild(row: { id: string | bigint; name: string; owner_id: string | bigint }): GuildRecord {
  const id = str(row.id);
  return { id, name: row.name, owner_id: str(row.owner_id), icon: null, created_at: new Date(timestampOf(id)).toISOString() };
}
