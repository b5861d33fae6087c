// Guildhall nodes in cluster mode, each the real entry point (server/main.ts)
// in a process of its own on loopback, against the local NATS and a
// PostgreSQL test database: for drain (SIGTERM) and kill -9 tests.
import { type ChildProcess, spawn } from 'node:child_process';
import { createServer as createTcpServer } from 'node:net';
import { issueToken } from '../../server/auth/token.js';
import { openSqlStore } from '../../server/store/sql-store.js';
import type { Store } from '../../server/store/store.js';
import { NATS_URL } from './cluster.js';
import { TEST_SECRET } from './server.js';

export interface ClusterServer {
  readonly id: string;
  /** http://127.0.0.1:port */
  readonly url: string;
  readonly child: ChildProcess;
  /** Everything the process wrote to stdout and stderr (for failure messages). */
  output(): string;
  /** Resolves with the exit status (null when killed by a signal). */
  readonly exited: Promise<number | null>;
  signal(signal: NodeJS.Signals): void;
}

export interface ClusterServerOptions {
  id: string;
  cluster: string;
  databaseUrl: string;
  env?: Record<string, string>;
}

/** A port free right now on 127.0.0.1 (cluster mode needs a known port: the node's default id and URL). */
export async function freePort(): Promise<number> {
  const server = createTcpServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export async function startClusterServer(options: ClusterServerOptions): Promise<ClusterServer> {
  const port = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', 'server/main.ts'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      HOST: '127.0.0.1',
      PORT: String(port),
      DATABASE_URL: options.databaseUrl,
      GUILDHALL_NATS_URL: NATS_URL,
      GUILDHALL_CLUSTER: options.cluster,
      GUILDHALL_NODE_ID: options.id,
      GUILDHALL_TOKEN_SECRET: TEST_SECRET,
      GUILDHALL_SEED: 'false',
      GUILDHALL_ROUTE_RATE_LIMITS: 'off',
      GUILDHALL_RATE_LIMIT_PER_SECOND: '100000',
      GUILDHALL_SLOW_DELIVERY_MS: '0',
      LOG_LEVEL: process.env.CLUSTER_TEST_LOG ? 'info' : 'warn',
      OTEL_SDK_DISABLED: 'true',
      OTEL_EXPORTER_OTLP_ENDPOINT: '',
      ...options.env,
    },
  });
  let out = '';
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`node ${options.id} not up within 60 s:\n${out}`)), 60_000);
    const onData = (chunk: Buffer) => {
      out += String(chunk);
      if (process.env.CLUSTER_TEST_LOG) process.stderr.write(`[${options.id}] ${String(chunk)}`);
      if (out.includes('Guildhall is up.')) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (chunk: Buffer) => {
      out += String(chunk);
      if (process.env.CLUSTER_TEST_LOG) process.stderr.write(`[${options.id}] ${String(chunk)}`);
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`node ${options.id} exited (${code}) before it was up:\n${out}`));
    });
  });
  return {
    id: options.id,
    url: `http://127.0.0.1:${port}`,
    child,
    output: () => out,
    exited,
    signal: (signal) => void child.kill(signal),
  };
}

/** Ends whatever is still running: SIGKILL (a test's nodes have nothing to save). */
export async function stopClusterServers(servers: ClusterServer[]): Promise<void> {
  await Promise.all(
    servers.map(async (s) => {
      if (s.child.exitCode !== null || s.child.signalCode !== null) return;
      s.child.kill('SIGKILL');
      await s.exited;
    }),
  );
}

/** The shared database, for making users and guilds straight in the store (as test/support/world.ts). */
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
      return { id: u.id, token: issueToken(TEST_SECRET, u.id) };
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
export async function untilPlaceable(servers: ClusterServer[], count: number, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const placeable = async (s: ClusterServer) => {
    const text = await fetch(`${s.url}/metrics`).then((r) => r.text(), () => '');
    return Number(/^guildhall_cluster_placeable_nodes (\d+)/m.exec(text)?.[1] ?? -1);
  };
  for (;;) {
    const counts = await Promise.all(servers.map(placeable));
    if (counts.every((n) => n === count)) return;
    if (Date.now() > deadline) throw new Error(`placeable nodes never reached ${count} everywhere: ${counts.join(',')}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
