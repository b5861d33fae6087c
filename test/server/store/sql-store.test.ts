import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../../server/config.js';
import { snowflakeAt } from '../../../server/ids/snowflake.js';
import { openDatabase, pgId } from '../../../server/store/database.js';
import { MIGRATIONS, SCHEMA_VERSION, migrate } from '../../../server/store/migrations.js';
import { StoreError } from '../../../server/store/errors.js';
import { createMessages } from '../../../server/store/guild-writes.js';
import { openSqlStore } from '../../../server/store/sql-store.js';
import { UserCache } from '../../../server/store/sql-rows.js';
import type { GuildWrite } from '../../../server/store/store.js';
import { type TestDatabase, createTestDatabase } from '../../support/postgres.js';
import { SQLITE_OPTIONS, rawSqlite } from '../../support/sqlite.js';
import { expectCode, storeContract } from './store-contract.js';

const dir = mkdtempSync(join(tmpdir(), 'guildhall-store-'));
let files = 0;
const freshFile = () => join(dir, `store-${++files}.db`);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('SQLite file', () => {
  storeContract({ durable: true, fresh: async () => ({ kind: 'sqlite', path: freshFile() }) });

  it('creates the directory of a file that does not exist yet, in WAL mode with synchronous=FULL', async () => {
    const path = join(dir, 'nested', 'deeper', 'guildhall.db');
    const store = await openSqlStore({ kind: 'sqlite', path }, SQLITE_OPTIONS);
    await store.close();
    const raw = rawSqlite(path, { readonly: true });
    expect(raw.pragma('journal_mode', { simple: true })).toBe('wal');
    raw.close();
    const engine = openDatabase({ kind: 'sqlite', path }, { ...SQLITE_OPTIONS, synchronous: 'normal' });
    // 1 = NORMAL, 2 = FULL (https://www.sqlite.org/pragma.html#pragma_synchronous).
    expect(await engine.db.executeQuery({ sql: 'PRAGMA synchronous', parameters: [], query: undefined as never, queryId: undefined as never }).then((r) => Number((r.rows[0] as { synchronous: bigint }).synchronous))).toBe(1);
    await engine.close();
  });

  it('answers UNAVAILABLE, and commits nothing, while another process holds the write lock', async () => {
    const path = freshFile();
    const store = await openSqlStore({ kind: 'sqlite', path }, { ...SQLITE_OPTIONS, busyTimeoutMs: 20 });
    const alice = await store.createUser({ username: 'alice' });
    const other = rawSqlite(path);
    other.exec('BEGIN EXCLUSIVE');
    try {
      await expectCode(store.createGuild({ name: 'blocked', owner_id: alice.id }), 'UNAVAILABLE');
    } finally {
      other.exec('ROLLBACK');
      other.close();
    }
    expect(await store.listGuildsForUser(alice.id)).toEqual([]);
    expect((await store.createGuild({ name: 'later', owner_id: alice.id })).name).toBe('later');
    await store.close();
  });

  it('answers READ_ONLY for writes to a database opened read-only', async () => {
    const path = freshFile();
    await (await openSqlStore({ kind: 'sqlite', path }, SQLITE_OPTIONS)).close();
    const store = await openSqlStore({ kind: 'sqlite', path }, SQLITE_OPTIONS);
    // query_only makes every write fail as a read-only database does (SQLITE_READONLY).
    const engine = (store as unknown as { engine: { db: { executeQuery: (q: unknown) => Promise<unknown> } } }).engine;
    await engine.db.executeQuery({ sql: 'PRAGMA query_only = ON', parameters: [], query: undefined, queryId: undefined });
    await expectCode(store.createUser({ username: 'x' }), 'READ_ONLY');
    await store.close();
  });
});

describe('SQLite :memory:', () => {
  storeContract({ durable: false, fresh: async () => ({ kind: 'sqlite', path: ':memory:' }) });
});

