// Compatibility checked by clients we did not write: discord.js's own gateway
// (@discordjs/ws) and REST (@discordjs/rest) libraries against a real server.
import { REST } from '@discordjs/rest';
import { WebSocketManager, WebSocketShardEvents } from '@discordjs/ws';
import { type GatewayDispatchPayload, GatewayDispatchEvents, GatewayIntentBits, Routes, type APIMessage } from 'discord-api-types/v10';
import { afterEach, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../../support/world.js';

const cleanups: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function waitFor<T>(events: T[], predicate: (e: T) => boolean, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const poll = () => {
      const found = events.find(predicate);
      if (found) return resolve(found);
      if (Date.now() > deadline) return reject(new Error('timed out'));
      setTimeout(poll, 10);
    };
    poll();
  });
}

describe('@discordjs/ws and @discordjs/rest', () => {
  it('connect, identify, READY, GUILD_CREATE, post a message, MESSAGE_CREATE, and resume after RECONNECT', async () => {
    const t: TestServer = await startTestServer();
    cleanups.push(() => t.close());
    const bot = await t.user('compat-bot');
    const other = await t.user('someone');
    const g = await t.guild(other.id, [bot.id], 'Compat Guild');

    const rest = new REST({ version: '10', api: `${t.url}/api` }).setToken(bot.token);
    const manager = new WebSocketManager({
      token: bot.token,
      intents: GatewayIntentBits.Guilds | GatewayIntentBits.GuildMessages | GatewayIntentBits.MessageContent,
      rest,
    });
    cleanups.push(() => manager.destroy());
    const events: GatewayDispatchPayload[] = [];
    let resumed = 0;
    manager.on(WebSocketShardEvents.Dispatch, (payload) => events.push(payload));
    manager.on(WebSocketShardEvents.Resumed, () => resumed++);
    await manager.connect();

    const ready = await waitFor(events, (e) => e.t === GatewayDispatchEvents.Ready);
    expect(ready.t === GatewayDispatchEvents.Ready && ready.d.user.id).toBe(bot.id);
    const created = await waitFor(events, (e) => e.t === GatewayDispatchEvents.GuildCreate);
    expect(created.t === GatewayDispatchEvents.GuildCreate && created.d.name).toBe('Compat Guild');

    // REST through @discordjs/rest.
    const me = (await rest.get(Routes.user('@me'))) as { id: string };
    expect(me.id).toBe(bot.id);
    const posted = (await rest.post(Routes.channelMessages(g.channelId), { body: { content: 'hello from discord.js' } })) as APIMessage;
    expect(posted.content).toBe('hello from discord.js');
    const seen = await waitFor(events, (e) => e.t === GatewayDispatchEvents.MessageCreate && e.d.id === posted.id);
    expect(seen.t === GatewayDispatchEvents.MessageCreate && seen.d.content).toBe('hello from discord.js');

    // The server asks every client to reconnect; the library resumes its session.
    t.server.gateway.reconnectAll();
    await waitFor([true], () => resumed > 0);
    const after = (await rest.post(Routes.channelMessages(g.channelId), { body: { content: 'after resume' } })) as APIMessage;
    await waitFor(events, (e) => e.t === GatewayDispatchEvents.MessageCreate && e.d.id === after.id);
    // Exactly once each.
    expect(events.filter((e) => e.t === GatewayDispatchEvents.MessageCreate).map((e) => (e.d as APIMessage).content)).toEqual([
      'hello from discord.js',
      'after resume',
    ]);
  });
});
