// How the API answers what it cannot serve: unknown routes, wrong methods,
// bodies it cannot read. Always Discord's JSON error body, matched on codes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestServer, type TestUser, startTestServer } from '../../support/server.js';

let t: TestServer;
let alice: TestUser;
let channelId: string;
beforeAll(async () => {
  t = await startTestServer();
  alice = await t.user('alice');
  channelId = (await t.guild(alice.id, [])).channelId;
});
afterAll(() => t.close());

describe('routing', () => {
  it('answers an unknown route with 404 code 0', async () => {
    const res = await t.api('/no/such/route', { token: alice.token });
    expect(res.status).toBe(404);
    expect(res.body.code).toBe(0);
  });

  it('answers 404 outside /api/v10 too', async () => {
    const res = await fetch(`${t.url}/api/v9/users/@me`);
    expect(res.status).toBe(404);
    expect(((await res.json()) as { code: number }).code).toBe(0);
  });

  it('answers a known path with the wrong method with 405 and an Allow header', async () => {
    const res = await t.api(`/channels/${channelId}/messages`, { method: 'PUT', token: alice.token, body: {} });
    expect(res.status).toBe(405);
    expect(res.body.code).toBe(0);
    expect(res.headers.get('allow')?.split(', ')).toEqual(expect.arrayContaining(['GET', 'POST']));
  });

  it('answers 405 on a parameterised path with a method no route has', async () => {
    const res = await t.api('/guilds/1234567890123456789', { method: 'DELETE', token: alice.token });
    expect(res.status).toBe(405);
  });

  it('answers /healthz and /readyz with 200 once listening, saying how the database is', async () => {
    const res = await fetch(`${t.url}/healthz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ok', database: 'ok' });
    const ready = await fetch(`${t.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ok', database: 'ok' });
  });
});

describe('bodies', () => {
  it('answers malformed JSON with 50109', async () => {
    const res = await t.api(`/channels/${channelId}/messages`, { method: 'POST', token: alice.token, body: '{"content": "hi"' });
    expect(res.status).toBe(400);
    expect(res.body.code).toBe(50109);
  });

  it('answers prototype-poisoning JSON with 50109', async () => {
    const res = await t.api(`/channels/${channelId}/messages`, { method: 'POST', token: alice.token, body: '{"content":"x","__proto__":{"admin":true}}' });
    expect(res.status).toBe(400);
    expect(res.body.code).toBe(50109);
  });

  it('answers a body over 64 KiB with 413 / 40005', async () => {
    const res = await t.api(`/channels/${channelId}/messages`, { method: 'POST', token: alice.token, body: { content: 'x'.repeat(70 * 1024) } });
    expect(res.status).toBe(413);
    expect(res.body.code).toBe(40005);
  });

  it('answers a non-JSON content type with 415', async () => {
    const res = await t.api(`/channels/${channelId}/messages`, {
      method: 'POST',
      token: alice.token,
      body: 'content=hi',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(res.status).toBe(415);
    expect(res.body.code).toBe(0);
  });

  it('treats an empty JSON body as no body', async () => {
    const res = await t.api(`/channels/${channelId}/typing`, { method: 'POST', token: alice.token, headers: { 'content-type': 'application/json' } });
    expect(res.status).toBe(204);
  });

  it('answers a malformed path snowflake with 50035 naming the parameter', async () => {
    const res = await t.api('/channels/not-a-snowflake/messages', { token: alice.token });
    expect(res.status).toBe(400);
    expect(res.body.code).toBe(50035);
    expect(res.body.errors.channel_id._errors[0].code).toBeTypeOf('string');
  });
});

describe('odd URLs', () => {
  it('answers a malformed percent-encoding with 400 code 0, without echoing it', async () => {
    const res = await t.api('/users/%E0%A4%A', { token: alice.token });
    expect(res.status).toBe(400);
    expect(res.body.code).toBe(0);
    expect(JSON.stringify(res.body)).not.toContain('%E0');
  });

  it('is strict about trailing slashes (404, not 405)', async () => {
    expect((await t.api('/users/@me/', { token: alice.token })).status).toBe(404);
  });
});
