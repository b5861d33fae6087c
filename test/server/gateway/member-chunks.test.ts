// REQUEST_GUILD_MEMBERS (op 8) over real sockets: GUILD_MEMBERS_CHUNK answers,
// Discord's privileged-intent rules, chunking, and bad payloads.
// https://discord.com/developers/docs/events/gateway-events#request-guild-members
import { afterEach, describe, expect, it } from 'vitest';
import { GatewayCloseCode } from '../../../server/errors.js';
import { MEMBERS_PER_CHUNK } from '../../../server/gateway/member-chunks.js';
import { GatewayIntentBits as I } from '../../../server/gateway/protocol.js';
import { GatewayClient, type Payload } from '../../support/gateway-client.js';
import { startTestServer, type TestServer } from '../../support/world.js';

const ALL = 0b1111111111111111 | I.MessageContent;
const servers: TestServer[] = [];
const clients: GatewayClient[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.ws.terminate();
  for (const s of servers.splice(0)) await s.close();
});

async function start() {
  const t = await startTestServer();
  servers.push(t);
  return t;
}

async function session(t: TestServer, token: string, intents = ALL): Promise<GatewayClient> {
  const c = await GatewayClient.connect(t.url);
  clients.push(c);
  c.identify(token, intents);
  await c.waitForDispatch('READY');
  await c.waitForDispatch('GUILD_CREATE');
  return c;
}

/** Sends op 8 and waits for every chunk of the answer with this nonce. */
async function request(c: GatewayClient, d: Record<string, unknown>): Promise<Payload[]> {
  const nonce = d.nonce as string;
  c.send(8, d);
  return c.waitFor((r) => {
    const chunks = r.filter((p) => p.t === 'GUILD_MEMBERS_CHUNK' && p.d.nonce === nonce);
    return chunks.length > 0 && chunks.length === chunks[0]!.d.chunk_count ? chunks : undefined;
  });
}

const ids = (chunk: Payload) => (chunk.d.members as { user: { id: string } }[]).map((m) => m.user.id);
const names = (chunk: Payload) => (chunk.d.members as { user: { username: string } }[]).map((m) => m.user.username).sort();

