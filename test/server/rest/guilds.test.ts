// Guilds and channels over REST.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestGuild, type TestServer, type TestUser, startTestServer } from '../../support/server.js';

let t: TestServer;
let alice: TestUser;
let bob: TestUser;
let mallory: TestUser;
let g: TestGuild;
beforeAll(async () => {
  t = await startTestServer();
  [alice, bob, mallory] = [await t.user('alice'), await t.user('bob'), await t.user('mallory')];
  g = await t.guild(alice.id, [bob.id], 'Alice Place');
});
afterAll(() => t.close());

describe('POST /guilds', () => {
  it('creates a guild owned by the caller, with a general channel: 201', async () => {
    const res = await t.api('/guilds', { method: 'POST', token: bob.token, body: { name: 'Bob Place' } });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ name: 'Bob Place', owner_id: bob.id, roles: [expect.objectContaining({ name: '@everyone' })] });
    const channels = await t.api(`/guilds/${res.body.id}/channels`, { token: bob.token });
    expect(channels.body.map((c: { name: string }) => c.name)).toEqual(['general']);
    const mine = await t.api('/users/@me/guilds', { token: bob.token });
    expect(mine.body.map((x: { id: string }) => x.id)).toContain(res.body.id);
  });

  it('answers a missing name with 50035 BASE_TYPE_REQUIRED', async () => {
    const res = await t.api('/guilds', { method: 'POST', token: bob.token, body: {} });
    expect(res.status).toBe(400);
    expect(res.body.code).toBe(50035);
    expect(res.body.errors.name._errors[0].code).toBe('BASE_TYPE_REQUIRED');
  });

  it('answers a too-short name with 50035 BASE_TYPE_MIN_LENGTH', async () => {
    const res = await t.api('/guilds', { method: 'POST', token: bob.token, body: { name: 'x' } });
    expect(res.body.code).toBe(50035);
    expect(res.body.errors.name._errors[0].code).toBe('BASE_TYPE_MIN_LENGTH');
  });
});

describe('GET /guilds/{id}', () => {
  it('returns the guild to a member', async () => {
    const res = await t.api(`/guilds/${g.id}`, { token: bob.token });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id: g.id, name: 'Alice Place', owner_id: alice.id });
  });

  it('answers a non-member with 403 / 50001', async () => {
    const res = await t.api(`/guilds/${g.id}`, { token: mallory.token });
    expect(res.status).toBe(403);
    expect(res.body.code).toBe(50001);
  });

  it('answers an unknown guild with 404 / 10004', async () => {
    const res = await t.api('/guilds/1234567890123456789', { token: alice.token });
    expect(res.status).toBe(404);
    expect(res.body.code).toBe(10004);
  });
});

describe('guild channels', () => {
  it('lists channels to members and refuses outsiders', async () => {
    expect((await t.api(`/guilds/${g.id}/channels`, { token: bob.token })).body[0].id).toBe(g.channelId);
    expect((await t.api(`/guilds/${g.id}/channels`, { token: mallory.token })).body.code).toBe(50001);
  });

  it('lets the owner create a channel: 201, name normalised as Discord does', async () => {
    const res = await t.api(`/guilds/${g.id}/channels`, { method: 'POST', token: alice.token, body: { name: 'Dev Talk', topic: 'code' } });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ name: 'dev-talk', topic: 'code', guild_id: g.id, type: 0 });
    const get = await t.api(`/channels/${res.body.id}`, { token: bob.token });
    expect(get.body.name).toBe('dev-talk');
  });

  it('answers a member who is not the owner with 403 / 50013', async () => {
    const res = await t.api(`/guilds/${g.id}/channels`, { method: 'POST', token: bob.token, body: { name: 'nope' } });
    expect(res.status).toBe(403);
    expect(res.body.code).toBe(50013);
  });

  it('answers an outsider with 403 / 50001', async () => {
    const res = await t.api(`/guilds/${g.id}/channels`, { method: 'POST', token: mallory.token, body: { name: 'nope' } });
    expect(res.body.code).toBe(50001);
  });

  it('validates the body: 50035 with nested errors', async () => {
    const res = await t.api(`/guilds/${g.id}/channels`, { method: 'POST', token: alice.token, body: { name: '', type: 2 } });
    expect(res.body.code).toBe(50035);
    expect(Object.keys(res.body.errors).sort()).toEqual(['name', 'type']);
  });
});
