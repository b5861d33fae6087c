// When a node dies or is cut off, its guilds run elsewhere within the stated
// bound (lease TTL + one renewal + detection), nothing acknowledged is lost,
// and a node cut off from NATS stops serving its guilds before another node
// takes them (its lease ends at sentAt + ttl - margin on its own clock; the KV
// entry expires no earlier than ttl after the renewal landed).
import { afterEach, describe, expect, it } from 'vitest';
import { rendezvousHome } from '../../../cluster/index.js';
import { NATS_URL, uniquePrefix } from '../../support/cluster.js';
import { type ClusterNode, FAST_CLUSTER_ENV, api, eventually, metric, runningGuilds, startClusterNode } from '../../support/cluster-servers.js';
import { GatewayClient } from '../../support/gateway-client.js';
import { type TestDatabase, createTestDatabase } from '../../support/postgres.js';
import { type TcpProxy, startTcpProxy } from '../../support/tcp-proxy.js';

interface Guild {
  id: string;
  channelId: string;
}

const LEASE_TTL_MS = Number(FAST_CLUSTER_ENV.GUILDHALL_LEASE_TTL_MS);
const NODE_TTL_MS = Number(FAST_CLUSTER_ENV.GUILDHALL_NODE_TTL_MS);
/** The failover bound with the test's settings: lease expiry, one renewal (ttl / 3), detection (node ttl), and askGuild's retry spacing. */
const FAILOVER_BOUND_MS = LEASE_TTL_MS + LEASE_TTL_MS / 3 + NODE_TTL_MS + 1_000;

const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f().catch(() => {});
});

/** Guilds made through `via` until at least `min` are homed on `on` among `ids` (homes hash random ids). */
async function makeGuilds(via: string, token: string, first: Guild, ids: string[], on: string, min: number): Promise<Guild[]> {
  const guilds = [first];
  const count = () => guilds.filter((g) => rendezvousHome(g.id, ids) === on).length;
  for (let i = 0; i < 30 && (guilds.length < 6 || count() < min); i++) {
    const made = await api(via, token, 'POST', '/guilds', { name: `f${i}` });
    const channels = await api(via, token, 'GET', `/guilds/${made.body.id}/channels`);
    guilds.push({ id: made.body.id, channelId: channels.body[0].id });
  }
  return guilds;
}

/** Every message of the channel, newest first (pages of 100). */
async function history(base: string, token: string, g: Guild): Promise<string[]> {
  const out: string[] = [];
  for (let before = ''; ; ) {
    const page = (await api(base, token, 'GET', `/channels/${g.channelId}/messages?limit=100${before}`)).body as { id: string; content: string }[];
    out.push(...page.map((m) => m.content));
    if (page.length < 100) return out;
    before = `&before=${page[page.length - 1]!.id}`;
  }
}

async function post(base: string, token: string, g: Guild, content: string) {
  return api(base, token, 'POST', `/channels/${g.channelId}/messages`, { content });
}

