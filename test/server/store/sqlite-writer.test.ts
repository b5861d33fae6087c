import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { openDatabase } from '../../../server/store/database.js';
import { openSqlStore } from '../../../server/store/sql-store.js';
import { INSERT_MESSAGE } from '../../../server/store/sqlite-messages.js';
import { SqliteWriter } from '../../../server/store/sqlite-writer.js';
import { SQLITE_OPTIONS, rawSqlite } from '../../support/sqlite.js';
import { expectCode } from './store-contract.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'guildhall-writer-'));
let files = 0;
const freshFile = () => join(dir, `writer-${++files}.db`);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function world(path: string, options: Parameters<typeof openSqlStore>[1] = {}) {
  const store = await openSqlStore({ kind: 'sqlite', path }, { ...SQLITE_OPTIONS, ...options });
  const alice = await store.createUser({ username: 'alice' });
  const guild = await store.createGuild({ name: 'G', owner_id: alice.id });
  const channelId = (await store.listChannels(guild.id))[0]!.id;
  return { store, alice, guild, channelId };
}

describe('SQLite file: new messages commit on the writer thread', () => {
  it('keeps the event loop turning while the commit waits for a lock, which this thread then releases', async () => {
    const path = freshFile();
    const { store, alice, channelId } = await world(path, { busyTimeoutMs: 5_000 });
    const other = rawSqlite(path);
    other.exec('BEGIN IMMEDIATE');
    // On the main thread the commit would wait for the lock synchronously, and the timer below,
    // which releases it, could not run before the busy timeout: the post would fail.
    setTimeout(() => other.exec('ROLLBACK'), 50);
    const message = await store.createMessage({ channel_id: channelId, author_id: alice.id, content: 'after the lock' });
    other.close();
    expect((await store.listMessages(channelId)).map((m) => m.id)).toEqual([message.id]);
    await store.close();
  });

  it('answers UNAVAILABLE, and commits nothing, when the lock stays taken past the busy timeout', async () => {
    const path = freshFile();
    const { store, alice, channelId } = await world(path, { busyTimeoutMs: 20 });
    const other = rawSqlite(path);
    other.exec('BEGIN IMMEDIATE');
    try {
      await expectCode(store.createMessage({ channel_id: channelId, author_id: alice.id, content: 'blocked' }), 'UNAVAILABLE');
    } finally {
      other.exec('ROLLBACK');
      other.close();
    }
    expect(await store.listMessages(channelId)).toEqual([]);
    expect((await store.createMessage({ channel_id: channelId, author_id: alice.id, content: 'later' })).content).toBe('later');
    await store.close();
  });

  it('says per row whether it went in, rolls back a commit a row breaks, and refuses once closed', async () => {
    const path = freshFile();
    const { store, alice, guild, channelId } = await world(path);
    await store.close();
    const writer = new SqliteWriter({ path, insert: INSERT_MESSAGE, synchronous: 'FULL', busyTimeoutMs: 1000, binding: SQLITE_OPTIONS.sqliteBinding });
    await writer.ready;
    const row = (id: bigint, channel = BigInt(channelId)) => [id, BigInt(alice.id), `m${id}`, channel, BigInt(guild.id)] as [bigint, bigint, string, bigint, bigint];
    const base = BigInt(channelId) + 1_000n;
    expect(await writer.commit([row(base), row(base + 1n, 1n), row(base + 2n)])).toEqual([true, false, true]);
    await expect(writer.commit([row(base + 3n), row(base)])).rejects.toMatchObject({ code: 'SQLITE_CONSTRAINT_PRIMARYKEY' });
    await writer.close();
    await expectCode(writer.commit([row(base + 4n)]), 'UNAVAILABLE');
    const raw = rawSqlite(path, { readonly: true });
    raw.defaultSafeIntegers(true);
    expect(raw.prepare('select id from messages order by id').all().map((r) => (r as { id: bigint }).id)).toEqual([base, base + 2n]);
    raw.close();
  });

  it('does not start for a file it cannot open; the store then commits on the main thread', async () => {
    const writer = new SqliteWriter({ path: join(dir, 'missing', 'dir', 'x.db'), insert: INSERT_MESSAGE, synchronous: 'FULL', busyTimeoutMs: 10, binding: SQLITE_OPTIONS.sqliteBinding });
    await expect(writer.ready).rejects.toThrow();
    expect(writer.alive).toBe(false);
    const { store, alice, channelId } = await world(freshFile(), { sqliteWriterThread: false });
    expect((await store.createMessage({ channel_id: channelId, author_id: alice.id, content: 'main thread' })).content).toBe('main thread');
    await store.close();
  });

  it('a main-connection transaction holds the write lock from BEGIN: a commit of the other writer between its read and its write cannot fail it', async () => {
    const path = freshFile();
    const engine = openDatabase({ kind: 'sqlite', path }, SQLITE_OPTIONS);
    engine.sqlite!.exec('create table t (x integer)');
    const other = rawSqlite(path, { timeout: 0 });
    let otherWrite: unknown;
    // Deferred, the other connection's insert would commit and this transaction's insert would
    // fail with SQLITE_BUSY_SNAPSHOT (its snapshot is stale), without waiting.
    await engine.db.transaction().execute(async (trx) => {
      await sql`select count(*) as n from t`.execute(trx);
      try {
        other.exec('insert into t values (1)');
      } catch (err) {
        otherWrite = err;
      }
      await sql`insert into t values (2)`.execute(trx);
    });
    expect(otherWrite).toMatchObject({ code: 'SQLITE_BUSY' });
    expect(other.prepare('select x from t').all()).toEqual([{ x: 2 }]);
    other.close();
    await engine.close();
  });
});

