// The guild actor's side of a cluster handover (server/cluster/guild-handover.ts
// drives it): calls queued before the `handover` call are handled (their
// writes committed, replied to and broadcast); the handover answers only then,
// with the subscribers and presences; calls after it are refused GUILD_MOVING,
// having written nothing. On one node, with the real store and actor.
import { afterEach, describe, expect, it } from 'vitest';
import { guildStartOf } from '../../../server/cluster/guild-handoff.js';
import { guildBehaviour } from '../../../server/guild/guild-actor.js';
import { type GuildHandoff, type GuildProtocol, type GuildReply, guildKey } from '../../../server/guild/guild-protocol.js';
import { until } from '../../support/until.js';
import { GatewayClient } from '../../support/gateway-client.js';
import { type TestServer, startTestServer } from '../../support/server.js';

const servers: TestServer[] = [];
const clients: GatewayClient[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  for (const s of servers.splice(0)) await s.close();
});

describe('guild handover', () => {
  it('handles what was queued before it, answers after those commits with the handoff, and refuses what comes after', async () => {
    const t = await startTestServer();
    servers.push(t);
    const alice = await t.user('alice');
    const g = await t.guild(alice.id, []);
    const session = await GatewayClient.connect(t.url);
    clients.push(session);
    session.identify(alice.token);
    await session.waitForDispatch('GUILD_CREATE');

    const ref = t.server.ctx.guild(g.id);
    const post = (content: string) => ref.call({ type: 'create_message', channelId: g.channelId, authorId: alice.id, content }) as Promise<GuildReply>;
    // All in the mailbox at once: three before the handover, two after.
    const before = ['b1', 'b2', 'b3'].map(post);
    const order: string[] = [];
    const handover = (ref.call({ type: 'handover' }) as Promise<GuildReply>).then((r) => {
      order.push('handover');
      return r;
    });
    for (const p of before) void p.then(() => order.push('write'));
    const after = ['a1', 'a2'].map(post);

    for (const r of await Promise.all(before)) expect(r.ok).toBe(true);
    const h = await handover;
    expect(h.ok).toBe(true);
    // The handover answered after every write queued before it.
    expect(order).toEqual(['write', 'write', 'write', 'handover']);
    const handoff = (h as { ok: true; value: GuildHandoff }).value;
    expect(handoff.subscribers).toHaveLength(1);
    expect(handoff.subscribers[0]).toMatchObject({ userId: alice.id, session: [t.server.ctx.system.node, expect.any(String), 'session'] });
    expect(handoff.presences.map(([userId]) => userId)).toEqual([alice.id]);
    // JSON-safe: it goes into a KV entry.
    expect(JSON.parse(JSON.stringify(handoff))).toEqual(handoff);

    for (const r of await Promise.all(after)) expect(r).toEqual({ ok: false, error: 'GUILD_MOVING' });
    // Later calls too, while it waits to be stopped.
    expect(await post('late')).toEqual({ ok: false, error: 'GUILD_MOVING' });

    // Written and broadcast: exactly the three before.
    const history = await t.api(`/channels/${g.channelId}/messages`, { token: alice.token });
    expect((history.body as { content: string }[]).map((m) => m.content).sort()).toEqual(['b1', 'b2', 'b3']);
    const created = await session.waitForDispatch('MESSAGE_CREATE', 3);
    expect(created.map((p) => p.d.content)).toEqual(['b1', 'b2', 'b3']);
    expect(t.server.ctx.system.whereis<GuildProtocol>(guildKey(g.id))).toBeDefined();
  });

  it('leaves its enforce_nonce posts to the database: a retry at the next home answers the first message', async () => {
    const t = await startTestServer();
    servers.push(t);
    const { system } = t.server.ctx;
    const alice = await t.user('alice');
    const g = await t.guild(alice.id, []);
    const ref = t.server.ctx.guild(g.id);
    const post = (target: typeof ref, content: string) => target.call({ type: 'create_message', channelId: g.channelId, authorId: alice.id, content, nonce: 'n-1', enforceNonce: true }) as Promise<GuildReply>;
    const first = await post(ref, 'once');
    expect(first.ok).toBe(true);
    const h = await (ref.call({ type: 'handover' }) as Promise<GuildReply>);
    const handoff = (h as { ok: true; value: GuildHandoff }).value;
    const id = (first as { ok: true; value: { id: string } }).value.id;
    expect(handoff).not.toHaveProperty('nonces');

    // The next home, from the handoff as it crosses (JSON): the old one is gone first.
    system.stop(ref);
    await until(() => system.whereis(guildKey(g.id)) === undefined, 'the old guild stopped');
    const start = guildStartOf(JSON.parse(JSON.stringify(handoff)) as GuildHandoff, (a) => system.refFor(a));
    const next = system.spawn(guildBehaviour(t.server.ctx, g.id, start), { key: guildKey(g.id) });
    const again = await post(next, 'twice?');
    expect(again).toEqual(first);
    expect((again as { ok: true; value: { id: string } }).value.id).toBe(id);
    const history = await t.api(`/channels/${g.channelId}/messages`, { token: alice.token });
    expect((history.body as { content: string }[]).map((m) => m.content)).toEqual(['once']);
  });
});
