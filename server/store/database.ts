// Opens one of the two engines behind a Kysely instance: better-sqlite3 for a
// file or `:memory:`, pg's Pool for a PostgreSQL URL. Everything above this
// file speaks Kysely and does not care which.
import { existsSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import SQLite from 'better-sqlite3';
import { Kysely, PostgresDialect, SqliteDialect, type SqliteDatabase } from 'kysely';
import pg from 'pg';
import { ConfigError } from '../config.js';
import type { DatabaseTarget, SqliteSynchronous } from './database-target.js';
import type { Database } from './schema.js';

export type { DatabaseTarget, SqliteSynchronous } from './database-target.js';

export interface OpenDatabaseOptions {
  synchronous?: SqliteSynchronous;
  /** How long SQLite waits for another connection's lock before SQLITE_BUSY. Default 5000. */
  busyTimeoutMs?: number;
  /** A better_sqlite3.node built for this Node version (see .ci/with-node); default: the one in node_modules. */
  sqliteBinding?: string;
  /** PostgreSQL connections in the pool. Default 10. */
  poolSize?: number;
  /** How long to wait for a PostgreSQL connection before UNAVAILABLE. Default 5000. */
  connectTimeoutMs?: number;
  /** Errors of idle pool connections (the server went away); they must not crash the process. */
  onIdleError?: (err: Error) => void;
}

export interface SqlEngine {
  readonly kind: DatabaseTarget['kind'];
  readonly db: Kysely<Database>;
  /** A snowflake as the driver binds it: bigint for SQLite (exact 64-bit), the decimal string for pg. */
  id(value: string): string | bigint;
  /**
   * PostgreSQL only: one statement outside any transaction as a named prepared
   * statement (each pooled connection parses and plans it once). Kysely has no
   * named statements; the hot insert of new messages uses this.
   */
  prepared?: (name: string, text: string, values: unknown[]) => Promise<{ rows: Record<string, unknown>[]; rowCount: number | null }>;
  /**
   * SQLite only: the connection itself, for the hot path of new messages
   * (sqlite-messages.ts), which runs its statements directly instead of
   * building each through Kysely.
   */
  sqlite?: SQLite.Database;
  close(): Promise<void>;
}

const INT64_MAX = (1n << 63n) - 1n;
const INT64_MAX_TEXT = INT64_MAX.toString();

/**
 * A snowflake for pg: the decimal string, clamped to int64 (ids beyond it occur only as page
 * bounds). Decimal digits that cannot exceed it (fewer than 19, or 19 that compare below it as
 * text) are passed without parsing a BigInt: the insert of new messages binds four ids per row.
 */
export function pgId(value: string): string {
  if (value.length < INT64_MAX_TEXT.length ? /^\d+$/.test(value) : value.length === INT64_MAX_TEXT.length && /^\d+$/.test(value) && value <= INT64_MAX_TEXT) return value;
  return BigInt(value) > INT64_MAX ? INT64_MAX_TEXT : value;
}

export function openDatabase(target: DatabaseTarget, options: OpenDatabaseOptions = {}): SqlEngine {
  return target.kind === 'sqlite' ? openSqlite(target.path, options) : openPostgres(target.url, options);
}

function openSqlite(path: string, options: OpenDatabaseOptions): SqlEngine {
  const memory = path === ':memory:';
  if (!memory) mkdirSync(dirname(path), { recursive: true });
  if (options.sqliteBinding !== undefined && !existsSync(options.sqliteBinding)) {
    throw new ConfigError([{ field: 'GUILDHALL_SQLITE_BINDING', problem: `no such file: ${options.sqliteBinding}` }]);
  }
  const sqlite = new SQLite(path, options.sqliteBinding === undefined ? {} : { nativeBinding: options.sqliteBinding });
  try {
    // Snowflakes need all 64 bits: integers come back as bigint, never as a rounded double.
    sqlite.defaultSafeIntegers(true);
    if (!memory) sqlite.pragma('journal_mode = WAL');
    sqlite.pragma(`synchronous = ${(options.synchronous ?? 'full').toUpperCase()}`);
    sqlite.pragma(`busy_timeout = ${Math.max(0, Math.floor(options.busyTimeoutMs ?? 5000))}`);
    sqlite.pragma('foreign_keys = ON');
  } catch (err) {
    sqlite.close();
    throw err;
  }
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: keepingStatements(sqlite) }) });
  return {
    kind: 'sqlite',
    db,
    // Ids beyond int64 only occur as page bounds (isSnowflake accepts up to 2^64-1): clamp them.
    id: (value) => {
      const n = BigInt(value);
      return n > INT64_MAX ? INT64_MAX : n;
    },
    sqlite,
    close: () => db.destroy(),
  };
}

/**
 * better-sqlite3 as Kysely sees it, with prepared statements kept by their SQL: Kysely
 * prepares every query anew, and prepare() was 7% of a CPU profile of message batches
 * on :memory: (a busy machine; no throughput figure claimed). Bounded
 * (queries with IN lists of different lengths are different SQL); SQLite re-prepares a
 * kept statement itself when the schema changes.
 */
function keepingStatements(sqlite: SQLite.Database, max = 500): SqliteDatabase {
  const statements = new Map<string, SQLite.Statement>();
  return {
    close: () => sqlite.close(),
    prepare(text) {
      // A SQLite file has a second writer, the writer thread (sqlite-writer.ts). A deferred
      // transaction that reads before it writes fails with SQLITE_BUSY_SNAPSHOT, without
      // waiting, when the other connection committed in between; IMMEDIATE takes the write
      // lock at BEGIN, under busy_timeout (https://www.sqlite.org/lang_transaction.html).
      const sql = text === 'begin' ? 'begin immediate' : text;
      let statement = statements.get(sql);
      if (statement === undefined) {
        if (statements.size >= max) statements.clear();
        statement = sqlite.prepare(sql);
        statements.set(sql, statement);
      }
      return statement;
    },
  };
}

function openPostgres(url: string, options: OpenDatabaseOptions): SqlEngine {
  const pool = new pg.Pool({
    connectionString: url,
    max: options.poolSize ?? 10,
    connectionTimeoutMillis: options.connectTimeoutMs ?? 5000,
  });
  // An idle client whose server restarts emits 'error' on the pool; unhandled, that would kill the process.
  pool.on('error', (err) => options.onIdleError?.(err));
  // A client checked out between two statements of a transaction has no listener either
  // when its connection drops (the pool only watches idle ones): its 'error' would be
  // unhandled too. The statement in flight, or the next one, fails with it anyway.
  pool.on('connect', (client) => {
    client.on('error', (err) => options.onIdleError?.(err));
  });
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  return {
    kind: 'postgres',
    db,
    id: pgId,
    prepared: (name, text, values) => pool.query({ name, text, values }),
    close: () => db.destroy(),
  };
}
