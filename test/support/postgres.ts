// A PostgreSQL database of a test's own on the local server (127.0.0.1:5432,
// trust auth), dropped afterwards: test files run in parallel, and other
// checkouts' test runs share the server.
import { randomBytes } from 'node:crypto';
import pg from 'pg';

export const PG_ADMIN_URL = process.env.GUILDHALL_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export interface TestDatabase {
  /** postgres://... naming the new database. */
  url: string;
  name: string;
  /** Empties the database (drops and recreates the public schema): a store opened next migrates from scratch. */
  reset(): Promise<void>;
  /** Runs one statement on this database, as the admin. */
  query(text: string): Promise<pg.QueryResult>;
  drop(): Promise<void>;
}

async function admin<T>(fn: (client: pg.Client) => Promise<T>, connectionString = PG_ADMIN_URL): Promise<T> {
  const client = new pg.Client({ connectionString });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

export async function createTestDatabase(prefix = 'guildhall_test'): Promise<TestDatabase> {
  const name = `${prefix}_${randomBytes(6).toString('hex')}`;
  await admin((c) => c.query(`CREATE DATABASE ${name}`));
  const url = new URL(PG_ADMIN_URL);
  url.pathname = `/${name}`;
  const dbUrl = url.toString();
  return {
    url: dbUrl,
    name,
    reset: () => admin((c) => c.query('DROP SCHEMA public CASCADE; CREATE SCHEMA public'), dbUrl).then(() => undefined),
    query: (text) => admin((c) => c.query(text), dbUrl),
    // FORCE ends connections a killed server left behind (PostgreSQL 13+).
    drop: () => admin((c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).then(() => undefined),
  };
}

/** The URL of the same database reached through another host:port (a proxy). */
export function viaPort(url: string, port: number): string {
  const u = new URL(url);
  u.host = `127.0.0.1:${port}`;
  return u.toString();
}
