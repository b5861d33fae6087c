import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../../server/config.js';
import { openDatabase } from '../../../server/store/database.js';
import { MIGRATIONS, SCHEMA_VERSION, migrate } from '../../../server/store/migrations.js';
import { openSqlStore } from '../../../server/store/sql-store.js';
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
    // A killed idle connection is dropped by the pool; at worst one call fails with UNAVAILABLE.
    const first = await store.getUser(alice.id).catch((e: unknown) => e);
    if (!(first instanceof Error)) expect(first).toEqual(alice);
    else await expectCode(Promise.reject(first), 'UNAVAILABLE');
    expect(await store.getUser(alice.id)).toEqual(alice);
    await store.close();
  });

  it('migrates concurrently started servers once', async () => {
    await db.reset();
    const stores = await Promise.all([1, 2, 3].map(() => openSqlStore({ kind: 'postgres', url: db.url })));
    const rows = await db.query('SELECT version FROM schema_migrations ORDER BY version');
    expect(rows.rows.map((r: { version: number }) => r.version)).toEqual(MIGRATIONS.map((m) => m.version));
    await Promise.all(stores.map((s) => s.close()));
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
