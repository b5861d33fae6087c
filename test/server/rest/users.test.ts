// The current user, their guilds, leaving a guild, and the gateway URLs.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestServer, type TestUser, startTestServer } from '../../support/server.js';

let t: TestServer;
let alice: TestUser;
let bob: TestUser;
beforeAll(async () => {
  t = await startTestServer();
  [alice, bob] = [await t.user('alice'), await t.user('bob')];
});
afterAll(() => t.close());

describe('users', () => {
  it('GET /users/@me is the caller', async () => {
    const res = await t.api('/users/@me', { token: alice.token });
    expect(res.body).toMatchObject({ id: alice.id, username: 'alice', discriminator: '0' });
  });

  it('accepts @me percent-encoded, as discord-api-types Routes helpers send it', async () => {
    expect((await t.api('/users/%40me', { token: alice.token })).body.id).toBe(alice.id);
    expect((await t.api('/users/%40me/guilds', { token: alice.token })).status).toBe(200);
  });

  it('GET /users/{id} is any user; unknown is 10013', async () => {
    expect((await t.api(`/users/${bob.id}`, { token: alice.token })).body.username).toBe('bob');
    expect((await t.api('/users/1234567890123456789', { token: alice.token })).body.code).toBe(10013);
  });

  it('GET /users/@me/guilds lists partial guilds with owner and permissions, paged by id', async () => {
    const mine = await t.guild(alice.id, [bob.id], 'Mine');
    const theirs = await t.guild(bob.id, [alice.id], 'Theirs');
    const res = await t.api('/users/@me/guilds', { token: alice.token });
    expect(res.body).toEqual([
      expect.objectContaining({ id: mine.id, name: 'Mine', owner: true, permissions: expect.any(String) }),
      expect.objectContaining({ id: theirs.id, name: 'Theirs', owner: false }),
    ]);
    expect((await t.api(`/users/@me/guilds?after=${mine.id}`, { token: alice.token })).body.map((x: { id: string }) => x.id)).toEqual([theirs.id]);
    expect((await t.api(`/users/@me/guilds?before=${theirs.id}`, { token: alice.token })).body.map((x: { id: string }) => x.id)).toEqual([mine.id]);
    expect((await t.api('/users/@me/guilds?limit=1', { token: alice.token })).body).toHaveLength(1);
    expect((await t.api('/users/@me/guilds?limit=0', { token: alice.token })).body.code).toBe(50035);
  });
});

describe('DELETE /users/@me/guilds/{id}', () => {
  it('leaves a guild: 204, and it is gone from the list', async () => {
    const g = await t.guild(alice.id, [bob.id], 'Leave Me');
    expect((await t.api(`/users/@me/guilds/${g.id}`, { method: 'DELETE', token: bob.token })).status).toBe(204);
    const ids = (await t.api('/users/@me/guilds', { token: bob.token })).body.map((x: { id: string }) => x.id);
    expect(ids).not.toContain(g.id);
  });

  it('answers the owner with 400 / 50055 (an owner deletes or transfers, never leaves)', async () => {
    const g = await t.guild(alice.id, [], 'Owned');
    const res = await t.api(`/users/@me/guilds/${g.id}`, { method: 'DELETE', token: alice.token });
    expect(res.status).toBe(400);
    expect(res.body.code).toBe(50055);
  });

  it('answers a guild the caller is not in with 404 / 10004', async () => {
    const g = await t.guild(alice.id, [], 'Not Bob');
    expect((await t.api(`/users/@me/guilds/${g.id}`, { method: 'DELETE', token: bob.token })).body.code).toBe(10004);
  });
});

describe('gateway discovery', () => {
  it('GET /gateway gives the ws URL of this server', async () => {
    const res = await t.api('/gateway');
    expect(res.body).toEqual({ url: `${t.url.replace('http', 'ws')}/gateway` });
  });

  it('GET /gateway/bot needs a token and adds shards and session_start_limit', async () => {
    expect((await t.api('/gateway/bot')).status).toBe(401);
    const res = await t.api('/gateway/bot', { token: alice.token });
    expect(res.body).toMatchObject({
      url: `${t.url.replace('http', 'ws')}/gateway`,
      shards: 1,
      session_start_limit: { total: expect.any(Number), remaining: expect.any(Number), reset_after: expect.any(Number), max_concurrency: 16 },
    });
  });
});
