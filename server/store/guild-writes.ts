// One guild write inside the applyWrites transaction. A domain failure
// (unknown message, too many reactions...) is found by a read or by an
// affected-row count BEFORE anything changes, and thrown as a StoreError:
// on PostgreSQL a failed statement would abort the whole transaction, so no
// statement here is allowed to fail for a domain reason. A statement that
// does fail (the connection, the disk, a constraint a race broke) aborts the
// call, and nothing of it is committed.
import { CompiledQuery, sql } from 'kysely';
import { timestampOf } from '../ids/snowflake.js';
import type { SqlEngine } from './database.js';
import { StoreError } from './errors.js';
import { type Db, type UserCache, emojiKey, memberQuery, readMessage, toMember } from './sql-rows.js';
import { type ChannelRecord, type GuildWrite, MAX_REACTIONS_PER_MESSAGE, type MemberAdded, type MessageRecord, type ReactionChange, type UserRecord } from './store.js';

type Write<K extends GuildWrite['kind']> = Extract<GuildWrite, { kind: K }>;

export async function applyWrite(db: Db, engine: SqlEngine, users: UserCache, w: GuildWrite): Promise<unknown> {
  switch (w.kind) {
    case 'create_message':
      return createMessage(db, engine, users, w);
    case 'update_message':
      return updateMessage(db, engine, w);
    case 'delete_message':
      return deleteMessage(db, engine, w);
    case 'add_reaction':
      return addReaction(db, engine, w);
    case 'remove_reaction':
      return removeReaction(db, engine, w);
    case 'add_member':
      return addMember(db, engine, w);
    case 'remove_member': {
      const result = await db.deleteFrom('members').where('guild_id', '=', engine.id(w.guild_id)).where('user_id', '=', engine.id(w.user_id)).executeTakeFirst();
      return result.numDeletedRows > 0n;
    }
    case 'create_channel':
      return createChannel(db, engine, w);
  }
}

async function exists(db: Db, engine: SqlEngine, table: 'users' | 'guilds' | 'channels', id: string): Promise<boolean> {
  return (await db.selectFrom(table).select('id').where('id', '=', engine.id(id)).executeTakeFirst()) !== undefined;
}

async function createMessage(db: Db, engine: SqlEngine, users: UserCache, w: Write<'create_message'>): Promise<MessageRecord> {
  // One statement on the hot path: the insert happens only when the channel (of that guild)
  // and the author exist, and the row count says which.
  const id = engine.id(w.id);
  const authorId = engine.id(w.author_id);
  const result = await db
    .insertInto('messages')
    .columns(['id', 'channel_id', 'guild_id', 'author_id', 'content', 'nonce'])
    .expression((eb) =>
      eb
        .selectFrom('channels as c')
        // Typed parameters: PostgreSQL does not infer a select list's types from the insert's columns.
        .select([
          sql<string>`cast(${id} as bigint)`.as('id'),
          'c.id as channel_id',
          'c.guild_id',
          sql<string>`cast(${authorId} as bigint)`.as('author_id'),
          sql<string>`cast(${w.content} as text)`.as('content'),
          sql<string | null>`cast(${w.nonce ?? null} as text)`.as('nonce'),
        ])
        .where('c.id', '=', engine.id(w.channel_id))
        .where('c.guild_id', '=', engine.id(w.guild_id))
        .where((e) => e.exists(e.selectFrom('users').select('id').where('id', '=', authorId))),
    )
    .executeTakeFirst();
  const author = await users.get(db, engine, w.author_id);
  if (result.numInsertedOrUpdatedRows !== 1n || author === undefined) {
    throw author === undefined ? new StoreError('UNKNOWN_USER') : new StoreError('UNKNOWN_CHANNEL');
  }
  return newMessage(w, author);
}

/** UNKNOWN_CHANNEL or UNKNOWN_MESSAGE, whichever is true. */
async function missingMessage(db: Db, engine: SqlEngine, channelId: string): Promise<StoreError> {
  return (await exists(db, engine, 'channels', channelId)) ? new StoreError('UNKNOWN_MESSAGE') : new StoreError('UNKNOWN_CHANNEL');
}

async function requireMessage(db: Db, engine: SqlEngine, channelId: string, messageId: string): Promise<void> {
  const row = await db.selectFrom('messages').select('id').where('channel_id', '=', engine.id(channelId)).where('id', '=', engine.id(messageId)).executeTakeFirst();
  if (row === undefined) throw await missingMessage(db, engine, channelId);
}

