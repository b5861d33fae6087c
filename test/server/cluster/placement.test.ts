// Cluster mode with three nodes, each a real server process on loopback, over
// the local NATS and one PostgreSQL test database: every guild has exactly one
// home (its rendezvous node), REST on any node reaches it, and its broadcasts
// reach sessions on every node.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rendezvousHome } from '../../../cluster/index.js';
import { uniquePrefix } from '../../support/cluster.js';
import { type ClusterNode, api, eventually, metric, runningGuilds, startClusterNode } from '../../support/cluster-servers.js';
import { GatewayClient } from '../../support/gateway-client.js';
import { type TestDatabase, createTestDatabase } from '../../support/postgres.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

describe('cluster mode refuses SQLite', () => {
  it('exits 2 with CLUSTER_NEEDS_POSTGRES', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'server/main.ts'], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', DATABASE_URL: 'sqlite::memory:', GUILDHALL_NATS_URL: 'nats://127.0.0.1:4222' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(code).toBe(2);
    expect(stderr).toContain('[CLUSTER_NEEDS_POSTGRES]');
    expect(stderr).toContain('GUILDHALL_NATS_URL');
  }, 60_000);
});

describe('three nodes', () => {
  let db: TestDatabase;
  const nodes: ClusterNode[] = [];
  const guilds: { id: string; channelId: string }[] = [];
  let token = '';
  let userId = '';

  beforeAll(async () => {
    db = await createTestDatabase();
    const cluster = uniquePrefix('placement');
    nodes.push(await startClusterNode({ id: 'a', cluster, databaseUrl: db.url, setupUsers: 2 }));
    nodes.push(...(await Promise.all(['b', 'c'].map((id) => startClusterNode({ id, cluster, databaseUrl: db.url })))));
    const world = nodes[0]!.world!;
    token = world.users[0]!.token;
    userId = world.users[0]!.id;
    guilds.push({ id: world.guildId, channelId: world.channelId });
    // At least 12, and at least two homed on each node (homes are hashes of random ids).
    const short = () => ['a', 'b', 'c'].some((id) => guilds.filter((g) => rendezvousHome(g.id, ['a', 'b', 'c']) === id).length < 2);
    for (let i = 0; i < 40 && (guilds.length < 12 || short()); i++) {
      const made = await api(nodes[i % 3]!.url, token, 'POST', '/guilds', { name: `g${i}` });
      expect(made.status).toBe(201);
      const channels = await api(nodes[0]!.url, token, 'GET', `/guilds/${made.body.id}/channels`);
      guilds.push({ id: made.body.id, channelId: channels.body[0].id });
    }
    // Every node sees the other two.
    for (const n of nodes) await eventually(async () => ((await metric(n.url, 'guildhall_cluster_live_nodes')) === 3 ? true : undefined), `${n.id} sees 3 nodes`);
  }, 180_000);

  afterAll(async () => {
    await Promise.all(nodes.map((n) => n.kill()));
    await db?.drop();
  });

  it('gives each node its own URL in GET /gateway', async () => {
    for (const n of nodes) {
      const res = await api(n.url, token, 'GET', '/gateway');
      expect(res.body.url).toBe(`${n.url.replace(/^http/, 'ws')}/gateway`);
    }
  });

  it('runs every guild on exactly one node: its rendezvous home', async () => {
    // A message to each guild, each through a different node than its home (mostly).
    for (const [i, g] of guilds.entries()) {
      const res = await api(nodes[(i + 1) % 3]!.url, token, 'POST', `/channels/${g.channelId}/messages`, { content: `hello ${i}` });
      expect(res.status).toBe(200);
    }
    const running = await Promise.all(nodes.map((n) => runningGuilds(n.url)));
    const all = running.flat().sort();
    expect(all).toEqual(guilds.map((g) => g.id).sort());
    for (const [i, n] of nodes.entries()) {
      for (const id of running[i]!) expect(rendezvousHome(id, ['a', 'b', 'c'])).toBe(n.id);
    }
    // Placement spreads them: no node has all of them.
    expect(running.every((r) => r.length < guilds.length)).toBe(true);
    const owned = await Promise.all(nodes.map((n) => metric(n.url, 'guildhall_cluster_guilds_owned')));
    expect(owned).toEqual(running.map((r) => r.length));
  });

  it('delivers a message posted on A to a guild homed on B to a session on C', async () => {
    const [a, b, c] = nodes as [ClusterNode, ClusterNode, ClusterNode];
    const g = guilds.find((x) => rendezvousHome(x.id, ['a', 'b', 'c']) === 'b');
    expect(g).toBeDefined();
    const session = await GatewayClient.connect(c.url);
    try {
      session.identify(token);
      const [ready] = await session.waitForDispatch('READY');
      expect(ready!.d.user.id).toBe(userId);
      expect(ready!.d.resume_gateway_url).toBe(`${c.url.replace(/^http/, 'ws')}/gateway`);
      await session.waitFor((r) => r.some((p) => p.t === 'GUILD_CREATE' && p.d.id === g!.id) || undefined);
      const sentBefore = await metric(b.url, 'guildhall_cluster_nats_messages_total', '{direction="sent"}');
      const posted = await api(a.url, token, 'POST', `/channels/${g!.channelId}/messages`, { content: 'across three nodes' });
      expect(posted.status).toBe(200);
      const [dispatch] = await session.waitFor((r) => {
        const hit = r.filter((p) => p.t === 'MESSAGE_CREATE' && p.d.content === 'across three nodes');
        return hit.length > 0 ? hit : undefined;
      });
      expect(dispatch!.d.id).toBe(posted.body.id);
      expect(dispatch!.d.guild_id).toBe(g!.id);
      // The guild's node sent it over NATS (the broadcast and the reply to A).
      expect(await metric(b.url, 'guildhall_cluster_nats_messages_total', '{direction="sent"}')).toBeGreaterThan(sentBefore ?? 0);
      expect(await metric(b.url, 'guildhall_cluster_nats_bytes_total', '{direction="sent"}')).toBeGreaterThan(0);
      expect(await runningGuilds(b.url)).toContain(g!.id);
    } finally {
      session.ws.close();
    }
  });

  it('keeps enforce_nonce across nodes: a retry through another node answers the first message', async () => {
    const g = guilds.find((x) => rendezvousHome(x.id, ['a', 'b', 'c']) === 'b')!;
    const body = { content: 'retried', nonce: 'cross-node-1', enforce_nonce: true };
    const first = await api(nodes[0]!.url, token, 'POST', `/channels/${g.channelId}/messages`, body);
    const again = await api(nodes[2]!.url, token, 'POST', `/channels/${g.channelId}/messages`, body);
    expect(first.status).toBe(200);
    expect(again.body).toEqual(first.body);
    const history = await api(nodes[1]!.url, token, 'GET', `/channels/${g.channelId}/messages?limit=100`);
    expect(history.body.filter((m: { content: string }) => m.content === 'retried')).toHaveLength(1);
  });

  it("tells a user's sessions on another node that they joined a guild (created there, or added by its home)", async () => {
    const [a, , c] = nodes as [ClusterNode, ClusterNode, ClusterNode];
    const other = nodes[0]!.world!.users[1]!;
    const owner = await GatewayClient.connect(c.url);
    const member = await GatewayClient.connect(c.url);
    try {
      owner.identify(token);
      member.identify(other.token);
      await owner.waitForDispatch('READY');
      await member.waitForDispatch('READY');
      // Created through A: A's request handler is where the event starts; the owner's session is on C.
      const made = await api(a.url, token, 'POST', '/guilds', { name: 'joined elsewhere' });
      expect(made.status).toBe(201);
      await owner.waitFor((r) => r.some((p) => p.t === 'GUILD_CREATE' && p.d.id === made.body.id) || undefined);
      // Added through A to a guild homed on B: the guild's actor on B starts the event; the member's session is on C.
      // Not the world's guild (guilds[0]): both users are in it already.
      const g = guilds.slice(1).find((x) => rendezvousHome(x.id, ['a', 'b', 'c']) === 'b')!;
      const added = await api(a.url, token, 'PUT', `/guilds/${g.id}/members/${other.id}`);
      expect([200, 201]).toContain(added.status);
      const [create] = await member.waitFor((r) => {
        const hit = r.filter((p) => p.t === 'GUILD_CREATE' && p.d.id === g.id);
        return hit.length > 0 ? hit : undefined;
      });
      expect(create!.d.members.some((m: { user: { id: string } }) => m.user.id === other.id)).toBe(true);
    } finally {
      owner.ws.close();
      member.ws.close();
    }
  });
});
