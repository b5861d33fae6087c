// A new message is encoded to JSON once (server/json-text.ts): the REST answer and MESSAGE_CREATE are written from
// the same text, and carry what they carried when each was serialised on its own.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { GatewayIntentBits as I } from '../../../server/gateway/protocol.js';
import { GatewayClient } from '../../support/gateway-client.js';
import { type TestGuild, type TestServer, type TestUser, startTestServer } from '../../support/server.js';

const ALL = 0b1111111111111111 | I.MessageContent;
let t: TestServer;
let alice: TestUser;
let g: TestGuild;
const clients: GatewayClient[] = [];

async function session(token: string, intents: number): Promise<GatewayClient> {
  const c = await GatewayClient.connect(t.url);
  clients.push(c);
  c.identify(token, intents);
  await c.waitForDispatch('READY');
  await c.waitForDispatch('GUILD_CREATE');
  return c;
}

beforeAll(async () => {
  t = await startTestServer();
  alice = await t.user('alice');
  g = await t.guild(alice.id, []);
});
afterAll(async () => {
  for (const c of clients) c.ws.terminate();
  await t.close();
});

describe('a new message, encoded once', () => {
  it('serialises the message once for the REST answer and MESSAGE_CREATE, with the same fields as before', async () => {
    const everything = await session(alice.token, ALL);
    const noContent = await session(alice.token, I.Guilds | I.GuildMessages);
    const probe = 'encoded-once-probe';
    const stringify = vi.spyOn(JSON, 'stringify');
    let res: Response;
    let calls: unknown[][];
    try {
      res = await t.rest(alice.token, 'POST', `/channels/${g.channelId}/messages`, { content: probe });
    } finally {
      // Restoring clears the record: kept first.
      calls = [...stringify.mock.calls];
      stringify.mockRestore();
    }
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json; charset=utf-8');
    const text = await res.text();
    const message = JSON.parse(text) as Record<string, unknown>;
    // The bytes JSON.stringify writes for the object it parses to.
    expect(text).toBe(JSON.stringify(message));
    // Once with the message's content: the text both answers are written from (the request body has no id).
    const messages = calls.filter(([v]) => typeof v === 'object' && v !== null && (v as { content?: unknown }).content === probe && 'id' in v);
    expect(messages).toHaveLength(1);

    const [full] = await everything.waitForDispatch('MESSAGE_CREATE');
    const member = { nick: null, avatar: null, banner: null, roles: [], joined_at: expect.any(String), deaf: false, mute: false, flags: 0 };
    // As `{ ...message, guild_id, member, mentions: [] }` was: the message's keys in order, then the two added.
    expect(Object.keys(full!.d)).toEqual([...Object.keys(message), 'guild_id', 'member']);
    expect(full!.d).toEqual({ ...message, guild_id: g.id, member });
    const [stripped] = await noContent.waitForDispatch('MESSAGE_CREATE');
    expect(Object.keys(stripped!.d)).toEqual([...Object.keys(message), 'guild_id', 'member']);
    expect(stripped!.d).toEqual({ ...message, content: '', guild_id: g.id, member });
  });

  it('echoes a nonce in the answer and in MESSAGE_CREATE after the message fields', async () => {
    const c = await session(alice.token, ALL);
    const res = await t.api(`/channels/${g.channelId}/messages`, { method: 'POST', token: alice.token, body: { content: 'with nonce', nonce: 'n-7' } });
    expect(res.status).toBe(200);
    expect(res.body.nonce).toBe('n-7');
    const event = (await c.waitFor((r) => r.find((p) => p.t === 'MESSAGE_CREATE' && p.d.content === 'with nonce')))!;
    const { nonce: _nonce, ...message } = res.body as Record<string, unknown>;
    expect(Object.keys(event.d)).toEqual([...Object.keys(message), 'nonce', 'guild_id', 'member']);
    expect(event.d).toMatchObject({ ...message, nonce: 'n-7', guild_id: g.id });
  });
});
