// Session actor behaviour over real sockets: which guilds a sharded session
// takes on, whatever path adds the guild (Discord's sharding formula).
import { afterEach, describe, expect, it } from 'vitest';
import { GatewayIntentBits as I, shardOf } from '../../../server/gateway/protocol.js';
import { GatewayClient } from '../../support/gateway-client.js';
import { startTestServer, type TestServer } from '../../support/world.js';

const ALL = 0b1111111111111111 | I.MessageContent;
const servers: TestServer[] = [];
const clients: GatewayClient[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.ws.terminate();
  for (const s of servers.splice(0)) await s.close();
});

async function shardSession(t: TestServer, token: string, shard: [number, number]): Promise<GatewayClient> {
  const c = await GatewayClient.connect(t.url);
  clients.push(c);
  c.identify(token, ALL, { shard });
  await c.waitForDispatch('READY');
  return c;
}

/**
 * Everything the session's mailbox held before this point has been handled:
 * its own presence change goes through the session (behind any guild join it
 * was casting) to a guild and back. Needs the session to be in `guildId`.
 */
async function drained(c: GatewayClient, status: 'dnd' | 'idle'): Promise<void> {
  c.send(3, { since: null, activities: [], status, afk: false });
  await c.waitFor((r) => r.find((p) => p.t === 'PRESENCE_UPDATE' && p.d.status === status));
}

describe('session: sharding', () => {
  it('a guild created or joined while connected reaches only the shard it belongs to, and so do its events', async () => {
    const t = await startTestServer();
    const alice = await t.user('alice');
    const bob = await t.user('bob');
    // A guild on each shard to start with, so each session has a guild to echo its presence through.
    const start: Record<number, string> = {};
    while (start[0] === undefined || start[1] === undefined) {
      const g = await t.guild(alice.id, []);
      start[shardOf(g.id, 2)] ??= g.id;
    }
    const shards = [await shardSession(t, alice.token, [0, 2]), await shardSession(t, alice.token, [1, 2])];
    for (const [i, c] of shards.entries()) await c.waitFor((r) => r.find((p) => p.t === 'GUILD_CREATE' && p.d.id === start[i]));

    // Guilds she creates (POST /guilds) and guilds she is added to (bob's), until both shards have some of each.
    const created: string[] = [];
    const joined: string[] = [];
    const has = (ids: string[], shard: number) => ids.some((id) => shardOf(id, 2) === shard);
    while (!has(created, 0) || !has(created, 1)) {
      const res = await t.rest(alice.token, 'POST', '/guilds', { name: 'made' });
      expect(res.status).toBe(201);
      created.push(((await res.json()) as { id: string }).id);
    }
    while (!has(joined, 0) || !has(joined, 1)) {
      const g = await t.guild(bob.id, []);
      expect((await t.rest(bob.token, 'PUT', `/guilds/${g.id}/members/${alice.id}`)).status).toBe(201);
      joined.push(g.id);
    }
    for (const [shard, c] of shards.entries()) await drained(c, shard === 0 ? 'dnd' : 'idle');

    const all = (await t.server.ctx.store.listGuildsForUser(alice.id)).map((g) => g.id);
    expect(all).toEqual(expect.arrayContaining([...created, ...joined]));
    for (const [shard, c] of shards.entries()) {
      const got = c.dispatches('GUILD_CREATE').map((p) => p.d.id as string);
      expect(got.sort()).toEqual(all.filter((id) => shardOf(id, 2) === shard).sort());
    }

    // Later events of a joined guild: only its shard hears them.
    const target = joined.find((id) => shardOf(id, 2) === 1)!;
    const [general] = await t.server.ctx.store.listChannels(target);
    expect((await t.rest(alice.token, 'POST', `/channels/${general!.id}/messages`, { content: 'once' })).status).toBe(200);
    await shards[1]!.waitFor((r) => r.find((p) => p.t === 'MESSAGE_CREATE' && p.d.content === 'once'));
    await drained(shards[0]!, 'idle');
    expect(shards[0]!.dispatches('MESSAGE_CREATE')).toHaveLength(0);
    expect(shards[1]!.dispatches('MESSAGE_CREATE')).toHaveLength(1);
  });

  it('a guild created while the sessions are away is replayed on RESUME only to its shard', async () => {
    const t = await startTestServer();
    const alice = await t.user('alice');
    const away = [];
    for (const shard of [0, 1]) {
      const c = await shardSession(t, alice.token, [shard, 2]);
      const [ready] = c.dispatches('READY');
      c.close(4000); // resumable
      await c.waitForClose();
      away.push({ shard, sessionId: ready!.d.session_id as string, seq: ready!.s! });
    }
    const created: string[] = [];
    while (![0, 1].every((shard) => created.some((id) => shardOf(id, 2) === shard))) {
      const res = await t.rest(alice.token, 'POST', '/guilds', { name: 'made while away' });
      created.push(((await res.json()) as { id: string }).id);
    }
    for (const { shard, sessionId, seq } of away) {
      const c = await GatewayClient.connect(t.url);
      clients.push(c);
      c.send(6, { token: alice.token, session_id: sessionId, seq });
      // RESUMED comes after everything replayed.
      await c.waitForDispatch('RESUMED');
      const replayed = c.dispatches('GUILD_CREATE').map((p) => p.d.id as string);
      expect(replayed.sort()).toEqual(created.filter((id) => shardOf(id, 2) === shard).sort());
    }
  });
});
