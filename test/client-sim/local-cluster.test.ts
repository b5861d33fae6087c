// LocalCluster and `npm run cluster` with real node processes on PostgreSQL,
// and client-sim's handling of what a node going away does to its sessions:
// op 7 RECONNECT on SIGTERM (resume at resume_gateway_url), INVALID_SESSION
// when the node that held the session is gone (IDENTIFY afresh, then read the
// missed history over REST). One node is enough for these: the session is
// lost with its process whether or not the server runs in cluster mode.
import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveOptions } from '../../client-sim/cli.js';
import { HistogramSet } from '../../client-sim/histograms.js';
import { LocalCluster } from '../../client-sim/local-cluster.js';
import { SessionPool } from '../../client-sim/pool.js';
import { MESSAGE_INTENTS } from '../../client-sim/protocol.js';
import { RestClient, gatewayUrls } from '../../client-sim/rest.js';
import { runSimulation } from '../../client-sim/run.js';
import { startSimTracing } from '../../client-sim/tracing.js';
import { buildWorld, planWorld } from '../../client-sim/world.js';
import { NATS_URL, uniquePrefix } from '../support/cluster.js';
import { type TestDatabase, createTestDatabase } from '../support/postgres.js';
import { until } from '../support/until.js';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase('guildhall_sim');
});
afterAll(async () => {
  await db?.drop();
});

const NODE_ENV = { LOG_LEVEL: 'warn', GUILDHALL_MAX_CONCURRENCY: '1000000', GUILDHALL_ROUTE_RATE_LIMITS: 'off', OTEL_SDK_DISABLED: 'true' };

/** A port p such that p and p + 1 are both free now. */
async function twoFreePorts(): Promise<number> {
  const listen = (port: number) =>
    new Promise<boolean>((resolve) => {
      const s = createServer();
      s.once('error', () => resolve(false));
      s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
    });
  for (let i = 0; i < 50; i++) {
    const p = 20_000 + Math.floor(Math.random() * 30_000);
    if ((await listen(p)) && (await listen(p + 1))) return p;
  }
  throw new Error('no two consecutive free ports');
}

describe('npm run cluster', () => {
  it('starts N nodes on consecutive ports, prints their URLs, prefixes their output, stops them all on SIGTERM', async () => {
    const base = await twoFreePorts();
    const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, '../../client-sim/cluster-main.ts'), '--nodes', '2', '--base-port', String(base)], {
      env: { PATH: process.env.PATH, HOME: process.env.HOME, DATABASE_URL: db.url, GUILDHALL_NATS_URL: NATS_URL, GUILDHALL_CLUSTER: uniquePrefix('cluster-cli'), LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout!.on('data', (d) => (out += d));
    child.stderr!.on('data', (d) => (out += d));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      await until(() => out.includes('node(s) ready') || child.exitCode !== null, 'the cluster to be ready', 90_000);
      expect(out).toContain('node(s) ready');
      expect(out).toContain(`http://127.0.0.1:${base}\n`);
      expect(out).toContain(`http://127.0.0.1:${base + 1}\n`);
      expect(out).toMatch(new RegExp(`\\[node1 :${base}\\] `));
      expect(out).toMatch(new RegExp(`\\[node2 :${base + 1}\\] `));
      for (const port of [base, base + 1]) expect((await fetch(`http://127.0.0.1:${port}/readyz`)).status).toBe(200);
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      expect(out).toContain('all nodes stopped');
      for (const port of [base, base + 1]) await expect(fetch(`http://127.0.0.1:${port}/healthz`)).rejects.toThrow();
    } finally {
      child.kill('SIGKILL');
    }
  }, 150_000);

  it('rejects bad flags with exit 2', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, '../../client-sim/cluster-main.ts'), '--nodes', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr!.on('data', (d) => (err += d));
    const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
    expect(code).toBe(2);
    expect(err).toContain('--nodes must be at least 1');
  }, 60_000);
});