async function updateMessage(db: Db, engine: SqlEngine, w: Write<'update_message'>): Promise<MessageRecord> {
  const result = await db
    .updateTable('messages')
    .set({ content: w.content, edited_timestamp: w.edited_timestamp })
    .where('channel_id', '=', engine.id(w.channel_id))
    .where('id', '=', engine.id(w.message_id))
    .executeTakeFirst();
  if (result.numUpdatedRows === 0n) throw await missingMessage(db, engine, w.channel_id);
  return (await readMessage(db, engine, w.channel_id, w.message_id))!;
}

async function deleteMessage(db: Db, engine: SqlEngine, w: Write<'delete_message'>): Promise<MessageRecord> {
  const before = await readMessage(db, engine, w.channel_id, w.message_id);
  if (before === undefined) throw await missingMessage(db, engine, w.channel_id);
  // Its reactions go with it (ON DELETE CASCADE).
  await db.deleteFrom('messages').where('id', '=', engine.id(w.message_id)).execute();
  return before;
}

async function addReaction(db: Db, engine: SqlEngine, w: Write<'add_reaction'>): Promise<ReactionChange> {
  await requireMessage(db, engine, w.channel_id, w.message_id);
  if (!(await exists(db, engine, 'users', w.user_id))) throw new StoreError('UNKNOWN_USER');
  const messageId = engine.id(w.message_id);
  const key = emojiKey(w.emoji);
  const used = await db.selectFrom('reactions').select('seq').where('message_id', '=', messageId).where('emoji_key', '=', key).limit(1).executeTakeFirst();
  if (used === undefined) {
    const row = await db
      .selectFrom('reactions')
      .select((eb) => eb.fn.count('emoji_key').distinct().as('n'))
      .where('message_id', '=', messageId)
      .executeTakeFirstOrThrow();
    if (Number(row.n) >= MAX_REACTIONS_PER_MESSAGE) throw new StoreError('MAX_REACTIONS');
  }
  const result = await db
    .insertInto('reactions')
    .values({ message_id: messageId, emoji_key: key, emoji_id: w.emoji.id, emoji_name: w.emoji.name, user_id: engine.id(w.user_id) })
    .onConflict((oc) => oc.columns(['message_id', 'emoji_key', 'user_id']).doNothing())
    .executeTakeFirst();
  const message = (await readMessage(db, engine, w.channel_id, w.message_id))!;
  return { message, changed: result.numInsertedOrUpdatedRows === 1n };
}

async function removeReaction(db: Db, engine: SqlEngine, w: Write<'remove_reaction'>): Promise<ReactionChange> {
  await requireMessage(db, engine, w.channel_id, w.message_id);
  const result = await db
    .deleteFrom('reactions')
    .where('message_id', '=', engine.id(w.message_id))
    .where('emoji_key', '=', emojiKey(w.emoji))
    .where('user_id', '=', engine.id(w.user_id))
    .executeTakeFirst();
  const message = (await readMessage(db, engine, w.channel_id, w.message_id))!;
  return { message, changed: result.numDeletedRows > 0n };
}

async function addMember(db: Db, engine: SqlEngine, w: Write<'add_member'>): Promise<MemberAdded> {
  if (!(await exists(db, engine, 'guilds', w.guild_id))) throw new StoreError('UNKNOWN_GUILD');
  if (!(await exists(db, engine, 'users', w.user_id))) throw new StoreError('UNKNOWN_USER');
  const result = await db
    .insertInto('members')
    .values({ guild_id: engine.id(w.guild_id), user_id: engine.id(w.user_id), nick: null, roles: '[]', joined_at: w.joined_at })
    .onConflict((oc) => oc.columns(['guild_id', 'user_id']).doNothing())
    .executeTakeFirst();
  const row = await memberQuery(db).where('m.guild_id', '=', engine.id(w.guild_id)).where('m.user_id', '=', engine.id(w.user_id)).executeTakeFirstOrThrow();
  return { member: toMember(row), added: result.numInsertedOrUpdatedRows === 1n };
}

async function createChannel(db: Db, engine: SqlEngine, w: Write<'create_channel'>): Promise<ChannelRecord> {
  if (!(await exists(db, engine, 'guilds', w.guild_id))) throw new StoreError('UNKNOWN_GUILD');
  await db.insertInto('channels').values({ id: engine.id(w.id), guild_id: engine.id(w.guild_id), name: w.name, topic: w.topic, position: w.position }).execute();
  return { id: w.id, type: 0, guild_id: w.guild_id, name: w.name, position: w.position, topic: w.topic, last_message_id: null };
}

