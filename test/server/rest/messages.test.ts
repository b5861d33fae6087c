// Messages, reactions and typing over REST.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestGuild, type TestServer, type TestUser, startTestServer } from '../../support/server.js';

let t: TestServer;
let owner: TestUser;
let bob: TestUser;
let carol: TestUser;
let mallory: TestUser;
let g: TestGuild;
beforeAll(async () => {
  t = await startTestServer();
  [owner, bob, carol, mallory] = [await t.user('owner'), await t.user('bob'), await t.user('carol'), await t.user('mallory')];
  g = await t.guild(owner.id, [bob.id, carol.id]);
});
afterAll(() => t.close());

const post = (token: string, content: unknown, extra: object = {}) =>
  t.api(`/channels/${g.channelId}/messages`, { method: 'POST', token, body: { content, ...extra } });

describe('creating messages', () => {
  it('posts a message: 200 with Discord shape, nonce echoed', async () => {
    const res = await post(bob.token, 'hello', { nonce: 'n-1' });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ channel_id: g.channelId, content: 'hello', author: { id: bob.id }, nonce: 'n-1', type: 0, edited_timestamp: null });
    const channel = await t.api(`/channels/${g.channelId}`, { token: bob.token });
    expect(channel.body.last_message_id).toBe(res.body.id);
  });

  it('answers a missing content with 50035 BASE_TYPE_REQUIRED, and a long one with BASE_TYPE_MAX_LENGTH', async () => {
    const missing = await t.api(`/channels/${g.channelId}/messages`, { method: 'POST', token: bob.token, body: {} });
    expect(missing.status).toBe(400);
    expect(missing.body.code).toBe(50035);
    expect(missing.body.errors.content._errors[0].code).toBe('BASE_TYPE_REQUIRED');
    const long = await post(bob.token, 'x'.repeat(2001));
    expect(long.body.errors.content._errors[0].code).toBe('BASE_TYPE_MAX_LENGTH');
    const wrongType = await post(bob.token, 42);
    expect(wrongType.body.errors.content._errors[0].code).toBe('BASE_TYPE_BAD_TYPE');
  });

  it('answers a non-member with 403 / 50001', async () => {
    const res = await post(mallory.token, 'let me in');
    expect(res.status).toBe(403);
    expect(res.body.code).toBe(50001);
  });

  it('answers an unknown channel with 404 / 10003', async () => {
    const res = await t.api('/channels/1234567890123456789/messages', { method: 'POST', token: bob.token, body: { content: 'x' } });
    expect(res.status).toBe(404);
    expect(res.body.code).toBe(10003);
  });
});

describe('reading messages', () => {
  it('lists newest first and pages with before, after and around', async () => {
    const { channelId } = await t.guild(owner.id, [bob.id]);
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      ids.push((await t.api(`/channels/${channelId}/messages`, { method: 'POST', token: bob.token, body: { content: `m${i}` } })).body.id);
    }
    const list = (q: string) => t.api(`/channels/${channelId}/messages${q}`, { token: owner.token }).then((r) => r.body.map((m: { id: string }) => m.id));
    expect(await list('')).toEqual([...ids].reverse());
    expect(await list('?limit=2')).toEqual([ids[4], ids[3]]);
    expect(await list(`?before=${ids[2]}`)).toEqual([ids[1], ids[0]]);
    expect(await list(`?after=${ids[2]}&limit=1`)).toEqual([ids[3]]);
    expect(await list(`?around=${ids[2]}&limit=3`)).toEqual([ids[3], ids[2], ids[1]]);
  });

  it('pages from after=0 and before=1 as Discord does (clients start there)', async () => {
    const { channelId } = await t.guild(owner.id, [bob.id]);
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      ids.push((await t.api(`/channels/${channelId}/messages`, { method: 'POST', token: bob.token, body: { content: `m${i}` } })).body.id);
    }
    const list = async (q: string) => {
      const res = await t.api(`/channels/${channelId}/messages${q}`, { token: owner.token });
      expect(res.status, q).toBe(200);
      return res.body.map((m: { id: string }) => m.id);
    };
    expect(await list('?after=0&limit=2')).toEqual([ids[1], ids[0]]);
    expect(await list('?after=000')).toEqual([...ids].reverse());
    expect(await list('?before=1')).toEqual([]);
    expect(await list('?around=0&limit=1')).toEqual([ids[0]]);
    // Still refused: not digits, or past 64 bits.
    for (const q of ['?after=-1', '?after=abc', '?before=18446744073709551616', '?after=']) {
      expect((await t.api(`/channels/${channelId}/messages${q}`, { token: owner.token })).body.code, q).toBe(50035);
    }
  });

  it('refuses before together with after (50035), and outsiders (50001)', async () => {
    const res = await t.api(`/channels/${g.channelId}/messages?before=1234567890123456789&after=1234567890123456789`, { token: bob.token });
    expect(res.body.code).toBe(50035);
    expect((await t.api(`/channels/${g.channelId}/messages`, { token: mallory.token })).body.code).toBe(50001);
  });

  it('gets one message; unknown is 404 / 10008', async () => {
    const { id } = (await post(bob.token, 'find me')).body;
    expect((await t.api(`/channels/${g.channelId}/messages/${id}`, { token: carol.token })).body.content).toBe('find me');
    const missing = await t.api(`/channels/${g.channelId}/messages/1234567890123456789`, { token: carol.token });
    expect(missing.status).toBe(404);
    expect(missing.body.code).toBe(10008);
  });
});

