// Guild members over REST: listing, adding (owner), removing (owner or self).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestGuild, type TestServer, type TestUser, startTestServer } from '../../support/server.js';

let t: TestServer;
let owner: TestUser;
let bob: TestUser;
let carol: TestUser;
let dave: TestUser;
let g: TestGuild;
beforeAll(async () => {
  t = await startTestServer();
  [owner, bob, carol, dave] = [await t.user('owner'), await t.user('bob'), await t.user('carol'), await t.user('dave')];
  g = await t.guild(owner.id, [bob.id]);
});
afterAll(() => t.close());

describe('listing members', () => {
  it('pages by user id with limit and after (default limit 1, as Discord)', async () => {
    const one = await t.api(`/guilds/${g.id}/members`, { token: bob.token });
    expect(one.body).toHaveLength(1);
    const all = await t.api(`/guilds/${g.id}/members?limit=1000`, { token: bob.token });
    const ids = all.body.map((m: { user: { id: string } }) => m.user.id);
    expect(ids).toEqual([owner.id, bob.id].sort());
    const after = await t.api(`/guilds/${g.id}/members?limit=10&after=${ids[0]}`, { token: bob.token });
    expect(after.body.map((m: { user: { id: string } }) => m.user.id)).toEqual(ids.slice(1));
  });

  it('validates the query: 50035', async () => {
    const res = await t.api(`/guilds/${g.id}/members?limit=5000`, { token: bob.token });
    expect(res.body.code).toBe(50035);
    expect(res.body.errors.limit).toBeDefined();
  });

  it('gets one member, @me included; unknown member is 10007', async () => {
    expect((await t.api(`/guilds/${g.id}/members/@me`, { token: bob.token })).body.user.id).toBe(bob.id);
    expect((await t.api(`/guilds/${g.id}/members/${owner.id}`, { token: bob.token })).body.user.id).toBe(owner.id);
    const missing = await t.api(`/guilds/${g.id}/members/${carol.id}`, { token: bob.token });
    expect(missing.status).toBe(404);
    expect(missing.body.code).toBe(10007);
  });

  it('refuses outsiders with 50001', async () => {
    expect((await t.api(`/guilds/${g.id}/members`, { token: carol.token })).body.code).toBe(50001);
  });
});

describe('adding and removing', () => {
  it('lets the owner add a member: 201 with the member, then 204 when already one', async () => {
    const added = await t.api(`/guilds/${g.id}/members/${carol.id}`, { method: 'PUT', token: owner.token });
    expect(added.status).toBe(201);
    expect(added.body.user.id).toBe(carol.id);
    const again = await t.api(`/guilds/${g.id}/members/${carol.id}`, { method: 'PUT', token: owner.token });
    expect(again.status).toBe(204);
    expect((await t.api(`/guilds/${g.id}`, { token: carol.token })).status).toBe(200);
  });

  it('answers a member who is not the owner with 50013', async () => {
    const res = await t.api(`/guilds/${g.id}/members/${dave.id}`, { method: 'PUT', token: bob.token });
    expect(res.status).toBe(403);
    expect(res.body.code).toBe(50013);
  });

  it('answers an unknown user with 10013', async () => {
    const res = await t.api(`/guilds/${g.id}/members/1234567890123456789`, { method: 'PUT', token: owner.token });
    expect(res.status).toBe(404);
    expect(res.body.code).toBe(10013);
  });

  it('lets a member remove themself, and the owner remove others: 204', async () => {
    await t.api(`/guilds/${g.id}/members/${dave.id}`, { method: 'PUT', token: owner.token });
    expect((await t.api(`/guilds/${g.id}/members/@me`, { method: 'DELETE', token: dave.token })).status).toBe(204);
    expect((await t.api(`/guilds/${g.id}`, { token: dave.token })).body.code).toBe(50001);
    expect((await t.api(`/guilds/${g.id}/members/${carol.id}`, { method: 'DELETE', token: owner.token })).status).toBe(204);
    expect((await t.api(`/guilds/${g.id}`, { token: carol.token })).body.code).toBe(50001);
  });

  it('does not let a member remove someone else, nor anyone remove the owner', async () => {
    await t.api(`/guilds/${g.id}/members/${carol.id}`, { method: 'PUT', token: owner.token });
    expect((await t.api(`/guilds/${g.id}/members/${carol.id}`, { method: 'DELETE', token: bob.token })).body.code).toBe(50013);
    expect((await t.api(`/guilds/${g.id}/members/${owner.id}`, { method: 'DELETE', token: owner.token })).body.code).toBe(50013);
  });

  it('answers removing a non-member with 10007', async () => {
    const res = await t.api(`/guilds/${g.id}/members/${dave.id}`, { method: 'DELETE', token: owner.token });
    expect(res.status).toBe(404);
    expect(res.body.code).toBe(10007);
  });
});
