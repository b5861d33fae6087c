// A guild actor with nobody connected stops after GUILDHALL_GUILD_IDLE_MS (its
// state is in the database), so memory does not grow with every guild ever
// used; the next request starts it again with everything in place.
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../actors/index.js';
import { guildKey } from '../../../server/guild/guild-protocol.js';
import { settle } from '../../support/actors.js';
import { GatewayClient } from '../../support/gateway-client.js';
import { type TestServer, startTestServer } from '../../support/server.js';

const IDLE_MS = 60_000;
const servers: TestServer[] = [];
const clients: GatewayClient[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  for (const s of servers.splice(0)) await s.close();
});

async function start(): Promise<{ t: TestServer; clock: ManualClock }> {
  const clock = new ManualClock(Date.now());
  const t = await startTestServer({ GUILDHALL_GUILD_IDLE_MS: String(IDLE_MS) }, { clock });
  servers.push(t);
  return { t, clock };
}

const running = (t: TestServer, guildId: string) => t.server.ctx.system.whereis(guildKey(guildId)) !== undefined;

describe('idle guilds', () => {
  it('stop when nobody is connected and nothing is in flight, and start again on the next request with their data', async () => {
    const { t, clock } = await start();
    const alice = await t.user('alice');
    const bob = await t.user('bob');
    const g = await t.guild(alice.id, [bob.id]);
    const first = await t.api(`/channels/${g.channelId}/messages`, { method: 'POST', token: alice.token, body: { content: 'before' } });
    expect(first.status).toBe(200);
    expect(running(t, g.id)).toBe(true);

    clock.advance(IDLE_MS - 1);
    await settle(t.server.ctx.system);
    expect(running(t, g.id)).toBe(true);
    // The check comes at IDLE_MS after the last message; a quiet minute later it has stopped.
    clock.advance(IDLE_MS + 1);
    await settle(t.server.ctx.system);
    expect(running(t, g.id)).toBe(false);

    // Started again from the database: members and channels are there, history too.
    const second = await t.api(`/channels/${g.channelId}/messages`, { method: 'POST', token: bob.token, body: { content: 'after' } });
    expect(second.status).toBe(200);
    expect(running(t, g.id)).toBe(true);
    const history = await t.api(`/channels/${g.channelId}/messages`, { token: alice.token });
    expect(history.body.map((m: { content: string }) => m.content)).toEqual(['after', 'before']);
  });

  it('keep running while a session is connected, and go once it leaves', async () => {
    const { t, clock } = await start();
    const alice = await t.user('alice');
    const g = await t.guild(alice.id, []);
    const gw = await GatewayClient.connect(t.url);
    clients.push(gw);
    gw.identify(alice.token);
    await gw.waitForDispatch('GUILD_CREATE');
    // Heartbeats keep the session; the guild sees no message at all meanwhile.
    for (let i = 0; i < 5; i++) {
      gw.send(1, null);
      clock.advance(IDLE_MS);
      await settle(t.server.ctx.system);
    }
    expect(running(t, g.id)).toBe(true);
    gw.close();
    await gw.waitForClose();
    await settle(t.server.ctx.system);
    clock.advance(2 * IDLE_MS + 1);
    await settle(t.server.ctx.system);
    // The session waits for a RESUME, then expires; the guild follows once nobody is subscribed.
    clock.advance(t.server.ctx.config.resumeTimeoutMs + 2 * IDLE_MS);
    await settle(t.server.ctx.system);
    clock.advance(2 * IDLE_MS);
    await settle(t.server.ctx.system);
    expect(running(t, g.id)).toBe(false);
  });
});