describe('PostgreSQL', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
    return () => db.drop();
  });
  storeContract({
    durable: true,
    fresh: async () => {
      await db.reset();
      return { kind: 'postgres', url: db.url };
    },
  });

  it('answers UNAVAILABLE when the server cannot be reached', async () => {
    await expectCode(openSqlStore({ kind: 'postgres', url: 'postgres://postgres@127.0.0.1:1/none' }, { connectTimeoutMs: 1000 }), 'UNAVAILABLE');
  });

  it('reconnects by itself after its connections were killed', async () => {
    await db.reset();
    const store = await openSqlStore({ kind: 'postgres', url: db.url });
    const alice = await store.createUser({ username: 'alice' });
    await db.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()`);
    // pg_terminate_backend only signals: wait until the backends are gone, so their sockets are
    // closed before the store is asked again (otherwise several pooled clients can still look alive).
    for (let i = 0; i < 200; i++) {
      const left = await db.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()`);
      if ((left.rows[0] as { n: number }).n === 0) break;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    // A killed idle connection is dropped by the pool; at worst one call fails with UNAVAILABLE.
    const first = await store.getUser(alice.id).catch((e: unknown) => e);
    if (!(first instanceof Error)) expect(first).toEqual(alice);
    else await expectCode(Promise.reject(first), 'UNAVAILABLE');
    expect(await store.getUser(alice.id)).toEqual(alice);
    await store.close();
  });

  it('commits a run of good new messages by known authors as the unchecked insert alone, and a run with a refused row through the checked one', async () => {
    await db.reset();
    const store = await openSqlStore({ kind: 'postgres', url: db.url });
    const alice = await store.createUser({ username: 'alice' });
    const guild = await store.createGuild({ name: 'G', owner_id: alice.id });
    const channel = (await store.listChannels(guild.id))[0]!;
    await store.close();
    // The engine as the store opens it; what it is asked to run is recorded, and run.
    const engine = openDatabase({ kind: 'postgres', url: db.url });
    const statements: string[] = [];
    const prepared = engine.prepared!;
    const recording = { ...engine, prepared: (name: string, text: string, values: unknown[]) => (statements.push(name), prepared(name, text, values)) };
    const message = (content: string, over: Partial<Extract<GuildWrite, { kind: 'create_message' }>> = {}) => ({
      kind: 'create_message' as const, id: String(BigInt(channel.id) + BigInt(statements.length * 10 + content.length + 1000)), channel_id: channel.id, guild_id: guild.id, author_id: alice.id, content, ...over,
    });
    const users = new UserCache();
    // Alice has not been read by this cache yet: the insert that checks authors, then she is known.
    const first = await createMessages(engine.db, recording, users, [message('a')], true);
    expect(first.map((r) => (r instanceof Error ? r.message : r.content))).toEqual(['a']);
    expect(statements).toEqual(['guildhall_insert_messages']);
    statements.length = 0;
    const good = await createMessages(engine.db, recording, users, [message('bb'), message('ccc')], true);
    expect(good.map((r) => (r instanceof Error ? r.message : r.content))).toEqual(['bb', 'ccc']);
    expect(statements).toEqual(['guildhall_insert_messages_unchecked']);
    statements.length = 0;
    // A channel of another guild: the key refuses it, and the run goes again, checked.
    const wrongChannel = await createMessages(engine.db, recording, users, [message('dddd'), message('eeeee', { guild_id: alice.id })], true);
    expect(wrongChannel.map((r) => (r instanceof StoreError ? r.code : r.content))).toEqual(['dddd', 'UNKNOWN_CHANNEL']);
    expect(statements).toEqual(['guildhall_insert_messages_unchecked', 'guildhall_insert_messages']);
    statements.length = 0;
    // An author that is no user: no key on author_id any more (version 4), so never the unchecked insert.
    const noUser = await createMessages(engine.db, recording, users, [message('ffffff'), message('ggggggg', { author_id: guild.id })], true);
    expect(noUser.map((r) => (r instanceof StoreError ? r.code : r.content))).toEqual(['ffffff', 'UNKNOWN_USER']);
    expect(statements).toEqual(['guildhall_insert_messages']);
    const stored = await engine.db.selectFrom('messages').select('content').orderBy('id').execute();
    expect(stored.map((r) => r.content)).toEqual(['a', 'bb', 'ccc', 'dddd', 'ffffff']);
    await engine.close();
  });

  it('stores no message of an author that is no user, whichever way the store is called', async () => {
    await db.reset();
    const store = await openSqlStore({ kind: 'postgres', url: db.url });
    const alice = await store.createUser({ username: 'alice' });
    const guild = await store.createGuild({ name: 'G', owner_id: alice.id });
    const channel = (await store.listChannels(guild.id))[0]!;
    const post = (author_id: string, content: string): GuildWrite => ({ kind: 'create_message', id: store.ids.next(), channel_id: channel.id, guild_id: guild.id, author_id, content });
    // Alice becomes known to the store's cache; then runs alone, and a run with a stranger.
    expect((await store.applyWrites([post(alice.id, 'one')])).every((o) => o.ok)).toBe(true);
    expect((await store.applyWrites([post(alice.id, 'two'), post(alice.id, 'three')])).every((o) => o.ok)).toBe(true);
    const mixed = await store.applyWrites([post(alice.id, 'four'), post(guild.id, 'stranger')]);
    expect(mixed.map((o) => (o.ok ? (o.value as { content: string }).content : o.error.code))).toEqual(['four', 'UNKNOWN_USER']);
    await expectCode(store.createMessage({ channel_id: channel.id, author_id: '12345', content: 'nobody' }), 'UNKNOWN_USER');
    expect((await store.listMessages(channel.id)).map((m) => m.content).reverse()).toEqual(['one', 'two', 'three', 'four']);
    expect((await db.query('select count(*)::int as n from messages')).rows[0]).toEqual({ n: 4 });
    await store.close();
  });

  it('stores any text as given through the array literals of the insert (quotes, backslashes, braces, commas, NULL, empty)', async () => {
    await db.reset();
    const store = await openSqlStore({ kind: 'postgres', url: db.url });
    const alice = await store.createUser({ username: 'alice' });
    const guild = await store.createGuild({ name: 'G', owner_id: alice.id });
    const channel = (await store.listChannels(guild.id))[0]!;
    const texts = ['', 'NULL', 'null', 'a,b', '{x}', 'say "hi"', 'back\\slash\\', '\\"', ' spaced ', 'é🙂\n\ttab', "it's"];
    // A first post makes alice known to the store, so the texts go through the unchecked insert too.
    expect((await store.applyWrites([{ kind: 'create_message', id: store.ids.next(), channel_id: channel.id, guild_id: guild.id, author_id: alice.id, content: 'first' }]))[0]!.ok).toBe(true);
    const writes: GuildWrite[] = texts.map((content, i) => ({ kind: 'create_message', id: store.ids.next(), channel_id: channel.id, guild_id: guild.id, author_id: alice.id, content, nonce: i % 2 === 0 ? `string:${content}` : null }));
    const outcomes = await store.applyWrites(writes);
    expect(outcomes.every((o) => o.ok)).toBe(true);
    expect((await store.listMessages(channel.id)).map((m) => m.content).reverse()).toEqual(['first', ...texts]);
    const nonces = await store.recentNonces(guild.id, Date.now() - 60_000, 100);
    expect(nonces.map((n) => n.nonce).reverse()).toEqual(texts.filter((_, i) => i % 2 === 0).map((t) => `string:${t}`));
    await store.close();
  });

  it('brings a version 2 database to version 3: its messages kept, a message of another guild than its channel\'s refused', async () => {
    await db.reset();
    const v2 = openDatabase({ kind: 'postgres', url: db.url });
    expect(await migrate(v2, MIGRATIONS.slice(0, 2))).toEqual({ from: 0, to: 2 });
    await v2.close();
    await db.query(`insert into users (id, username, username_key) values (10, 'old', 'old');
      insert into guilds (id, name, owner_id) values (20, 'G', 10), (21, 'H', 10);
      insert into channels (id, guild_id, name, position) values (30, 20, 'general', 0);
      insert into messages (id, channel_id, guild_id, author_id, content) values (${snowflakeAt(Date.now())}, 30, 20, 10, 'from v2')`);
    const store = await openSqlStore({ kind: 'postgres', url: db.url });
    expect((await store.listMessages('30')).map((m) => m.content)).toEqual(['from v2']);
    await store.close();
    expect((await db.query('select version from schema_migrations order by version')).rows.map((r: { version: number }) => r.version)).toEqual([1, 2, 3, 4]);
    await expect(db.query(`insert into messages (id, channel_id, guild_id, author_id, content) values (${BigInt(snowflakeAt(Date.now())) + 1n}, 30, 21, 10, 'wrong guild')`)).rejects.toMatchObject({ code: '23503' });
    // The channel's messages still go with it.
    await db.query('delete from channels where id = 30');
    expect((await db.query('select count(*)::int as n from messages')).rows[0]).toEqual({ n: 0 });
  });

  it('brings a version 3 database to version 4: its messages kept, the key on author_id gone, the channel\'s key and its cascade kept', async () => {
    await db.reset();
    const v3 = openDatabase({ kind: 'postgres', url: db.url });
    expect(await migrate(v3, MIGRATIONS.slice(0, 3))).toEqual({ from: 0, to: 3 });
    await v3.close();
    const foreignKeys = async () =>
      (await db.query(`select conname from pg_constraint where conrelid = 'messages'::regclass and contype = 'f' order by conname`)).rows.map((r: { conname: string }) => r.conname);
    expect(await foreignKeys()).toEqual(['messages_author_id_fkey', 'messages_channel_guild_fkey']);
    await db.query(`insert into users (id, username, username_key) values (10, 'old', 'old');
      insert into guilds (id, name, owner_id) values (20, 'G', 10), (21, 'H', 10);
      insert into channels (id, guild_id, name, position) values (30, 20, 'general', 0);
      insert into messages (id, channel_id, guild_id, author_id, content) values (${snowflakeAt(Date.now())}, 30, 20, 10, 'from v3')`);
    const store = await openSqlStore({ kind: 'postgres', url: db.url });
    expect((await store.listMessages('30')).map((m) => m.content)).toEqual(['from v3']);
    await store.close();
    expect((await db.query('select version from schema_migrations order by version')).rows.map((r: { version: number }) => r.version)).toEqual([1, 2, 3, 4]);
    expect(await foreignKeys()).toEqual(['messages_channel_guild_fkey']);
    await expect(db.query(`insert into messages (id, channel_id, guild_id, author_id, content) values (${BigInt(snowflakeAt(Date.now())) + 1n}, 30, 21, 10, 'wrong guild')`)).rejects.toMatchObject({ code: '23503' });
    await db.query('delete from channels where id = 30');
    expect((await db.query('select count(*)::int as n from messages')).rows[0]).toEqual({ n: 0 });
  });

  it('migrates concurrently started servers once', async () => {
    await db.reset();
    const stores = await Promise.all([1, 2, 3].map(() => openSqlStore({ kind: 'postgres', url: db.url })));
    const rows = await db.query('SELECT version FROM schema_migrations ORDER BY version');
    expect(rows.rows.map((r: { version: number }) => r.version)).toEqual(MIGRATIONS.map((m) => m.version));
    await Promise.all(stores.map((s) => s.close()));
  });
});

