// SQLite in tests, on whichever Node runs them: under .ci/with-node another
// Node's ABI needs the better-sqlite3 build GUILDHALL_SQLITE_BINDING names
// (the server reads it through its config; tests that open SQLite themselves
// pass it here).
import SQLite from 'better-sqlite3';
import type { SqlStoreOptions } from '../../server/store/sql-store.js';

const binding = process.env.GUILDHALL_SQLITE_BINDING || undefined;

/** Options for openSqlStore / openDatabase that load the right native module. */
export const SQLITE_OPTIONS: Pick<SqlStoreOptions, 'sqliteBinding'> = binding === undefined ? {} : { sqliteBinding: binding };

/** A better-sqlite3 connection of the test's own (to hold a lock, read a pragma). */
export function rawSqlite(path: string, options: SQLite.Options = {}): SQLite.Database {
  return new SQLite(path, binding === undefined ? options : { ...options, nativeBinding: binding });
}