describe('REQUEST_GUILD_MEMBERS', () => {
  it('a username prefix (any case) with a limit, user ids with not_found, the nonce echoed', async () => {
    const t = await start();
    const owner = await t.user('owner');
    const users = [];
    for (const name of ['Alice', 'alina', 'ALBERT', 'bob', 'carol']) users.push(await t.user(name));
    const g = await t.guild(owner.id, users.map((u) => u.id));
    const outsider = await t.user('alfred');
    const c = await session(t, owner.token);

    const [byPrefix] = await request(c, { guild_id: g.id, query: 'aL', limit: 0, nonce: 'p1' });
    expect(byPrefix!.d).toMatchObject({ guild_id: g.id, chunk_index: 0, chunk_count: 1, nonce: 'p1' });
    expect(names(byPrefix!)).toEqual(['ALBERT', 'Alice', 'alina']);
    expect(byPrefix!.d.not_found).toBeUndefined();
    expect(byPrefix!.d.presences).toBeUndefined();

    const [limited] = await request(c, { guild_id: g.id, query: 'al', limit: 2, nonce: 'p2' });
    expect(limited!.d.members).toHaveLength(2);

    const [none] = await request(c, { guild_id: g.id, query: 'zz', limit: 10, nonce: 'p3' });
    expect(none!.d).toMatchObject({ members: [], chunk_index: 0, chunk_count: 1 });

    const [byId] = await request(c, { guild_id: g.id, user_ids: [users[3]!.id, outsider.id, '123456789012345678'], nonce: 'i1' });
    expect(ids(byId!)).toEqual([users[3]!.id]);
    expect(byId!.d.not_found.sort()).toEqual([outsider.id, '123456789012345678'].sort());

    const [single] = await request(c, { guild_id: g.id, user_ids: users[4]!.id, nonce: 'i2' });
    expect(names(single!)).toEqual(['carol']);
    expect(single!.d.not_found).toEqual([]);
  });

  it('the whole list comes in chunks of at most 1000, in seq order', async () => {
    const t = await start();
    const owner = await t.user('owner');
    const members = [];
    for (let i = 0; i < 2 * MEMBERS_PER_CHUNK + 500; i++) members.push((await t.user(`m${i}`)).id);
    const g = await t.guild(owner.id, members);
    const c = await session(t, owner.token);
    const chunks = await request(c, { guild_id: g.id, query: '', limit: 0, nonce: 'all' });
    expect(chunks.map((p) => p.d.chunk_index)).toEqual([0, 1, 2]);
    expect(chunks.every((p) => p.d.chunk_count === 3 && p.d.nonce === 'all')).toBe(true);
    expect(chunks.map((p) => p.d.members.length)).toEqual([1000, 1000, 501]);
    const got = chunks.flatMap(ids);
    expect(new Set(got).size).toBe(got.length);
    expect(got.sort()).toEqual([owner.id, ...members].sort());
    const seqs = chunks.map((p) => p.s!);
    expect(seqs).toEqual([seqs[0]!, seqs[0]! + 1, seqs[0]! + 2]);
  });

  it('privileged intents: no GUILD_MEMBERS, no whole list (no answer, as Discord); no GUILD_PRESENCES, no presences', async () => {
    const t = await start();
    const owner = await t.user('owner');
    const bob = await t.user('bob');
    const g = await t.guild(owner.id, [bob.id]);
    await session(t, bob.token); // bob online
    const full = await session(t, owner.token, ALL);
    const [withPresences] = await request(full, { guild_id: g.id, user_ids: [bob.id, owner.id], presences: true, nonce: 'p' });
    expect((withPresences!.d.presences as { user: { id: string }; status: string }[]).map((p) => p.user.id).sort()).toEqual([bob.id, owner.id].sort());

    const plain = await session(t, owner.token, I.Guilds | I.GuildMessages);
    plain.send(8, { guild_id: g.id, query: '', limit: 0, nonce: 'everyone' });
    const [withoutIntent] = await request(plain, { guild_id: g.id, user_ids: [bob.id], presences: true, nonce: 'after' });
    // Answers leave in request order: the refused one would have come first.
    expect(plain.dispatches('GUILD_MEMBERS_CHUNK').map((p) => p.d.nonce)).toEqual(['after']);
    expect(withoutIntent!.d.presences).toEqual([]);
    // A prefix (even an empty one with a limit) is not the whole list: allowed.
    const [someone] = await request(plain, { guild_id: g.id, query: '', limit: 1, nonce: 'one' });
    expect(someone!.d.members).toHaveLength(1);
  });

  it('no answer for a guild the session is not in; an over-long nonce is dropped', async () => {
    const t = await start();
    const owner = await t.user('owner');
    const stranger = await t.user('stranger');
    const g = await t.guild(owner.id, []);
    await t.guild(stranger.id, []);
    const c = await session(t, stranger.token);
    c.send(8, { guild_id: g.id, query: '', limit: 0, nonce: 'theirs' });
    const mine = await session(t, owner.token);
    mine.send(8, { guild_id: g.id, user_ids: [owner.id], nonce: 'x'.repeat(33) });
    const [chunk] = await mine.waitForDispatch('GUILD_MEMBERS_CHUNK');
    expect(chunk!.d.nonce).toBeUndefined();
    const sentinel = (await c.waitFor((r) => r.find((p) => p.t === 'GUILD_CREATE')))!.d.id as string;
    await request(c, { guild_id: sentinel, user_ids: [stranger.id], nonce: 'own' });
    expect(c.dispatches('GUILD_MEMBERS_CHUNK').map((p) => p.d.nonce)).toEqual(['own']);
  });

  it('bad payloads close 4002; before IDENTIFY 4003', async () => {
    const t = await start();
    const owner = await t.user('owner');
    const g = await t.guild(owner.id, []);
    const bad: unknown[] = [
      { guild_id: g.id },
      { guild_id: g.id, query: 'a', user_ids: [owner.id] },
      { guild_id: 'nope', query: '' },
      { guild_id: g.id, query: '', limit: 101 },
      { guild_id: g.id, query: '', limit: -1 },
      { guild_id: g.id, user_ids: Array.from({ length: 101 }, () => owner.id) },
      { guild_id: g.id, query: 5 },
      { guild_id: g.id, query: '', presences: 'yes' },
      null,
    ];
    for (const d of bad) {
      const c = await session(t, owner.token);
      c.send(8, d);
      expect(await c.waitForClose()).toBe(GatewayCloseCode.DECODE_ERROR);
    }
    const early = await GatewayClient.connect(t.url);
    clients.push(early);
    early.send(8, { guild_id: g.id, query: '', limit: 0 });
    expect(await early.waitForClose()).toBe(GatewayCloseCode.NOT_AUTHENTICATED);
  });
});
