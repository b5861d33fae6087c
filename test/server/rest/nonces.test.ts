// Nonces on Create Message: echoed in the response and in MESSAGE_CREATE, and
// with enforce_nonce a retry returns the message already created (the guild
// keeps the memory: server/guild/recent-nonces.ts, tested on its own beside it).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GatewayClient } from '../../support/gateway-client.js';
import { type TestServer, type TestUser, startTestServer } from '../../support/server.js';

describe('nonces through REST and the gateway', () => {
  let t: TestServer;
  let alice: TestUser;
  let channelId: string;
  let gw: GatewayClient;
  beforeAll(async () => {
    t = await startTestServer();
    alice = await t.user('alice');
    channelId = (await t.guild(alice.id, [alice.id])).channelId;
    gw = await GatewayClient.connect(t.url);
    gw.identify(alice.token);
    await gw.waitForDispatch('GUILD_CREATE');
  });
  afterAll(async () => {
    gw.ws.close();
    await t.close();
  });

  const post = (body: Record<string, unknown>) => t.api(`/channels/${channelId}/messages`, { method: 'POST', token: alice.token, body: { content: 'hi', ...body } });

  it('echoes a string or integer nonce in the response and in MESSAGE_CREATE', async () => {
    const s = await post({ nonce: 'abc-123' });
    const n = await post({ nonce: 4242 });
    expect(s.body.nonce).toBe('abc-123');
    expect(n.body.nonce).toBe(4242);
    const events = await gw.waitFor((r) => {
      const got = r.filter((p) => p.t === 'MESSAGE_CREATE' && (p.d.id === s.body.id || p.d.id === n.body.id));
      return got.length === 2 && got;
    });
    expect(events.map((e) => e.d.nonce)).toEqual(['abc-123', 4242]);
  });

  it('refuses a nonce over 25 characters, or of another type (50035)', async () => {
    for (const nonce of ['x'.repeat(26), 1.5, { a: 1 }, 2 ** 60]) {
      expect((await post({ nonce })).body.code, JSON.stringify(nonce)).toBe(50035);
    }
  });

  it('with enforce_nonce, returns the first message for a repeat (sequential and concurrent) and dispatches it once', async () => {
    const before = gw.dispatches('MESSAGE_CREATE').length;
    const first = await post({ nonce: 'retry-me', enforce_nonce: true, content: 'once' });
    const again = await post({ nonce: 'retry-me', enforce_nonce: true, content: 'twice?' });
    expect(first.status).toBe(200);
    expect(again.body).toEqual(first.body);
    const burst = await Promise.all(Array.from({ length: 5 }, () => post({ nonce: 'burst', enforce_nonce: true })));
    expect(new Set(burst.map((r) => r.body.id)).size).toBe(1);
    // Without enforce_nonce, the same nonce makes a new message, as on Discord.
    const loose = await post({ nonce: 'retry-me' });
    expect(loose.body.id).not.toBe(first.body.id);

    const list = await t.api(`/channels/${channelId}/messages?limit=100`, { token: alice.token });
    expect(list.body.filter((m: { content: string }) => m.content === 'once' || m.content === 'twice?')).toHaveLength(1);
    await gw.waitFor((r) => r.filter((p) => p.t === 'MESSAGE_CREATE').length >= before + 3);
    await new Promise((r) => setTimeout(r, 100));
    expect(gw.dispatches('MESSAGE_CREATE').length).toBe(before + 3);
  });
});
