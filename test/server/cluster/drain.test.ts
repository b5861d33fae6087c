// Drain with RESUME on another node, three real nodes (server/main.ts) on
// loopback, real NATS, a PostgreSQL test database: a listener's node gets
// SIGTERM while messages keep being posted; the client follows op 7, RESUMEs
// on another node and has seen every message once, in order, with contiguous
// seqs; the drained node exits 0.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uniquePrefix } from '../../support/cluster.js';
import { type ClusterNode, openWorld, startClusterNode, untilPlaceable } from '../../support/cluster-servers.js';
import { GatewayClient, type Payload } from '../../support/gateway-client.js';
import { createTestDatabase, type TestDatabase } from '../../support/postgres.js';

const INTENTS = (1 << 0) | (1 << 9) | (1 << 15); // GUILDS, GUILD_MESSAGES, MESSAGE_CONTENT

let db: TestDatabase;
let world: Awaited<ReturnType<typeof openWorld>>;
const servers: ClusterNode[] = [];
const clients: GatewayClient[] = [];

beforeAll(async () => {
  db = await createTestDatabase();
  world = await openWorld(db.url); // migrates before any node opens it
});

afterAll(async () => {
  for (const c of clients) c.ws.terminate();
  await Promise.all(servers.map((n) => n.kill()));
  await world?.close();
  await db?.drop();
});

async function startNodes(cluster: string, n: number, env: Record<string, string> = {}): Promise<ClusterNode[]> {
  const started = await Promise.all(Array.from({ length: n }, (_, i) => startClusterNode({ id: `n${i + 1}`, cluster, databaseUrl: db.url, env, entry: 'main' })));
  servers.push(...started);
  await untilPlaceable(started, n);
  return started;
}

async function identify(url: string, token: string): Promise<{ client: GatewayClient; sessionId: string }> {
  const client = await GatewayClient.connect(url);
  clients.push(client);
  client.identify(token, INTENTS);
  const [ready] = await client.waitForDispatch('READY', 1, 15_000);
  await client.waitForDispatch('GUILD_CREATE', 1, 15_000);
  return { client, sessionId: ready!.d.session_id as string };
}

/** Posts `count` messages one after another (each acknowledged before the next), across the given nodes. */
async function post(urls: string[], token: string, channelId: string, count: number, acked: string[], from = 0): Promise<void> {
  for (let i = from; i < from + count; i++) {
    const content = `m${i}`;
    for (let attempt = 0; ; attempt++) {
      const res = await fetch(`${urls[i % urls.length]}/api/v10/channels/${channelId}/messages`, {
        method: 'POST',
        headers: { authorization: `Bot ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ content }),
      });
      if (res.status === 200) break;
      // 503 while the guild moves: nothing was written, try again (bounded).
      expect(res.status, await res.text()).toBe(503);
      expect(attempt).toBeLessThan(50);
      await new Promise((r) => setTimeout(r, 100));
    }
    acked.push(content);
  }
}

const lastSeq = (received: Payload[]) => received.reduce((s, p) => (p.s ?? s), 0);

describe('drain', () => {
  it('SIGTERM twice in a row (a rolling restart): the client RESUMEs on another node each time and misses nothing, twice over nothing, in order; drained nodes exit 0', { timeout: 150_000 }, async () => {
    const [a, b, c] = await startNodes(uniquePrefix('drain'), 3, { GUILDHALL_DRAIN_TIMEOUT_MS: '15000' });
    const poster = await world.user('poster');
    const listener = await world.user('listener');
    const guild = await world.guild(poster.id, [listener.id]);

    const { client: first, sessionId } = await identify(a!.url, listener.token);
    const acked: string[] = [];
    await post([b!.url, c!.url], poster.token, guild.channelId, 20, acked);
    await first.waitFor((r) => r.filter((p) => p.t === 'MESSAGE_CREATE').length >= 20, 15_000);

    /** SIGTERM `node` while messages keep coming; the client follows op 7 and RESUMEs on `to`. */
    async function drainAndResume(node: ClusterNode, from: GatewayClient, to: ClusterNode, postTo: string[], count: number): Promise<GatewayClient> {
      const posting = post(postTo, poster.token, guild.channelId, count, acked, acked.length);
      const stopped = node.stop();
      await from.waitFor((r) => r.some((p) => p.op === 7), 15_000).catch(() => undefined);
      expect(from.received.some((p) => p.op === 7), node.output()).toBe(true);
      expect(await from.waitForClose(15_000)).toBe(4000);
      const next = await GatewayClient.connect(to.url);
      clients.push(next);
      // The seq the client last saw, over every connection so far (a resumed connection starts after it).
      next.send(6, { token: listener.token, session_id: sessionId, seq: lastSeq(seenSoFar()) });
      await next.waitForDispatch('RESUMED', 1, 15_000);
      await posting;
      expect(await stopped, node.output()).toBe(0);
      return next;
    }
    const connections = [first];
    const seenSoFar = () => connections.flatMap((c) => c.received);

    // a drains: the session moves to b. Then b drains: the session id still names a, which is gone,
    // so c finds it by asking the other live nodes.
    connections.push(await drainAndResume(a!, first, b!, [b!.url, c!.url], 40));
    connections.push(await drainAndResume(b!, connections[1]!, c!, [c!.url], 30));
    await post([c!.url], poster.token, guild.channelId, 10, acked, acked.length);
    await connections[2]!.waitFor(() => seenSoFar().filter((p) => p.t === 'MESSAGE_CREATE').length >= acked.length, 20_000);

    const seen = seenSoFar().filter((p) => p.op === 0);
    // Contiguous seqs over every connection, as the client sees them.
    seen.forEach((p, i) => expect(p.s).toBe(i + 1));
    const messages = seen.filter((p) => p.t === 'MESSAGE_CREATE').map((p) => p.d.content as string);
    expect(messages).toEqual(acked);
  });
});
