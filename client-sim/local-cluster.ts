// N Guildhall nodes on this machine, each a child process on its own port
// (consecutive from a base port), all against one NATS and one PostgreSQL
// database with one token secret: `npm run cluster`, client-sim's
// --spawn-cluster (rolling-restart and node-kill restart and kill them) and
// the benchmark's cluster case all start nodes through here. Every wait is
// bounded; every signal goes to a node's own pid.
import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { now, sleep } from './clock.js';

/** Under tsx (this file is .ts) the server runs from source; built, from dist/server/main.js. */
const FROM_SOURCE = import.meta.url.endsWith('.ts');
const ROOT = fileURLToPath(new URL(FROM_SOURCE ? '..' : '../..', import.meta.url));
const SERVER_ARGS = FROM_SOURCE ? ['--import', 'tsx', fileURLToPath(new URL('../server/main.ts', import.meta.url))] : [fileURLToPath(new URL('../server/main.js', import.meta.url))];

/** A dev-only default so that every node (and every run) signs tokens alike; set GUILDHALL_TOKEN_SECRET anywhere that matters. */
export const LOCAL_TOKEN_SECRET = 'guildhall-local-cluster-secret';

export interface LocalClusterOptions {
  nodes: number;
  /** First port; the nodes take consecutive ones. 0: a free port per node, picked by the OS. */
  basePort?: number;
  natsUrl: string;
  /** postgres://...; the database is created when missing. */
  databaseUrl: string;
  /** GUILDHALL_CLUSTER: prefix of subjects and KV buckets (default `guildhall`). */
  cluster?: string;
  tokenSecret?: string;
  /** Variables for every node, over the defaults (LOG_LEVEL, GUILDHALL_DRAIN_TIMEOUT_MS...). */
  env?: Record<string, string>;
  /** Start from this environment (npm run cluster passes the operator's); default: PATH and HOME only. */
  baseEnv?: NodeJS.ProcessEnv;
  /** Each line a node writes (stdout and stderr); default: dropped. */
  output?: (node: number, line: string) => void;
  /** How long a node may take to answer /readyz after it was started (default 60 s). */
  readyTimeoutMs?: number;
}

export interface NodeExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

interface NodeSlot {
  port: number;
  url: string;
  child: ChildProcess | undefined;
  exited: Promise<NodeExit> | undefined;
}

