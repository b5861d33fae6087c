// Guildhall nodes of one cluster, each a real server process on loopback,
// against the local NATS and a PostgreSQL test database. Every test run names
// its own cluster (subjects and KV buckets), so concurrent runs never meet.
// A node runs test/support/durable-server.ts (port 0, an optional world made
// at start), or with `entry: 'main'` the real entry point, server/main.ts, for
// what only it does: its signal handling and exit status (drain tests).
import { type ChildProcess, spawn } from 'node:child_process';
import { createServer as createTcpServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { issueToken } from '../../server/auth/token.js';
import { openSqlStore } from '../../server/store/sql-store.js';
import type { Store } from '../../server/store/store.js';
import type { DurableWorld } from './durable-server.js';
import { NATS_URL } from './cluster.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** One secret for every node of a test cluster (a token from one node works on all). */
export const CLUSTER_TOKEN_SECRET = 'cluster-test-secret-0123456789abcdef';

export interface ClusterNodeOptions {
  /** GUILDHALL_NODE_ID. */
  id: string;
  /** GUILDHALL_CLUSTER (uniquePrefix()). */
  cluster: string;
  databaseUrl: string;
  /** Default the local NATS; a proxy's URL to cut the node off. */
  natsUrl?: string;
  /** Make this many users and one guild they share (into an empty database). */
  setupUsers?: number;
  /** More environment (GUILDHALL_LEASE_TTL_MS, OTEL_*, ...). */
  env?: Record<string, string>;
  /** Default durable-server.ts; 'main' is server/main.ts (setupUsers does not apply: see openWorld). */
  entry?: 'durable-server' | 'main';
}

export interface ClusterNode {
  readonly id: string;
  readonly url: string;
  readonly child: ChildProcess;
  readonly world: DurableWorld | undefined;
  readonly exited: Promise<number | null>;
  /** What the process wrote to stderr so far. */
  stderr(): string;
  /** What it wrote to stdout so far (log lines, with LOG_LEVEL set). */
  stdout(): string;
  /** Both, for failure messages. */
  output(): string;
  /** SIGTERM and wait for the exit (a clean stop: its guilds are handed over). */
  stop(): Promise<number | null>;
  /** SIGKILL, no goodbye. */
  kill(): Promise<number | null>;
}

/**
 * Short node timings so failover tests take seconds: lease 2 s, membership 1 s. Only for those:
 * on a loaded machine an event-loop stall of a second loses leases at these settings.
 */
export const FAST_CLUSTER_ENV = { GUILDHALL_LEASE_TTL_MS: '2000', GUILDHALL_NODE_TTL_MS: '1000' } as const;

/** A port free right now on 127.0.0.1 (server/main.ts in cluster mode needs a known port: the node's default URL). */
export async function freePort(): Promise<number> {
  const server = createTcpServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** How each entry is started, and how it says it is up. */
async function launch(options: ClusterNodeOptions): Promise<{ args: string[]; env: NodeJS.ProcessEnv; up: (out: string) => { url: string; world?: DurableWorld } | undefined }> {
  const common = {
    DATABASE_URL: options.databaseUrl,
    GUILDHALL_NATS_URL: options.natsUrl ?? NATS_URL,
    GUILDHALL_CLUSTER: options.cluster,
    GUILDHALL_NODE_ID: options.id,
    GUILDHALL_TOKEN_SECRET: CLUSTER_TOKEN_SECRET,
  };
  if (options.entry === 'main') {
    const port = await freePort();
    return {
      args: ['server/main.ts'],
      env: {
        ...process.env,
        ...common,
        HOST: '127.0.0.1',
        PORT: String(port),
        // What durable-server.ts sets in its code.
        GUILDHALL_SEED: 'false',
        GUILDHALL_ROUTE_RATE_LIMITS: 'off',
        GUILDHALL_RATE_LIMIT_PER_SECOND: '100000',
        GUILDHALL_SLOW_DELIVERY_MS: '0',
        LOG_LEVEL: process.env.CLUSTER_TEST_LOG ? 'info' : 'warn',
        OTEL_SDK_DISABLED: 'true',
        OTEL_EXPORTER_OTLP_ENDPOINT: '',
        ...options.env,
      },
      up: (out) => (out.includes('Guildhall is up.') ? { url: `http://127.0.0.1:${port}` } : undefined),
    };
  }
  return {
    args: ['test/support/durable-server.ts', ...(options.setupUsers ? ['--setup', String(options.setupUsers)] : [])],
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...common, PORT: '0', ...options.env },
    up: (out) => {
      const nl = out.indexOf('\n');
      return nl === -1 ? undefined : (JSON.parse(out.slice(0, nl)) as { url: string; world?: DurableWorld });
    },
  };
}

export async function startClusterNode(options: ClusterNodeOptions): Promise<ClusterNode> {
  const { args, env, up } = await launch(options);
  const child = spawn(process.execPath, ['--import', 'tsx', ...args], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let out = '';
  let err = '';
  const echo = (chunk: Buffer) => {
    if (process.env.CLUSTER_TEST_LOG) process.stderr.write(`[${options.id}] ${chunk.toString('utf8')}`);
  };
  child.stderr!.on('data', (d: Buffer) => {
    err += d.toString('utf8');
    echo(d);
  });
  const started = await new Promise<{ url: string; world?: DurableWorld }>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`node ${options.id} did not start within 60 s: ${err}${out}`));
    }, 60_000);
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString('utf8');
      echo(d);
      const ready = up(out);
      if (ready !== undefined) {
        clearTimeout(timer);
        resolve(ready);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`node ${options.id} exited with ${code}: ${err}${out}`));
    });
  });
  const signal = (s: NodeJS.Signals) => {
    if (child.exitCode === null && child.signalCode === null) child.kill(s);
    return exited;
  };
  return {
    id: options.id,
    url: started.url,
    child,
    world: started.world,
    exited,
    stderr: () => err,
    stdout: () => out,
    output: () => `${out}${err}`,
    stop: () => signal('SIGTERM'),
    kill: () => signal('SIGKILL'),
  };
}