describe('sessions when their node goes away', () => {
  it('op 7 RECONNECT on SIGTERM: each session resumes at resume_gateway_url; the restarted node has forgotten it, so INVALID_SESSION, IDENTIFY again, and delivery goes on', async () => {
    const cluster = await LocalCluster.start({ nodes: 1, natsUrl: NATS_URL, databaseUrl: db.url, cluster: uniquePrefix('op7'), env: NODE_ENV });
    const rest = new RestClient(cluster.urls, startSimTracing({}), new HistogramSet());
    let pool: SessionPool | undefined;
    try {
      const world = await buildWorld(planWorld({ users: 4, guilds: 1, sessions: 4, seed: 5, membership: () => [0] }), rest);
      const guild = world.guilds[0]!;
      pool = await SessionPool.start({
        gatewayUrls: await gatewayUrls(rest),
        restUrls: cluster.urls,
        labels: {},
        workers: 0,
        sessions: world.sessionUser.map((u) => ({ token: world.users[u]!.token, guildIds: [guild.id], channelIds: [guild.channelId], intents: MESSAGE_INTENTS })),
      });
      const p = pool;
      await p.connect([0, 1, 2, 3], 100);
      expect((await p.waitFor((s) => s.complete === 4, 30_000)).ok).toBe(true);

      await cluster.restart(0);
      expect((await p.waitFor((s) => s.connected === 4, 60_000)).ok).toBe(true);
      const [host] = await p.results();
      expect(host!.counters).toMatchObject({ reconnects: 4, invalidSessions: 4, reidentifies: 4, resumesFailed: 4 });
      // The socket closes that follow op 7 are the client's own: not unexpected.
      expect(host!.counters.unexpectedCloses).toBe(0);
      expect(host!.counters.connectFailures).toBeGreaterThan(0); // it tried while the node was down

      // The new gateway sessions receive, and the seq accounting starts afresh without gaps.
      p.register({ key: 'after', kind: 'message', guildIds: [guild.id], sentAt: Date.now() });
      await rest.request('POST', `/channels/${guild.channelId}/messages`, { token: world.users[0]!.token, body: { content: 'sim:after hello' } });
      expect((await p.waitFor((s) => s.outstanding === 0, 20_000)).ok).toBe(true);
      const [after] = await p.results();
      expect(after!.tally).toMatchObject({ expected: 4, delivered: 4, lost: 0, duplicated: 0, viaHistory: 0 });
      expect(after!.seq).toMatchObject({ gaps: 0, duplicated: 0, outOfOrder: 0 });
    } finally {
      await pool?.close();
      await cluster.stop();
    }
  }, 180_000);

  it('kill -9 of the node holding the sessions: a message acknowledged by another node meanwhile reaches each session once after its new IDENTIFY (history or gateway)', async () => {
    const cluster = await LocalCluster.start({ nodes: 2, natsUrl: NATS_URL, databaseUrl: db.url, cluster: uniquePrefix('kill'), env: NODE_ENV });
    const rest = new RestClient(cluster.urls, startSimTracing({}), new HistogramSet());
    let pool: SessionPool | undefined;
    try {
      // The world through node 1 only: without cluster mode (other branches) two nodes do not share
      // a guild's actor, and node 2 must load the guild from PostgreSQL when it first needs it.
      const setup = new RestClient([cluster.urls[0]!], startSimTracing({}), new HistogramSet());
      const world = await buildWorld(planWorld({ users: 3, guilds: 1, sessions: 3, seed: 7, membership: () => [0] }), setup);
      const guild = world.guilds[0]!;
      pool = await SessionPool.start({
        gatewayUrls: await gatewayUrls(rest),
        restUrls: cluster.urls,
        labels: {},
        workers: 0,
        // Every session on node 1.
        sessions: world.sessionUser.map((u) => ({ node: 0, token: world.users[u]!.token, guildIds: [guild.id], channelIds: [guild.channelId], intents: MESSAGE_INTENTS })),
      });
      const p = pool;
      await p.connect([0, 1, 2], 100);
      expect((await p.waitFor((s) => s.complete === 3, 30_000)).ok).toBe(true);
      const before = Date.now();
      await cluster.kill(0);
      // Acknowledged by node 2 while the sessions' node is gone: in PostgreSQL, on no socket.
      p.register({ key: 'missed', kind: 'message', guildIds: [guild.id], sentAt: before });
      await rest.request('POST', `/channels/${guild.channelId}/messages`, { base: cluster.urls[1], token: world.users[1]!.token, body: { content: 'sim:missed while down' } });
      await cluster.startNode(0);
      expect((await p.waitFor((s) => s.connected === 3 && s.outstanding === 0, 60_000)).ok).toBe(true);
      const [host] = await p.results();
      expect(host!.counters).toMatchObject({ reidentifies: 3 });
      // Each session has it exactly once: from history, or over the gateway when it IDENTIFYed on
      // node 2 before the message was broadcast there (a race the sessions' reconnect delay decides).
      expect(host!.tally).toMatchObject({ expected: 3, delivered: 3, lost: 0, duplicated: 0, unexpected: 0 });
      // History is read after every fresh IDENTIFY: one seen on the gateway too is an overlap, not a duplicate.
      expect(host!.counters.historyReads).toBeGreaterThanOrEqual(host!.tally.viaHistory);
    } finally {
      await pool?.close();
      await cluster.stop();
    }
  }, 180_000);

  it('node-kill on one node: every acknowledged message reaches every member once, over the gateway or from history after IDENTIFY', async () => {
    const options = resolveOptions('node-kill', { spawnCluster: 1, sessions: 6, guilds: 2, rate: 8, duration: 3, down: 0.5, natsUrl: NATS_URL, databaseUrl: db.url, progress: 'off', timeout: 150 });
    const report = await runSimulation(options, { env: {} });
    if (!report.passed) console.error(JSON.stringify({ failures: report.failures, errors: report.errorSamples, gateway: report.gateway }, null, 2));
    expect(report.failures).toEqual([]);
    expect(report.notes.killed_node).toBe(1);
    expect(report.gateway.reidentifies).toBe(6);
    expect(report.metrics).toMatchObject({ lost: 0, duplicated: 0, unexpected: 0, out_of_order: 0, sessions_failed: 0 });
    expect(report.delivery.delivered).toBe(report.delivery.expected);
    expect(report.delivery.expected).toBeGreaterThan(0);
  }, 180_000);
});