/** Creates the database `url` names when it does not exist (connecting to the `postgres` database of the same server). */
export async function ensureDatabase(url: string): Promise<void> {
  const u = new URL(url);
  const name = decodeURIComponent(u.pathname.replace(/^\//, ''));
  if (!/^[A-Za-z0-9_]+$/.test(name)) throw new Error(`database name "${name}" must be letters, digits and underscores`);
  u.pathname = '/postgres';
  const client = new pg.Client({ connectionString: u.toString() });
  await client.connect();
  try {
    const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (found.rowCount === 0) {
      await client.query(`CREATE DATABASE ${name}`).catch((err: { code?: string }) => {
        // Another process created it meanwhile.
        if (err.code !== '42P04') throw err;
      });
    }
  } finally {
    await client.end();
  }
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

export class LocalCluster {
  private stopping = false;

  private constructor(
    private readonly options: LocalClusterOptions,
    private readonly slots: NodeSlot[],
  ) {}

  /** Creates the database if needed, starts every node and waits until each answers /readyz. */
  static async start(options: LocalClusterOptions): Promise<LocalCluster> {
    if (!Number.isInteger(options.nodes) || options.nodes < 1) throw new Error('a cluster needs at least one node');
    await ensureDatabase(options.databaseUrl);
    const ports: number[] = [];
    for (let i = 0; i < options.nodes; i++) ports.push(options.basePort ? options.basePort + i : await freePort());
    const cluster = new LocalCluster(
      options,
      ports.map((port) => ({ port, url: `http://127.0.0.1:${port}`, child: undefined, exited: undefined })),
    );
    try {
      await Promise.all(ports.map((_, i) => cluster.startNode(i)));
    } catch (err) {
      await cluster.stop();
      throw err;
    }
    return cluster;
  }

  get size(): number {
    return this.slots.length;
  }

  /** Every node's base URL, in node order (whether it runs now or not). */
  get urls(): string[] {
    return this.slots.map((s) => s.url);
  }

  /** The pid of node `i`, or undefined while it is down. */
  pid(i: number): number | undefined {
    const child = this.slot(i).child;
    return child && child.exitCode === null && child.signalCode === null ? child.pid : undefined;
  }

  running(i: number): boolean {
    return this.pid(i) !== undefined;
  }

  /** Starts node `i` (again) on its port and waits until it answers /readyz. */
  async startNode(i: number): Promise<void> {
    const slot = this.slot(i);
    if (this.running(i)) throw new Error(`node ${i + 1} is already running`);
    const o = this.options;
    const base: NodeJS.ProcessEnv = o.baseEnv ?? { PATH: process.env.PATH, HOME: process.env.HOME };
    const env: NodeJS.ProcessEnv = {
      ...base,
      HOST: '127.0.0.1',
      PORT: String(slot.port),
      PUBLIC_URL: slot.url,
      DATABASE_URL: o.databaseUrl,
      GUILDHALL_NATS_URL: o.natsUrl,
      GUILDHALL_CLUSTER: o.cluster ?? base.GUILDHALL_CLUSTER ?? 'guildhall',
      GUILDHALL_TOKEN_SECRET: o.tokenSecret ?? base.GUILDHALL_TOKEN_SECRET ?? LOCAL_TOKEN_SECRET,
      GUILDHALL_DEV_ACCOUNTS: base.GUILDHALL_DEV_ACCOUNTS ?? 'true',
      // Several nodes seeding one database at once would race; the demo world is a single-server thing.
      GUILDHALL_SEED: 'false',
      ...(process.env.GUILDHALL_SQLITE_BINDING ? { GUILDHALL_SQLITE_BINDING: process.env.GUILDHALL_SQLITE_BINDING } : {}),
      ...o.env,
    };
    const child = spawn(process.execPath, SERVER_ARGS, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    slot.child = child;
    slot.exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
    for (const stream of [child.stdout!, child.stderr!]) {
      const lines = createInterface({ input: stream });
      lines.on('line', (line) => o.output?.(i, line));
    }
    await this.waitReady(i, child, o.readyTimeoutMs ?? 60_000);
  }

  /** kill -9 node `i`; resolves once it has exited. */
  async kill(i: number): Promise<NodeExit> {
    const slot = this.slot(i);
    if (!slot.child || !slot.exited) throw new Error(`node ${i + 1} was never started`);
    slot.child.kill('SIGKILL');
    return slot.exited;
  }

  /**
   * SIGTERM to node `i` (it drains and exits by itself); resolves with how it exited. Past
   * `timeoutMs` it is killed (SIGKILL) and the exit says so.
   */
  async terminate(i: number, timeoutMs = 60_000): Promise<NodeExit> {
    const slot = this.slot(i);
    if (!slot.child || !slot.exited) throw new Error(`node ${i + 1} was never started`);
    if (!this.running(i)) return slot.exited;
    slot.child.kill('SIGTERM');
    const timer = setTimeout(() => slot.child?.kill('SIGKILL'), timeoutMs);
    const exit = await slot.exited;
    clearTimeout(timer);
    return exit;
  }

  /** SIGTERM, wait for the exit, start again, wait until ready: one step of a rolling restart. */
  async restart(i: number, timeoutMs = 60_000): Promise<NodeExit> {
    const exit = await this.terminate(i, timeoutMs);
    await this.startNode(i);
    return exit;
  }

  /** SIGTERM to every node at once; SIGKILL to any still running after `graceMs`. Idempotent. */
  async stop(graceMs = 45_000): Promise<void> {
    this.stopping = true;
    await Promise.all(
      this.slots.map(async (slot, i) => {
        if (!slot.child || !this.running(i)) return;
        await this.terminate(i, graceMs);
      }),
    );
  }

  private slot(i: number): NodeSlot {
    const slot = this.slots[i];
    if (!slot) throw new Error(`no node ${i + 1} (the cluster has ${this.slots.length})`);
    return slot;
  }

  private async waitReady(i: number, child: ChildProcess, timeoutMs: number): Promise<void> {
    const url = this.slot(i).url;
    const deadline = now() + timeoutMs;
    while (now() < deadline) {
      if (this.stopping) throw new Error('the cluster is stopping');
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`node ${i + 1} (${url}) exited with ${child.exitCode ?? child.signalCode} before it was ready`);
      try {
        const res = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(2_000) });
        if (res.ok) return;
      } catch {
        // not listening yet
      }
      await sleep(100);
    }
    child.kill('SIGKILL');
    throw new Error(`node ${i + 1} (${url}) not ready within ${timeoutMs} ms`);
  }
}

/** Drops the database `url` names (ending connections a killed node left behind). */
export async function dropDatabase(url: string): Promise<void> {
  const u = new URL(url);
  const name = decodeURIComponent(u.pathname.replace(/^\//, ''));
  if (!/^[A-Za-z0-9_]+$/.test(name)) throw new Error(`database name "${name}" must be letters, digits and underscores`);
  u.pathname = '/postgres';
  const client = new pg.Client({ connectionString: u.toString() });
  await client.connect();
  try {
    await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  } finally {
    await client.end();
  }
}