/**
 * A run of new messages in one statement: the insert takes each row only when
 * its channel (of that guild) and its author exist, and RETURNING says which
 * went in, so a row that does not fails alone, as in createMessage. Under load
 * most of a group commit is new messages: one statement instead of one per
 * message is what lets PostgreSQL keep up (each statement is a round trip).
 * On PostgreSQL the rows go as six arrays (unnest), so the statement's text
 * and its six parameters are the same whatever the run's length, instead of
 * six parameters per row in a text PostgreSQL parses and plans anew per size.
 *
 * A run that is the whole commit (`standalone`, no transaction around it) on
 * PostgreSQL goes in first as it is, when every author is a user this store
 * has read (UserCache.has: users are never deleted, so each still exists;
 * schema version 4 dropped the key on author_id that checked it again per
 * row), checked by the foreign key on (channel_id, guild_id) alone (the
 * channel of that guild): the guild actor wrote it from its own members and
 * channels, so it nearly always all goes in, and the join and the existence
 * check of the checked insert would only repeat, per row, the probes the key
 * makes anyway. If the key refuses a row (a channel deleted meanwhile, a
 * caller that got it wrong), the statement changed nothing, and the run goes
 * again through the checked insert, where that row fails alone. A run with
 * an author the store has not read yet goes through the checked insert at
 * once (it checks that the author exists), and the author is read afterwards:
 * the next run of theirs goes unchecked.
 */
export async function createMessages(
  db: Db,
  engine: SqlEngine,
  users: UserCache,
  ws: readonly Write<'create_message'>[],
  /** The statement is the whole commit (no transaction around it): PostgreSQL may use its prepared form. */
  standalone = false,
): Promise<(MessageRecord | StoreError)[]> {
  let went: (id: string) => boolean;
  if (engine.kind !== 'postgres') went = wentIn(await insertValues(db, engine, ws));
  else if (standalone && engine.prepared !== undefined) went = await insertPrepared(engine.prepared, unnestColumns(engine, ws), ws.length, authorsKnown(users, ws));
  else went = wentIn(await insertUnnest(db, engine, ws));
  const out: (MessageRecord | StoreError)[] = [];
  for (const w of ws) {
    const author = users.peek(w.author_id) ?? (await users.get(db, engine, w.author_id));
    if (!went(w.id) || author === undefined) {
      out.push(author === undefined ? new StoreError('UNKNOWN_USER') : new StoreError('UNKNOWN_CHANNEL'));
      continue;
    }
    out.push(newMessage(w, author));
  }
  return out;
}

/** PostgreSQL's SQLSTATE for a row a foreign key refuses. */
const FOREIGN_KEY_VIOLATION = '23503';

/** Every author is a user the store has read, so exists (nothing deletes a user). */
function authorsKnown(users: UserCache, ws: readonly Write<'create_message'>[]): boolean {
  for (const w of ws) if (!users.has(w.author_id)) return false;
  return true;
}

async function insertPrepared(prepared: NonNullable<SqlEngine['prepared']>, columns: unknown[], rows: number, authorsExist: boolean): Promise<(id: string) => boolean> {
  if (!authorsExist) return wentIn(await prepared('guildhall_insert_messages', UNNEST_INSERT, columns));
  try {
    const result = await prepared('guildhall_insert_messages_unchecked', UNNEST_INSERT_UNCHECKED, columns);
    // One statement: every row went in, or it failed and none did.
    if (result.rowCount !== rows) throw new Error(`the insert of ${rows} messages reported ${String(result.rowCount)} rows`);
    return () => true;
  } catch (err) {
    if ((err as { code?: unknown } | null)?.code !== FOREIGN_KEY_VIOLATION) throw err;
    return wentIn(await prepared('guildhall_insert_messages', UNNEST_INSERT, columns));
  }
}

function wentIn(inserted: Inserted): (id: string) => boolean {
  const ids = new Set(inserted.rows.map((r) => String(r.id)));
  return (id) => ids.has(id);
}

type Inserted = { rows: { id?: unknown }[] };