describe('failover', () => {
  it('kill -9: the dead node\'s guilds run elsewhere within the bound, nothing acknowledged is lost', async () => {
    const db: TestDatabase = await createTestDatabase();
    cleanup.push(() => db.drop());
    const cluster = uniquePrefix('kill');
    const a = await startClusterNode({ id: 'a', cluster, databaseUrl: db.url, setupUsers: 1, env: FAST_CLUSTER_ENV });
    cleanup.push(() => a.kill());
    const [b, c] = await Promise.all(['b', 'c'].map((id) => startClusterNode({ id, cluster, databaseUrl: db.url, env: FAST_CLUSTER_ENV })));
    cleanup.push(() => b!.kill(), () => c!.kill());
    const token = a.world!.users[0]!.token;
    const guilds = await makeGuilds(a.url, token, { id: a.world!.guildId, channelId: a.world!.channelId }, ['a', 'b', 'c'], 'b', 2);
    for (const n of [a, b!, c!]) await eventually(async () => ((await metric(n.url, 'guildhall_cluster_live_nodes')) === 3 ? true : undefined), `${n.id} sees 3 nodes`);

    const acked: { guild: Guild; content: string }[] = [];
    for (const [i, g] of guilds.entries()) {
      const res = await post(a.url, token, g, `before ${i}`);
      expect(res.status).toBe(200);
      acked.push({ guild: g, content: `before ${i}` });
    }
    const onB = guilds.filter((g) => rendezvousHome(g.id, ['a', 'b', 'c']) === 'b');
    expect(await runningGuilds(b!.url)).toEqual(onB.map((g) => g.id).sort());
    // An enforce_nonce post b's guild acknowledged: its retry after b's death must not create a second message.
    const nonced = { content: 'nonced once', nonce: 'failover-retry', enforce_nonce: true };
    const first = await api(a.url, token, 'POST', `/channels/${onB[0]!.channelId}/messages`, nonced);
    expect(first.status).toBe(200);
    acked.push({ guild: onB[0]!, content: nonced.content });

    // Keep posting to every guild through a and c while b dies.
    let posting = true;
    const statuses: number[] = [];
    const loops = guilds.map(async (g, gi) => {
      for (let i = 0; posting; i++) {
        const content = `during ${gi}.${i}`;
        const res = await post((i % 2 === 0 ? a : c!).url, token, g, content);
        statuses.push(res.status);
        if (res.status === 200) acked.push({ guild: g, content });
        else await new Promise((r) => setTimeout(r, 50));
      }
    });
    await new Promise((r) => setTimeout(r, 300));
    const killedAt = Date.now();
    await b!.kill();
    // Each of b's guilds answers again through a, within the bound.
    const back = await Promise.all(
      onB.map((g, i) =>
        eventually(
          async () => ((await post(a.url, token, g, `after ${i}`)).status === 200 ? Date.now() - killedAt : undefined),
          `guild ${g.id} served again`,
          FAILOVER_BOUND_MS + 5_000,
          100,
        ),
      ),
    );
    onB.forEach((g, i) => acked.push({ guild: g, content: `after ${i}` }));
    posting = false;
    await Promise.all(loops);
    // The retry, through c this time, reaches the guild's new home: it answers the first message.
    const retried = await api(c!.url, token, 'POST', `/channels/${onB[0]!.channelId}/messages`, { ...nonced, content: 'nonced twice?' });
    expect(retried.status).toBe(200);
    expect(retried.body.id).toBe(first.body.id);
    expect(await history(a.url, token, onB[0]!)).not.toContain('nonced twice?');
    for (const ms of back) expect(ms).toBeLessThanOrEqual(FAILOVER_BOUND_MS);
    // While they moved, callers got 503s (with Retry-After), never another error.
    expect(statuses.every((s) => s === 200 || s === 503)).toBe(true);

    // Every acknowledged message is in PostgreSQL, once.
    for (const g of guilds) {
      const contents = await history(a.url, token, g);
      for (const x of acked.filter((x) => x.guild === g)) expect(contents.filter((c2) => c2 === x.content)).toHaveLength(1);
    }
    // b's guilds run on a or c now, each on exactly one.
    const running = [...(await runningGuilds(a.url)), ...(await runningGuilds(c!.url))];
    for (const g of onB) expect(running.filter((id) => id === g.id)).toHaveLength(1);
  }, 240_000);

  it('a node cut off from NATS stops serving its guilds before another node takes them', async () => {
    const db: TestDatabase = await createTestDatabase();
    cleanup.push(() => db.drop());
    const cluster = uniquePrefix('partition');
    const nats = new URL(NATS_URL);
    const proxy: TcpProxy = await startTcpProxy({ host: nats.hostname, port: Number(nats.port || 4222) });
    cleanup.push(() => proxy.close());
    const a = await startClusterNode({ id: 'a', cluster, databaseUrl: db.url, setupUsers: 1, env: FAST_CLUSTER_ENV });
    cleanup.push(() => a.kill());
    const p: ClusterNode = await startClusterNode({ id: 'p', cluster, databaseUrl: db.url, natsUrl: `nats://127.0.0.1:${proxy.port}`, env: FAST_CLUSTER_ENV });
    cleanup.push(() => p.kill());
    const token = a.world!.users[0]!.token;
    const guilds = await makeGuilds(a.url, token, { id: a.world!.guildId, channelId: a.world!.channelId }, ['a', 'p'], 'p', 2);
    for (const n of [a, p]) await eventually(async () => ((await metric(n.url, 'guildhall_cluster_live_nodes')) === 2 ? true : undefined), `${n.id} sees 2 nodes`);
    for (const [i, g] of guilds.entries()) expect((await post(a.url, token, g, `before ${i}`)).status).toBe(200);
    const onP = guilds.filter((g) => rendezvousHome(g.id, ['a', 'p']) === 'p').map((g) => g.id);
    expect(await runningGuilds(p.url)).toEqual([...onP].sort());
    const probe = guilds.find((g) => g.id === onP[0])!;

    await proxy.cut();
    const cutAt = Date.now();
    // p's HTTP side still answers: watch it let go of its guilds, and a take one of them.
    let stoppedAt: number | undefined;
    let takenAt: number | undefined;
    await Promise.all([
      eventually(
        async () => {
          const running = await runningGuilds(p.url);
          if (onP.some((id) => running.includes(id))) return undefined;
          stoppedAt = Date.now();
          return true;
        },
        'p stops serving its guilds',
        FAILOVER_BOUND_MS + 5_000,
        20,
      ),
      eventually(
        async () => {
          if ((await post(a.url, token, probe, `taken ${Date.now()}`)).status !== 200) return undefined;
          takenAt = Date.now();
          return true;
        },
        'a serves the guild',
        FAILOVER_BOUND_MS + 5_000,
        20,
      ),
    ]);
    expect(stoppedAt! - cutAt).toBeLessThanOrEqual(LEASE_TTL_MS);
    expect(stoppedAt!).toBeLessThan(takenAt!);
    expect(await metric(p.url, 'guildhall_cluster_leases_lost_total')).toBeGreaterThanOrEqual(onP.length);
    // Cut off, p refuses its guilds (503) rather than serving them without a lease.
    const res = await post(p.url, token, probe, 'from the cut-off node');
    expect(res.status).toBe(503);
  }, 240_000);

  it('a guild drops the sessions of a node that died (it monitors its remote subscribers)', async () => {
    const db: TestDatabase = await createTestDatabase();
    cleanup.push(() => db.drop());
    const cluster = uniquePrefix('subdown');
    // Default timings: the guild's own lease must not be at risk on a loaded machine.
    const a = await startClusterNode({ id: 'a', cluster, databaseUrl: db.url, setupUsers: 2 });
    cleanup.push(() => a.kill());
    const others = await Promise.all(['b', 'c'].map((id) => startClusterNode({ id, cluster, databaseUrl: db.url })));
    for (const n of others) cleanup.push(() => n.kill());
    const all = [a, ...others];
    for (const n of all) await eventually(async () => ((await metric(n.url, 'guildhall_cluster_live_nodes')) === 3 ? true : undefined), `${n.id} sees 3 nodes`);
    const world = a.world!;
    const home = rendezvousHome(world.guildId, ['a', 'b', 'c']);
    // The doomed session on a node that is not the guild's home; the watcher on another.
    const doomed = all.find((n) => n.id !== home)!;
    const watcherNode = all.find((n) => n !== doomed)!;
    const [u1, u2] = world.users as [{ id: string; token: string }, { id: string; token: string }];
    const watcher = await GatewayClient.connect(watcherNode.url);
    cleanup.push(async () => watcher.ws.close());
    watcher.identify(u2.token);
    await watcher.waitForDispatch('GUILD_CREATE', 1, 15_000);
    const gone = await GatewayClient.connect(doomed.url);
    gone.identify(u1.token);
    await gone.waitForDispatch('GUILD_CREATE', 1, 15_000);
    // u1 comes online in the guild: the watcher hears it.
    await watcher.waitFor((r) => r.some((p) => p.t === 'PRESENCE_UPDATE' && p.d.user.id === u1.id && p.d.status !== 'offline') || undefined, 10_000);
    const killedAt = Date.now();
    await doomed.kill();
    // The guild's monitor of u1's session fires (nodedown): u1 goes offline for the others.
    await watcher.waitFor((r) => r.some((p) => p.t === 'PRESENCE_UPDATE' && p.d.user.id === u1.id && p.d.status === 'offline') || undefined, 15_000);
    // Within the router's detection bound (node TTL 3 s + one heartbeat 1 s), with slack for a loaded machine.
    expect(Date.now() - killedAt).toBeLessThan(10_000);
  }, 240_000);

  it("a session follows its guild's moves: after a handover, the new home's death makes the guild unavailable to it, then it comes back", async () => {
    const db: TestDatabase = await createTestDatabase();
    cleanup.push(() => db.drop());
    const cluster = uniquePrefix('follow');
    const a = await startClusterNode({ id: 'a', cluster, databaseUrl: db.url, setupUsers: 1 });
    cleanup.push(() => a.kill());
    const b = await startClusterNode({ id: 'b', cluster, databaseUrl: db.url });
    cleanup.push(() => b.kill());
    for (const n of [a, b]) await eventually(async () => ((await metric(n.url, 'guildhall_cluster_live_nodes')) === 2 ? true : undefined), `${n.id} sees 2 nodes`);
    const [u] = a.world!.users as [{ id: string; token: string }];
    // A guild that c will take from a or b when it joins.
    const guilds = await makeGuilds(a.url, u.token, { id: a.world!.guildId, channelId: a.world!.channelId }, ['a', 'b', 'c'], 'c', 1);
    const g = guilds.find((x) => rendezvousHome(x.id, ['a', 'b', 'c']) === 'c')!;
    const session = await GatewayClient.connect(a.url);
    cleanup.push(async () => session.ws.close());
    session.identify(u.token);
    // The test outlives a heartbeat interval (41.25 s): beat as a client would.
    const beat = setInterval(() => session.send(1, null), 10_000);
    cleanup.push(async () => clearInterval(beat));
    await session.waitFor((r) => r.some((p) => p.t === 'GUILD_CREATE' && p.d.id === g.id) || undefined, 15_000);

    const c = await startClusterNode({ id: 'c', cluster, databaseUrl: db.url });
    cleanup.push(() => c.kill());
    await eventually(async () => ((await runningGuilds(c.url)).includes(g.id) ? true : undefined), 'the guild moved to c', 30_000);
    // Still delivered from its new home, with nothing said to the client about the move.
    expect((await post(b.url, u.token, g, 'after the move')).status).toBe(200);
    await session.waitFor((r) => r.some((p) => p.t === 'MESSAGE_CREATE' && p.d.content === 'after the move') || undefined, 15_000);
    expect(session.received.some((p) => p.t === 'GUILD_DELETE')).toBe(false);

    await c.kill();
    // c's death is the guild's death for this session: unavailable, then back once a or b runs it.
    await session.waitFor((r) => r.some((p) => p.t === 'GUILD_DELETE' && p.d.id === g.id && p.d.unavailable === true) || undefined, 15_000);
    await session.waitFor((r) => r.filter((p) => p.t === 'GUILD_CREATE' && p.d.id === g.id).length >= 2 || undefined, 60_000);
    expect((await post(a.url, u.token, g, 'after the failover')).status).toBe(200);
    await session.waitFor((r) => r.some((p) => p.t === 'MESSAGE_CREATE' && p.d.content === 'after the failover') || undefined, 15_000);
  }, 240_000);

  it('a node that stalls past its lease stops its guilds and offers their sessions to the next home', async () => {
    const db: TestDatabase = await createTestDatabase();
    cleanup.push(() => db.drop());
    const cluster = uniquePrefix('stall');
    const a = await startClusterNode({ id: 'a', cluster, databaseUrl: db.url, setupUsers: 1, env: FAST_CLUSTER_ENV });
    cleanup.push(() => a.kill());
    const p = await startClusterNode({ id: 'p', cluster, databaseUrl: db.url, env: FAST_CLUSTER_ENV });
    cleanup.push(() => p.kill());
    const token = a.world!.users[0]!.token;
    const guilds = await makeGuilds(a.url, token, { id: a.world!.guildId, channelId: a.world!.channelId }, ['a', 'p'], 'p', 1);
    for (const n of [a, p]) await eventually(async () => ((await metric(n.url, 'guildhall_cluster_live_nodes')) === 2 ? true : undefined), `${n.id} sees 2 nodes`);
    const g = guilds.find((x) => rendezvousHome(x.id, ['a', 'p']) === 'p')!;
    const session = await GatewayClient.connect(a.url);
    cleanup.push(async () => session.ws.close());
    session.identify(token);
    await session.waitForDispatch('GUILD_CREATE', guilds.length, 15_000);
    expect(await runningGuilds(p.url)).toContain(g.id);

    // p freezes for longer than its lease: a takes the guild (without subscribers: p could leave no handoff).
    p.child.kill('SIGSTOP');
    await eventually(async () => ((await post(a.url, token, g, 'while p is frozen')).status === 200 ? true : undefined), 'a serves the guild', 15_000, 100);
    p.child.kill('SIGCONT');
    // p wakes up, finds its lease lost, stops the guild and offers its session to the guild's home: new messages reach it again.
    await eventually(
      async () => {
        const content = `after ${Date.now()}`;
        if ((await post(a.url, token, g, content)).status !== 200) return undefined;
        return (await session.waitFor((r) => r.some((x) => x.t === 'MESSAGE_CREATE' && x.d.content === content) || undefined, 500).catch(() => undefined)) ? true : undefined;
      },
      'the session receives the guild\'s messages again',
      20_000,
      200,
    );
    expect(await metric(p.url, 'guildhall_cluster_leases_lost_total')).toBeGreaterThanOrEqual(1);
  }, 240_000);
});
