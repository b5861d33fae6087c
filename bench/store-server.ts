// bench:store's servers and databases: a fresh database per run (SQLite
// :memory:, a SQLite file, or a new PostgreSQL database dropped after) and a
// Guildhall server on it in a child process.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, rmSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { compiledServer, freePort, pin } from './children.js';

export const ENGINES = ['memory', 'file', 'postgres'] as const;
export type Engine = (typeof ENGINES)[number];
export const PG_ADMIN_URL = process.env.GUILDHALL_BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/** One statement on the admin database (CREATE or DROP DATABASE). */
export async function adminQuery(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: PG_ADMIN_URL });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/** A fresh database for one run: its DATABASE_URL and how to throw it away. */
export async function freshDatabase(engine: Engine, dir: string): Promise<{ url: string; drop: () => Promise<void> }> {
  switch (engine) {
    case 'memory':
      return { url: 'sqlite::memory:', drop: async () => {} };
    case 'file': {
      const path = join(dir, `bench-${randomBytes(4).toString('hex')}.db`);
      return { url: `sqlite:${path}`, drop: async () => rmSync(path, { force: true }) };
    }
    case 'postgres': {
      const name = `guildhall_bench_${randomBytes(4).toString('hex')}`;
      await adminQuery(`CREATE DATABASE ${name}`);
      const url = new URL(PG_ADMIN_URL);
      url.pathname = `/${name}`;
      return { url: url.toString(), drop: () => adminQuery(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`) };
    }
  }
}

export interface ServerOptions {
  /** The checkout whose server/main.ts runs. */
  root: string;
  /** Node flags for the server. */
  nodeArgs?: readonly string[];
  /** Set after the benchmark's own environment. */
  env?: Record<string, string>;
  /** Append the server's stdout to this file (else it is dropped). */
  stdout?: string;
  /** Pin the server to CPU 0. */
  pin?: boolean;
  /** An IPC channel to the server (for a preloaded probe, bench/store-gc-probe.mjs). */
  ipc?: boolean;
  /** Run the checkout's compiled server (`npm start`'s dist/server/main.js, children.ts compiledServer) instead of server/main.ts through tsx. */
  compiled?: boolean;
}

/** A Guildhall server on a free loopback port, healthy, with no rate limits and no tracing. */
export async function startGuildhall(databaseUrl: string, opts: ServerOptions): Promise<{ url: string; child: ChildProcess }> {
  const port = await freePort();
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('OTEL_') && !k.startsWith('GUILDHALL_') && k !== 'DATABASE_URL') env[k] = v;
  Object.assign(env, {
    HOST: '127.0.0.1',
    PORT: String(port),
    LOG_LEVEL: 'warn',
    OTEL_SDK_DISABLED: 'true',
    GUILDHALL_SEED: 'false',
    GUILDHALL_DEV_ACCOUNTS: 'true',
    GUILDHALL_TOKEN_SECRET: randomBytes(24).toString('base64url'),
    // Posting as fast as answered is the point: Discord's per-route pacing would measure itself.
    GUILDHALL_ROUTE_RATE_LIMITS: 'off',
    GUILDHALL_MAX_CONCURRENCY: '1000000',
    DATABASE_URL: databaseUrl,
    ...opts.env,
  });
  const toFile = opts.stdout !== undefined;
  const entry = opts.compiled === true ? [compiledServer(opts.root)] : ['--import', 'tsx', 'server/main.ts'];
  const child = spawn(process.execPath, [...(opts.nodeArgs ?? []), ...entry], {
    cwd: opts.root,
    env,
    stdio: opts.ipc === true ? ['ignore', toFile ? 'pipe' : 'ignore', 'inherit', 'ipc'] : ['ignore', toFile ? 'pipe' : 'ignore', 'inherit'],
  });
  if (toFile) child.stdout!.pipe(createWriteStream(opts.stdout!, { flags: 'a' }));
  if (opts.pin === true) pin(child.pid!, 0);
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode}`);
    try {
      if ((await fetch(`${url}/healthz`)).ok) return { url, child };
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error('server not healthy within 60 s');
    await new Promise((r) => setTimeout(r, 100));
  }
}
