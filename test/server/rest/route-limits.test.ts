// Discord's rate-limit contract: X-RateLimit-* on every response, per-route
// buckets keyed by the major parameter, 429s a client library can plan around.
import { REST, RESTEvents } from '@discordjs/rest';
import { Routes } from 'discord-api-types/v10';
import { afterEach, describe, expect, it } from 'vitest';
import { RateLimiter } from '../../../server/rest/auth.js';
import { RouteLimiter, majorParameter } from '../../../server/rest/route-limits.js';
import { type TestServer, startTestServer } from '../../support/server.js';

const POST_MESSAGES = 'POST /channels/:channel_id/messages';
const servers: TestServer[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close();
});

async function start(routes: Record<string, { limit: number; windowMs: number }>, now?: () => number): Promise<TestServer> {
  const t = await startTestServer({ GUILDHALL_ROUTE_RATE_LIMITS: 'on' }, { routeLimits: { routes, ...(now === undefined ? {} : { now }) } });
  servers.push(t);
  return t;
}

describe('RouteLimiter', () => {
  it('gives each route and major parameter its own fixed window', () => {
    let now = 1_000_000;
    const limiter = new RouteLimiter({ routes: { [POST_MESSAGES]: { limit: 2, windowMs: 5000 } }, now: () => now });
    const a1 = limiter.take(POST_MESSAGES, 'chan-a', 'u');
    expect(a1).toMatchObject({ allowed: true, limit: 2, remaining: 1, resetAtMs: 1_005_000, resetAfterMs: 5000 });
    now += 1000;
    expect(limiter.take(POST_MESSAGES, 'chan-a', 'u')).toMatchObject({ allowed: true, remaining: 0, resetAfterMs: 4000 });
    expect(limiter.take(POST_MESSAGES, 'chan-a', 'u')).toMatchObject({ allowed: false, remaining: 0 });
    // Another channel, another user: untouched budgets. The bucket id is the route's, whatever the channel.
    const b = limiter.take(POST_MESSAGES, 'chan-b', 'u');
    expect(b).toMatchObject({ allowed: true, remaining: 1, bucket: a1.bucket });
    expect(limiter.take(POST_MESSAGES, 'chan-a', 'v').allowed).toBe(true);
    now += 4000;
    expect(limiter.take(POST_MESSAGES, 'chan-a', 'u')).toMatchObject({ allowed: true, remaining: 1 });
  });

  it('forgets windows that are over, and keeps at most maxBuckets', () => {
    let now = 0;
    const limiter = new RouteLimiter({ maxBuckets: 50, now: () => now });
    for (let i = 0; i < 100; i++) limiter.take('GET /users/@me', '', `user-${i}`);
    expect(limiter.size).toBe(50);
    now += 5000;
    limiter.take('GET /users/@me', '', 'fresh');
    expect(limiter.size).toBe(1);
  });

  it('takes the channel or guild id as the major parameter', () => {
    expect(majorParameter({ channel_id: '1', message_id: '2' })).toBe('1');
    expect(majorParameter({ guild_id: '3', user_id: '4' })).toBe('3');
    expect(majorParameter({ user_id: '4' })).toBe('');
    expect(majorParameter(undefined)).toBe('');
  });
});

describe('X-RateLimit-* headers over HTTP', () => {
  it('are on every response, errors included; a spent bucket answers 429 with Discord\'s body and scope', async () => {
    const now = 1_700_000_000_000;
    const t = await start({ [POST_MESSAGES]: { limit: 2, windowMs: 5000 } }, () => now);
    const alice = await t.user('alice');
    const { channelId } = await t.guild(alice.id, [alice.id]);
    const post = () => t.api(`/channels/${channelId}/messages`, { method: 'POST', token: alice.token, body: { content: 'hi' } });

    const first = await post();
    expect(first.status).toBe(200);
    expect(first.headers.get('x-ratelimit-limit')).toBe('2');
    expect(first.headers.get('x-ratelimit-remaining')).toBe('1');
    expect(first.headers.get('x-ratelimit-reset')).toBe('1700000005.000');
    expect(first.headers.get('x-ratelimit-reset-after')).toBe('5.000');
    expect(first.headers.get('x-ratelimit-bucket')).toMatch(/^[0-9a-f]{16}$/);

    // A validation error still counts, and still carries the headers.
    const bad = await t.api(`/channels/${channelId}/messages`, { method: 'POST', token: alice.token, body: { content: '' } });
    expect(bad.status).toBe(400);
    expect(bad.headers.get('x-ratelimit-remaining')).toBe('0');

    const limited = await post();
    expect(limited.status).toBe(429);
    expect(limited.body).toEqual({ code: 0, message: 'You are being rate limited.', retry_after: 5, global: false });
    expect(limited.headers.get('x-ratelimit-scope')).toBe('user');
    expect(limited.headers.get('x-ratelimit-global')).toBeNull();
    expect(limited.headers.get('retry-after')).toBe('5');
    expect(limited.headers.get('x-ratelimit-remaining')).toBe('0');

    // Other routes and other channels have budgets of their own; GET /gateway (no user) has headers too.
    const other = await t.guild(alice.id, [alice.id]);
    expect((await t.api(`/channels/${other.channelId}/messages`, { method: 'POST', token: alice.token, body: { content: 'hi' } })).status).toBe(200);
    const me = await t.api('/users/@me', { token: alice.token });
    expect(me.status).toBe(200);
    expect(me.headers.get('x-ratelimit-limit')).toBe('50');
    expect((await t.api('/gateway')).headers.get('x-ratelimit-bucket')).toMatch(/^[0-9a-f]{16}$/);
  });

  it('marks a global 429 as global', async () => {
    const t = await startTestServer({ GUILDHALL_ROUTE_RATE_LIMITS: 'on' }, { rateLimiter: new RateLimiter({ perSecond: 1, now: () => 0 }) });
    servers.push(t);
    const alice = await t.user('alice');
    expect((await t.api('/users/@me', { token: alice.token })).status).toBe(200);
    const limited = await t.api('/users/@me', { token: alice.token });
    expect(limited.status).toBe(429);
    expect(limited.body).toMatchObject({ code: 0, global: true });
    expect(limited.headers.get('x-ratelimit-global')).toBe('true');
    expect(limited.headers.get('x-ratelimit-scope')).toBe('global');
  });
});

describe('@discordjs/rest against the buckets', () => {
  it('queues a burst over a bucket\'s limit and completes it without a single 429', async () => {
    const WINDOW_MS = 400;
    const t = await start({ [POST_MESSAGES]: { limit: 3, windowMs: WINDOW_MS } });
    const bot = await t.user('bot');
    const { channelId } = await t.guild(bot.id, [bot.id]);
    const rest = new REST({ version: '10', api: `${t.url}/api`, offset: 20 }).setToken(bot.token);
    const statuses: number[] = [];
    rest.on(RESTEvents.Response, (_request, response) => statuses.push(response.status));

    const t0 = Date.now();
    const BURST = 10;
    const sent = await Promise.all(Array.from({ length: BURST }, (_, i) => rest.post(Routes.channelMessages(channelId), { body: { content: `burst ${i}` } })));
    const elapsed = Date.now() - t0;

    expect(sent).toHaveLength(BURST);
    expect(statuses).toEqual(Array(BURST).fill(200));
    // Four windows of three: the client waited out at least three resets instead of collecting 429s.
    expect(elapsed).toBeGreaterThanOrEqual(3 * WINDOW_MS - 50);
    const list = await t.api(`/channels/${channelId}/messages?limit=100`, { token: bot.token });
    expect(list.body).toHaveLength(BURST);
  });
});