function insertValues(db: Db, engine: SqlEngine, ws: readonly Write<'create_message'>[]): Promise<Inserted> {
  const rows = ws.map(
    (w) =>
      sql`(cast(${engine.id(w.id)} as bigint), cast(${engine.id(w.channel_id)} as bigint), cast(${engine.id(w.guild_id)} as bigint), cast(${engine.id(w.author_id)} as bigint), cast(${w.content} as text), cast(${w.nonce ?? null} as text))`,
  );
  return sql<{ id: string | number | bigint }>`
    with v (id, channel_id, guild_id, author_id, content, nonce) as (values ${sql.join(rows)})
    insert into messages (id, channel_id, guild_id, author_id, content, nonce)
    select v.id, c.id, c.guild_id, v.author_id, v.content, v.nonce
    from v join channels c on c.id = v.channel_id and c.guild_id = v.guild_id
    where exists (select 1 from users u where u.id = v.author_id)
    returning id`.execute(db);
}

/** New messages as six arrays (PostgreSQL): 6 parameters whatever the batch size; the sixth, nonces, mostly nulls. */
export const UNNEST_INSERT = `insert into messages (id, channel_id, guild_id, author_id, content, nonce)
  select v.id, c.id, c.guild_id, v.author_id, v.content, v.nonce
  from unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::bigint[], $5::text[], $6::text[]) as v (id, channel_id, guild_id, author_id, content, nonce)
  join channels c on c.id = v.channel_id and c.guild_id = v.guild_id
  where exists (select 1 from users u where u.id = v.author_id)
  returning id`;

/**
 * The same rows as they are (PostgreSQL): no join, no existence check, no RETURNING. The foreign
 * key on (channel_id, guild_id) (schema version 3) checks every row; a row it refuses fails the
 * statement, which then changed nothing. Authors are not checked here (schema version 4 has no
 * key on author_id): only runs whose authors the store knows exist come this way. Six unnest()
 * in the select list (one ProjectSet node: the arrays in lockstep, all of one length here)
 * rather than unnest() of six arrays in FROM, which fills a tuplestore per array first.
 */
export const UNNEST_INSERT_UNCHECKED = `insert into messages (id, channel_id, guild_id, author_id, content, nonce)
  select unnest($1::bigint[]), unnest($2::bigint[]), unnest($3::bigint[]), unnest($4::bigint[]), unnest($5::text[]), unnest($6::text[])`;

/**
 * The six arrays as PostgreSQL's array literals, written here rather than by pg (which quotes
 * and escapes every element through two regular expressions): ids are decimal digits and need
 * neither; text is quoted, with only a backslash or a double quote escaped
 * (https://www.postgresql.org/docs/current/arrays.html#ARRAYS-IO).
 */
function unnestColumns(engine: SqlEngine, ws: readonly Write<'create_message'>[]): string[] {
  let ids = '{';
  let channels = '{';
  let guilds = '{';
  let authors = '{';
  let contents = '{';
  let nonces = '{';
  for (let i = 0; i < ws.length; i++) {
    const w = ws[i]!;
    const sep = i === 0 ? '' : ',';
    ids += sep + String(engine.id(w.id));
    channels += sep + String(engine.id(w.channel_id));
    guilds += sep + String(engine.id(w.guild_id));
    authors += sep + String(engine.id(w.author_id));
    contents += sep + arrayText(w.content);
    nonces += sep + (w.nonce === undefined || w.nonce === null ? 'NULL' : arrayText(w.nonce));
  }
  return [`${ids}}`, `${channels}}`, `${guilds}}`, `${authors}}`, `${contents}}`, `${nonces}}`];
}

/** One text element of an array literal. */
export function arrayText(text: string): string {
  return text.includes('\\') || text.includes('"') ? `"${text.replace(/[\\"]/g, '\\$&')}"` : `"${text}"`;
}

function insertUnnest(db: Db, engine: SqlEngine, ws: readonly Write<'create_message'>[]): Promise<Inserted> {
  return db.executeQuery(CompiledQuery.raw(UNNEST_INSERT, unnestColumns(engine, ws)));
}

/** A message as it was just created: its time is its snowflake's, as on Discord. */
export function newMessage(w: Write<'create_message'>, author: UserRecord): MessageRecord {
  return {
    id: w.id,
    channel_id: w.channel_id,
    guild_id: w.guild_id,
    author,
    content: w.content,
    timestamp: new Date(timestampOf(w.id)).toISOString(),
    edited_timestamp: null,
    reactions: [],
  };
}
