// RESUME on a node that does not run the session, three real nodes
// (server/main.ts) on loopback, real NATS, a PostgreSQL test database.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rendezvousHome } from '../../../cluster/index.js';
import { uniquePrefix } from '../../support/cluster.js';
import { type ClusterNode, openWorld, startClusterNode, untilPlaceable } from '../../support/cluster-servers.js';
import { GatewayClient, type Payload } from '../../support/gateway-client.js';
import { createTestDatabase, type TestDatabase } from '../../support/postgres.js';

const INTENTS = (1 << 0) | (1 << 9) | (1 << 15); // GUILDS, GUILD_MESSAGES, MESSAGE_CONTENT

let db: TestDatabase;
let world: Awaited<ReturnType<typeof openWorld>>;
let nodes: ClusterNode[] = [];
const clients: GatewayClient[] = [];

beforeAll(async () => {
  db = await createTestDatabase();
  world = await openWorld(db.url);
  const cluster = uniquePrefix('resume');
  const env = {};
  nodes = await Promise.all([1, 2, 3].map((i) => startClusterNode({ id: `n${i}`, cluster, databaseUrl: db.url, env, entry: 'main' })));
  await untilPlaceable(nodes, 3);
}, 150_000);

afterAll(async () => {
  for (const c of clients) c.ws.terminate();
  await Promise.all(nodes.map((n) => n.kill()));
  await world?.close();
  await db?.drop();
});

async function connect(url: string): Promise<GatewayClient> {
  const client = await GatewayClient.connect(url);
  clients.push(client);
  return client;
}

async function identify(url: string, token: string): Promise<{ client: GatewayClient; sessionId: string }> {
  const client = await connect(url);
  client.identify(token, INTENTS);
  const [ready] = await client.waitForDispatch('READY', 1, 15_000);
  await client.waitForDispatch('GUILD_CREATE', 1, 15_000);
  return { client, sessionId: ready!.d.session_id as string };
}

async function postOk(url: string, token: string, channelId: string, content: string): Promise<void> {
  const res = await fetch(`${url}/api/v10/channels/${channelId}/messages`, {
    method: 'POST',
    headers: { authorization: `Bot ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ content }),
  });
  expect(res.status, await res.text()).toBe(200);
}

const lastSeq = (received: Payload[]) => received.reduce((s, p) => (p.s ?? s), 0);

describe('RESUME on another node', () => {
  it('takes the session over while its old socket is open: the missed dispatches, RESUMED, then live ones, seqs contiguous', { timeout: 60_000 }, async () => {
    const [a, b, c] = nodes;
    const poster = await world.user('poster-1');
    const listener = await world.user('listener-1');
    const guild = await world.guild(poster.id, [listener.id]);
    const { client: first, sessionId } = await identify(a!.url, listener.token);
    await postOk(c!.url, poster.token, guild.channelId, 'before');
    await first.waitFor((r) => r.find((p) => p.t === 'MESSAGE_CREATE'), 10_000);
    // The client resumes from an older seq than it has: the rest is replayed.
    const seq = lastSeq(first.received) - 1;

    const second = await connect(b!.url);
    second.send(6, { token: listener.token, session_id: sessionId, seq });
    const [resumed] = await second.waitForDispatch('RESUMED', 1, 15_000);
    expect(await first.waitForClose(10_000)).toBe(4000);
    const replayed = second.received.filter((p) => p.op === 0 && p.s! <= resumed!.s!);
    expect(replayed.map((p) => p.s)).toEqual([seq + 1, resumed!.s]);
    expect(replayed[0]!.t).toBe('MESSAGE_CREATE');

    for (const content of ['after-1', 'after-2', 'after-3']) await postOk(a!.url, poster.token, guild.channelId, content);
    const live = await second.waitFor((r) => {
      const m = r.filter((p) => p.t === 'MESSAGE_CREATE' && p.s! > resumed!.s!);
      return m.length >= 3 ? m : undefined;
    }, 15_000).catch((err: unknown) => {
      throw new Error(`${String(err)}\n${JSON.stringify(second.received.map((p) => [p.op, p.t, p.s, p.t === 'GUILD_CREATE' ? p.d.id : p.d]))}`);
    });
    expect(live.map((p) => p.d.content)).toEqual(['after-1', 'after-2', 'after-3']);
    const seen = JSON.stringify(second.received.map((p) => [p.op, p.t, p.s, p.t === 'GUILD_CREATE' ? p.d.id : p.d]));
    expect(live.map((p) => p.s), seen).toEqual([resumed!.s! + 1, resumed!.s! + 2, resumed!.s! + 3]);
  });

  it('kill -9: its sessions cannot be resumed (INVALID_SESSION, d false; IDENTIFY works), and a session elsewhere sees its guild unavailable, then back', { timeout: 90_000 }, async () => {
    const [, b, c] = nodes;
    const listener = await world.user('listener-2');
    const owner = await world.user('owner-2');
    // A guild whose home is the node about to die, for a session on another node.
    let guild = await world.guild(owner.id, [listener.id]);
    while (rendezvousHome(guild.id, ['n1', 'n2', 'n3']) !== 'n3') guild = await world.guild(owner.id, [listener.id]);
    const { sessionId } = await identify(c!.url, listener.token);
    const watcher = await connect(b!.url);
    watcher.identify(owner.token, INTENTS);
    await watcher.waitFor((r) => r.find((p) => p.t === 'GUILD_CREATE' && p.d.id === guild.id), 15_000);
    await c!.kill();

    const client = await connect(b!.url);
    client.send(6, { token: listener.token, session_id: sessionId, seq: 1 });
    const [invalid] = await client.waitFor((r) => {
      const p = r.filter((x) => x.op === 9);
      return p.length > 0 ? p : undefined;
    }, 20_000);
    expect(invalid!.d).toBe(false);
    client.identify(listener.token, INTENTS);
    await client.waitForDispatch('READY', 1, 15_000);

    // Discord's outage shape: GUILD_DELETE unavailable, then GUILD_CREATE once the guild runs at its new home.
    const deleted = await watcher.waitFor((r) => r.find((p) => p.t === 'GUILD_DELETE' && p.d.id === guild.id), 20_000);
    expect(deleted.d.unavailable).toBe(true);
    await watcher.waitFor((r) => r.find((p) => p.t === 'GUILD_CREATE' && p.d.id === guild.id && p.s! > deleted.s!), 30_000);
    await postOk(b!.url, owner.token, guild.channelId, 'back');
    await watcher.waitFor((r) => r.find((p) => p.t === 'MESSAGE_CREATE' && p.d.content === 'back'), 15_000);
  });
});