describe('SQLite writer start-up', () => {
  it('says it could not start even when nothing else keeps the process alive', () => {
    const script = `
      import { SqliteWriter } from './server/store/sqlite-writer.ts';
      const writer = new SqliteWriter({ path: ${JSON.stringify(join(dir, 'missing', 'dir', 'x.db'))}, insert: 'INSERT INTO nowhere VALUES (1)', synchronous: 'FULL', busyTimeoutMs: 10, binding: ${JSON.stringify(SQLITE_OPTIONS.sqliteBinding)} });
      writer.ready.then(() => process.stdout.write('ready'), () => process.stdout.write('refused'));
    `;
    const out = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: ROOT, encoding: 'utf8', timeout: 30_000 });
    expect(out).toBe('refused');
  });
});

describe('SQLite writer and the event loop', () => {
  it('keeps a process with nothing else on its loop alive until a commit is answered, and not after', () => {
    const path = join(dir, 'alone.db');
    const script = `
      import Database from 'better-sqlite3';
      import { INSERT_MESSAGE } from './server/store/sqlite-messages.ts';
      import { SqliteWriter } from './server/store/sqlite-writer.ts';
      const binding = ${JSON.stringify(SQLITE_OPTIONS.sqliteBinding)};
      const db = new Database(${JSON.stringify(path)}, binding === undefined ? {} : { nativeBinding: binding });
      db.exec('CREATE TABLE users (id INTEGER PRIMARY KEY); CREATE TABLE messages (id INTEGER PRIMARY KEY, author_id INTEGER, content TEXT, nonce TEXT, channel_id INTEGER, guild_id INTEGER, edited_timestamp TEXT)');
      db.close();
      const writer = new SqliteWriter({ path: ${JSON.stringify(path)}, insert: 'INSERT INTO messages (id, author_id, content, nonce, channel_id, guild_id) SELECT ?, ?, ?, ?, ?, ? WHERE ? IS NOT NULL', synchronous: 'FULL', busyTimeoutMs: 10, binding });
      await writer.ready;
      // Nothing else on the loop from here: only the owed answer can keep the process alive.
      setImmediate(() => writer.commit([[1n, 2n, 'hello', 3n, 4n]]).then((r) => process.stdout.write('committed ' + JSON.stringify(r))));
    `;
    const out = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: ROOT, encoding: 'utf8', timeout: 30_000 });
    // And the process exited by itself afterwards (execFileSync returned): the idle thread did not hold it.
    expect(out).toBe('committed [true]');
  });
});