describe('editing and deleting', () => {
  it('lets the author edit; anyone else gets 403 / 50005', async () => {
    const { id } = (await post(bob.token, 'draft')).body;
    const edited = await t.api(`/channels/${g.channelId}/messages/${id}`, { method: 'PATCH', token: bob.token, body: { content: 'final' } });
    expect(edited.status).toBe(200);
    expect(edited.body.content).toBe('final');
    expect(edited.body.edited_timestamp).toEqual(expect.any(String));
    const other = await t.api(`/channels/${g.channelId}/messages/${id}`, { method: 'PATCH', token: carol.token, body: { content: 'hijack' } });
    expect(other.status).toBe(403);
    expect(other.body.code).toBe(50005);
    const invalid = await t.api(`/channels/${g.channelId}/messages/${id}`, { method: 'PATCH', token: bob.token, body: { content: '' } });
    expect(invalid.body.code).toBe(50035);
  });

  it('lets the author and the owner delete (204); another member gets 50013', async () => {
    const first = (await post(bob.token, 'mine')).body.id;
    const second = (await post(bob.token, 'moderated')).body.id;
    const refused = await t.api(`/channels/${g.channelId}/messages/${first}`, { method: 'DELETE', token: carol.token });
    expect(refused.status).toBe(403);
    expect(refused.body.code).toBe(50013);
    expect((await t.api(`/channels/${g.channelId}/messages/${first}`, { method: 'DELETE', token: bob.token })).status).toBe(204);
    expect((await t.api(`/channels/${g.channelId}/messages/${second}`, { method: 'DELETE', token: owner.token })).status).toBe(204);
    expect((await t.api(`/channels/${g.channelId}/messages/${first}`, { token: bob.token })).body.code).toBe(10008);
    expect((await t.api(`/channels/${g.channelId}/messages/${first}`, { method: 'DELETE', token: bob.token })).body.code).toBe(10008);
  });
});

describe('reactions and typing', () => {
  it('adds and removes own reactions (204, idempotent), seen as `me` by the reactor only', async () => {
    const { id } = (await post(bob.token, 'react to me')).body;
    const route = `/channels/${g.channelId}/messages/${id}/reactions/${encodeURIComponent('👍')}/@me`;
    expect((await t.api(route, { method: 'PUT', token: carol.token })).status).toBe(204);
    expect((await t.api(route, { method: 'PUT', token: carol.token })).status).toBe(204);
    const seenByCarol = (await t.api(`/channels/${g.channelId}/messages/${id}`, { token: carol.token })).body;
    expect(seenByCarol.reactions).toEqual([expect.objectContaining({ emoji: { id: null, name: '👍' }, count: 1, me: true })]);
    const seenByBob = (await t.api(`/channels/${g.channelId}/messages/${id}`, { token: bob.token })).body;
    expect(seenByBob.reactions[0].me).toBe(false);
    expect((await t.api(route, { method: 'DELETE', token: carol.token })).status).toBe(204);
    expect((await t.api(`/channels/${g.channelId}/messages/${id}`, { token: carol.token })).body.reactions).toBeUndefined();
  });

  it('answers a bad or custom emoji with 400 / 10014, and an unknown message with 10008', async () => {
    const { id } = (await post(bob.token, 'x')).body;
    for (const emoji of ['notanemoji', 'party:123456789012345678']) {
      const res = await t.api(`/channels/${g.channelId}/messages/${id}/reactions/${emoji}/@me`, { method: 'PUT', token: carol.token });
      expect(res.status).toBe(400);
      expect(res.body.code).toBe(10014);
    }
    const res = await t.api(`/channels/${g.channelId}/messages/1234567890123456789/reactions/${encodeURIComponent('🔥')}/@me`, { method: 'PUT', token: carol.token });
    expect(res.body.code).toBe(10008);
  });

  it('triggers typing: 204 for members, 50001 for outsiders', async () => {
    expect((await t.api(`/channels/${g.channelId}/typing`, { method: 'POST', token: bob.token })).status).toBe(204);
    expect((await t.api(`/channels/${g.channelId}/typing`, { method: 'POST', token: mallory.token })).body.code).toBe(50001);
  });

  it('GET /channels/{id}: members 200, outsiders 50001, unknown 10003', async () => {
    expect((await t.api(`/channels/${g.channelId}`, { token: bob.token })).body).toMatchObject({ id: g.channelId, guild_id: g.id, name: 'general' });
    expect((await t.api(`/channels/${g.channelId}`, { token: mallory.token })).body.code).toBe(50001);
    expect((await t.api('/channels/1234567890123456789', { token: bob.token })).body.code).toBe(10003);
  });
});