/** The shared database, for making users and guilds straight in the store (tokens for CLUSTER_TOKEN_SECRET). */
export async function openWorld(databaseUrl: string): Promise<{
  store: Store;
  user(username: string): Promise<{ id: string; token: string }>;
  guild(owner: string, members: string[]): Promise<{ id: string; channelId: string }>;
  close(): Promise<void>;
}> {
  const store = await openSqlStore({ kind: 'postgres', url: databaseUrl });
  return {
    store,
    async user(username) {
      const u = await store.createUser({ username });
      return { id: u.id, token: issueToken(CLUSTER_TOKEN_SECRET, u.id) };
    },
    async guild(owner, members) {
      const g = await store.createGuild({ name: 'cluster test', owner_id: owner });
      for (const m of members) await store.addMember(g.id, m);
      const [general] = await store.listChannels(g.id);
      return { id: g.id, channelId: general!.id };
    },
    close: () => store.close(),
  };
}

/** Waits (bounded) until every node's membership has `count` placeable nodes, so placement agrees everywhere. */
export async function untilPlaceable(nodes: readonly { url: string }[], count: number, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const placeable = async (n: { url: string }) => Number((await metric(n.url, 'guildhall_cluster_placeable_nodes').catch(() => undefined)) ?? -1);
  for (;;) {
    const counts = await Promise.all(nodes.map(placeable));
    if (counts.every((n) => n === count)) return;
    if (Date.now() > deadline) throw new Error(`placeable nodes never reached ${count} everywhere: ${counts.join(',')}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function api(base: string, token: string, method: string, path: string, body?: unknown): Promise<{ status: number; headers: Headers; body: any }> {
  const res = await fetch(`${base}/api/v10${path}`, {
    method,
    headers: { authorization: `Bot ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text === '' ? undefined : JSON.parse(text) };
}

/** Guild ids whose actor runs on the node (its actor top, as JSON). */
export async function runningGuilds(base: string): Promise<string[]> {
  const res = await fetch(`${base}/debug/api/actors?kind=guild&limit=1000`);
  const top = (await res.json()) as { actors: { id: string; status: string }[] };
  return top.actors.map((a) => a.id).sort();
}

/** One sample of a metric from /metrics (labels as written, e.g. `{direction="sent"}`); undefined if absent. */
export async function metric(base: string, name: string, labels = ''): Promise<number | undefined> {
  const text = await (await fetch(`${base}/metrics`)).text();
  for (const line of text.split('\n')) {
    if (line.startsWith(`${name}${labels} `)) return Number(line.slice(name.length + labels.length + 1).split(' ')[0]);
  }
  return undefined;
}

/** Polls `check` until it returns a value that is not undefined (bounded). */
export async function eventually<T>(check: () => Promise<T | undefined>, what: string, timeoutMs = 10_000, everyMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last === undefined ? '' : `: ${String(last)}`}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
