// REQUEST_GUILD_MEMBERS as a client we did not write sends it: @discordjs/ws
// with discord-api-types' payload and chunk types, against a real server.
import { REST } from '@discordjs/rest';
import { WebSocketManager, WebSocketShardEvents } from '@discordjs/ws';
import { type GatewayDispatchPayload, GatewayDispatchEvents, GatewayIntentBits, GatewayOpcodes, type GatewayGuildMembersChunkDispatchData } from 'discord-api-types/v10';
import { afterEach, describe, expect, it } from 'vitest';
import { startTestServer } from '../../support/world.js';

const cleanups: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function waitFor<T>(events: T[], predicate: (e: T) => boolean, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = events.find(predicate);
    if (found) return found;
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('@discordjs/ws: REQUEST_GUILD_MEMBERS', () => {
  it('the whole member list with GUILD_MEMBERS, answered with GUILD_MEMBERS_CHUNK carrying the nonce', async () => {
    const t = await startTestServer();
    cleanups.push(() => t.close());
    const bot = await t.user('members-bot');
    const others = [await t.user('ann'), await t.user('ben')];
    const g = await t.guild(bot.id, others.map((u) => u.id), 'Members Guild');

    const rest = new REST({ version: '10', api: `${t.url}/api` }).setToken(bot.token);
    const manager = new WebSocketManager({ token: bot.token, intents: GatewayIntentBits.Guilds | GatewayIntentBits.GuildMembers, rest });
    cleanups.push(() => manager.destroy());
    const events: GatewayDispatchPayload[] = [];
    manager.on(WebSocketShardEvents.Dispatch, (payload) => events.push(payload));
    await manager.connect();
    await waitFor(events, (e) => e.t === GatewayDispatchEvents.GuildCreate);

    await manager.send(0, { op: GatewayOpcodes.RequestGuildMembers, d: { guild_id: g.id, query: '', limit: 0, nonce: 'djs-1' } });
    const chunk = await waitFor(events, (e) => e.t === GatewayDispatchEvents.GuildMembersChunk);
    const d = chunk.d as GatewayGuildMembersChunkDispatchData;
    expect(d).toMatchObject({ guild_id: g.id, chunk_index: 0, chunk_count: 1, nonce: 'djs-1' });
    expect(d.members.map((m) => m.user.id).sort()).toEqual([bot.id, ...others.map((u) => u.id)].sort());
  });
});
