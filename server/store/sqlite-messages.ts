// SQLite's group commit of new messages, straight on better-sqlite3: the
// usual commit (a few new messages; at a paced rate 1-4 of them) as
// BEGIN, one kept prepared INSERT per message, COMMIT, all synchronous.
// Through Kysely the same commit built and compiled a query per statement and
// awaited each one: in a CPU profile of the paced phase on :memory: that was
// the largest of the server's own costs. Same semantics as createMessages
// (guild-writes.ts): a message goes in only when its channel (of that guild)
// and its author exist, and one that does not fails alone.
import type SQLite from 'better-sqlite3';
import { StoreError } from './errors.js';
import { newMessage } from './guild-writes.js';
import { type UserCache, type UserRow, toUser } from './sql-rows.js';
import type { MessageRow, SqliteWriter } from './sqlite-writer.js';
import type { GuildWrite, MessageRecord, UserRecord } from './store.js';

type NewMessage = Extract<GuildWrite, { kind: 'create_message' }>;

/** Parameters: id, author, content, nonce, channel, guild, author. */
export const INSERT_MESSAGE = `insert into messages (id, channel_id, guild_id, author_id, content, nonce)
  select ?, c.id, c.guild_id, ?, ?, ? from channels c
  where c.id = ? and c.guild_id = ? and exists (select 1 from users u where u.id = ?)`;
const USER = 'select id, username, global_name, bot from users where id = ?';

export class SqliteMessages {
  private readonly insert: SQLite.Statement;
  private readonly user: SQLite.Statement<[bigint], UserRow>;
  private readonly commit: (ws: readonly NewMessage[]) => (MessageRecord | StoreError)[];

  constructor(
    private readonly sqlite: SQLite.Database,
    private readonly users: UserCache,
    /** The engine's binding of a snowflake (clamped to int64). */
    private readonly id: (value: string) => bigint,
  ) {
    this.insert = sqlite.prepare(INSERT_MESSAGE);
    this.user = sqlite.prepare(USER);
    // better-sqlite3's transaction: BEGIN, the function, COMMIT (ROLLBACK if it throws).
    this.commit = sqlite.transaction((ws: readonly NewMessage[]) => ws.map((w) => this.one(w)));
  }

  /**
   * Whether the connection is free for a transaction of its own: a Kysely
   * transaction in progress (another write's, between its awaits) would make
   * this one a savepoint inside it, so the caller takes the Kysely path then.
   */
  get available(): boolean {
    return !this.sqlite.inTransaction;
  }

  /** Commits the messages that can go in, in one transaction; a driver error throws (nothing committed). */
  apply(ws: readonly NewMessage[]): (MessageRecord | StoreError)[] {
    // One message (a paced post's usual commit): its INSERT alone is a transaction (SQLite's autocommit), as
    // atomic and as durable as inside BEGIN/COMMIT, without the two more statements and their result objects.
    if (ws.length === 1 && !this.sqlite.inTransaction) return [this.one(ws[0]!)];
    return this.commit(ws);
  }

  /** The same commit on the writer thread (a file: its fsync off the event loop). */
  async applyOn(writer: SqliteWriter, ws: readonly NewMessage[]): Promise<(MessageRecord | StoreError)[]> {
    const inserted = await writer.commit(ws.map((w): MessageRow => [this.id(w.id), this.id(w.author_id), w.content, this.id(w.channel_id), this.id(w.guild_id), w.nonce ?? null]));
    return ws.map((w, i) => this.outcome(w, inserted[i] === true));
  }

  private one(w: NewMessage): MessageRecord | StoreError {
    // The author first: the INSERT is the last thing that can throw, so a lone message in autocommit (apply)
    // is either committed and answered, or neither.
    const user = this.author(w);
    const author = this.id(w.author_id);
    const inserted = this.insert.run(this.id(w.id), author, w.content, w.nonce ?? null, this.id(w.channel_id), this.id(w.guild_id), author).changes === 1;
    return this.result(w, user, inserted);
  }

  private outcome(w: NewMessage, inserted: boolean): MessageRecord | StoreError {
    return this.result(w, this.author(w), inserted);
  }

  private author(w: NewMessage): UserRecord | undefined {
    return this.users.peek(w.author_id) ?? this.users.keep(this.readUser(this.id(w.author_id)));
  }

  private result(w: NewMessage, user: UserRecord | undefined, inserted: boolean): MessageRecord | StoreError {
    if (user === undefined) return new StoreError('UNKNOWN_USER');
    if (!inserted) return new StoreError('UNKNOWN_CHANNEL');
    return newMessage(w, user);
  }

  private readUser(id: bigint) {
    const row = this.user.get(id);
    return row && toUser(row);
  }
}