describe('pgId', () => {
  it('passes a snowflake as it is up to int64 and clamps beyond, as parsing it as a BigInt does', () => {
    const max = ((1n << 63n) - 1n).toString();
    const cases = ['0', '123', '1452376384239337472', max, '9223372036854775808', '9999999999999999999', '18446744073709551615', '00009223372036854775807', '00009223372036854775808'];
    for (const value of cases) expect(pgId(value)).toBe(BigInt(value) > BigInt(max) ? max : value);
    expect(pgId('9223372036854775808')).toBe(max);
    expect(() => pgId('12x')).toThrow(SyntaxError);
  });
});

describe('migrations', () => {
  it('creates the schema in an empty database and does nothing the second time', async () => {
    const engine = openDatabase({ kind: 'sqlite', path: freshFile() }, SQLITE_OPTIONS);
    expect(await migrate(engine)).toEqual({ from: 0, to: SCHEMA_VERSION });
    expect(await migrate(engine)).toEqual({ from: SCHEMA_VERSION, to: SCHEMA_VERSION });
    await engine.close();
  });

  it('applies only the migrations a database lacks, in order', async () => {
    const engine = openDatabase({ kind: 'sqlite', path: freshFile() }, SQLITE_OPTIONS);
    await migrate(engine);
    const applied: number[] = [];
    const next = [
      ...MIGRATIONS,
      { version: SCHEMA_VERSION + 1, name: 'a', up: async () => void applied.push(SCHEMA_VERSION + 1) },
      { version: SCHEMA_VERSION + 2, name: 'b', up: async () => void applied.push(SCHEMA_VERSION + 2) },
    ];
    expect(await migrate(engine, next)).toEqual({ from: SCHEMA_VERSION, to: SCHEMA_VERSION + 2 });
    expect(applied).toEqual([SCHEMA_VERSION + 1, SCHEMA_VERSION + 2]);
    await engine.close();
  });

  it('brings a version 1 database (before messages.nonce) up to date, its messages kept without a nonce', async () => {
    const path = freshFile();
    const engine = openDatabase({ kind: 'sqlite', path }, SQLITE_OPTIONS);
    expect(await migrate(engine, MIGRATIONS.slice(0, 1))).toEqual({ from: 0, to: 1 });
    await engine.close();
    const raw = rawSqlite(path);
    raw.exec(`insert into users (id, username, username_key) values (10, 'old', 'old');
      insert into guilds (id, name, owner_id) values (20, 'G', 10);
      insert into channels (id, guild_id, name, position) values (30, 20, 'general', 0);
      insert into messages (id, channel_id, guild_id, author_id, content) values (${snowflakeAt(Date.now())}, 30, 20, 10, 'from v1');`);
    raw.close();
    const store = await openSqlStore({ kind: 'sqlite', path }, SQLITE_OPTIONS);
    expect((await store.listMessages('30')).map((m) => m.content)).toEqual(['from v1']);
    expect(await store.recentNonces('20', Date.now() - 60_000, 10)).toEqual([]);
    await store.close();
    const check = rawSqlite(path, { readonly: true });
    expect(check.prepare('select version from schema_migrations order by version').pluck().all()).toEqual([1, 2, 3, 4]);
    expect(SCHEMA_VERSION).toBe(4);
    check.close();
  });

  it('answers recentNonces from the partial index on SQLite and PostgreSQL, not a scan of the messages', async () => {
    // The store's query, as SQL (sql-store.ts recentNonces).
    const query = 'select id, channel_id, author_id, nonce from messages where guild_id = $1 and nonce is not null and id >= $2 order by id desc limit 1000';
    const path = freshFile();
    await (await openSqlStore({ kind: 'sqlite', path }, SQLITE_OPTIONS)).close();
    const raw = rawSqlite(path, { readonly: true });
    const plan = raw.prepare(`explain query plan ${query.replace(/\$\d/g, '?')}`).all(1, 1) as { detail: string }[];
    raw.close();
    expect(plan.map((p) => p.detail).join('; ')).toContain('USING INDEX messages_guild_nonce');
    const pg = await createTestDatabase();
    try {
      await (await openSqlStore({ kind: 'postgres', url: pg.url })).close();
      // A few rows: the planner would scan them whatever the index; off, it takes the index when it can.
      const results = (await pg.query(`set enable_seqscan = off; explain ${query.replace('$1', '1').replace('$2', '1')}`)) as unknown as { rows: { 'QUERY PLAN': string }[] }[];
      expect(results[1]!.rows.map((r: { 'QUERY PLAN': string }) => r['QUERY PLAN']).join('\n')).toContain('messages_guild_nonce');
    } finally {
      await pg.drop();
    }
  });

  it('refuses a database whose schema is newer than this binary, naming both versions', async () => {
    const path = freshFile();
    const engine = openDatabase({ kind: 'sqlite', path }, SQLITE_OPTIONS);
    await migrate(engine, [...MIGRATIONS, { version: SCHEMA_VERSION + 1, name: 'from the future', up: async () => undefined }]);
    await engine.close();
    const err = await openSqlStore({ kind: 'sqlite', path }, SQLITE_OPTIONS).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).issues[0]!.field).toBe('DATABASE_URL');
    expect((err as ConfigError).message).toContain(`version ${SCHEMA_VERSION + 1}`);
  });
});
