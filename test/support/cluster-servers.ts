// Guildhall nodes of one cluster, each a real server process
// (test/support/durable-server.ts) on loopback, against the local NATS and a
// PostgreSQL test database. Every test run names its own cluster (subjects and
// KV buckets), so concurrent runs never meet.
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
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

export async function startClusterNode(options: ClusterNodeOptions): Promise<ClusterNode> {
  const args = ['--import', 'tsx', 'test/support/durable-server.ts', ...(options.setupUsers ? ['--setup', String(options.setupUsers)] : [])];
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      DATABASE_URL: options.databaseUrl,
      GUILDHALL_NATS_URL: options.natsUrl ?? NATS_URL,
      GUILDHALL_CLUSTER: options.cluster,
      GUILDHALL_NODE_ID: options.id,
      GUILDHALL_TOKEN_SECRET: CLUSTER_TOKEN_SECRET,
      PORT: '0',
      ...options.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let out = '';
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString('utf8')));
  const line = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`node ${options.id} did not start within 60 s: ${err}`));
    }, 60_000);
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString('utf8');
      const nl = out.indexOf('\n');
      if (nl !== -1) {
        clearTimeout(timer);
        resolve(out.slice(0, nl));
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`node ${options.id} exited with ${code}: ${err}`));
    });
  });
  const { url, world } = JSON.parse(line) as { url: string; world?: DurableWorld };
  const signal = (s: NodeJS.Signals) => {
    if (child.exitCode === null && child.signalCode === null) child.kill(s);
    return exited;
  };
  return { id: options.id, url, child, world, exited, stderr: () => err, stdout: () => out, stop: () => signal('SIGTERM'), kill: () => signal('SIGKILL') };
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
