// Who may call the API, and how often.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { issueToken } from '../../../server/auth/token.js';
import { RateLimiter } from '../../../server/rest/auth.js';
import { TEST_SECRET, type TestServer, type TestUser, startTestServer } from '../../support/server.js';

let t: TestServer;
let alice: TestUser;
beforeAll(async () => {
  t = await startTestServer();
  alice = await t.user('alice');
});
afterAll(() => t.close());

describe('authentication', () => {
  it('accepts Bot, Bearer and bare tokens', async () => {
    for (const authorization of [`Bot ${alice.token}`, `Bearer ${alice.token}`, alice.token]) {
      const res = await t.api('/users/@me', { headers: { authorization } });
      expect(res.status).toBe(200);
      expect(res.body.id).toBe(alice.id);
    }
  });

  it('answers a missing token with 401 / 40001', async () => {
    const res = await t.api('/users/@me');
    expect(res.status).toBe(401);
    expect(res.body.code).toBe(40001);
  });

  it('answers a garbage token with 401', async () => {
    const res = await t.api('/users/@me', { headers: { authorization: 'Bot not.a.token' } });
    expect(res.status).toBe(401);
    expect(res.body.code).toBe(40001);
  });

  it('answers a token signed with another secret with 401', async () => {
    const res = await t.api('/users/@me', { token: issueToken('some-other-secret-entirely', alice.id) });
    expect(res.status).toBe(401);
  });

  it('answers a genuine token for a user the store does not know with 401', async () => {
    const res = await t.api('/users/@me', { token: issueToken(TEST_SECRET, '1234567890123456789') });
    expect(res.status).toBe(401);
    expect(res.body.code).toBe(40001);
  });

  it('needs no token for GET /gateway', async () => {
    expect((await t.api('/gateway')).status).toBe(200);
  });
});

describe('global rate limit', () => {
  it('answers past 50 requests per second with 429, retry_after and the global headers', async () => {
    // A frozen clock: no token refills during the test, however slow the machine.
    const limited = await startTestServer({}, { rateLimiter: new RateLimiter({ perSecond: 50, now: () => 0 }) });
    try {
      const bob = await limited.user('bob');
      const carol = await limited.user('carol');
      const statuses: number[] = [];
      const responses = [];
      for (let i = 0; i < 60; i++) {
        const res = await limited.api('/users/@me', { token: bob.token });
        statuses.push(res.status);
        responses.push(res);
      }
      expect(statuses.filter((s) => s === 200)).toHaveLength(50);
      expect(statuses.slice(50)).toEqual(Array(10).fill(429));
      const res = responses[50]!;
      expect(res.body.code).toBe(0);
      expect(res.body.global).toBe(true);
      expect(res.body.retry_after).toBeGreaterThan(0);
      expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(res.headers.get('x-ratelimit-global')).toBe('true');
      // Another user is not affected.
      expect((await limited.api('/users/@me', { token: carol.token })).status).toBe(200);
    } finally {
      await limited.close();
    }
  });
});

describe('RateLimiter', () => {
  it('allows a burst of perSecond, then refills continuously', () => {
    let now = 0;
    const limiter = new RateLimiter({ perSecond: 5, now: () => now });
    for (let i = 0; i < 5; i++) expect(limiter.take('u')).toBe(0);
    expect(limiter.take('u')).toBeCloseTo(0.2, 5);
    now += 200;
    expect(limiter.take('u')).toBe(0);
  });

  it('keeps at most maxBuckets, dropping the least recently used', () => {
    const limiter = new RateLimiter({ perSecond: 1, maxBuckets: 3, now: () => 0 });
    for (const key of ['a', 'b', 'c', 'd']) limiter.take(key);
    expect(limiter.size).toBe(3);
    // 'a' was evicted, so it has a full bucket again.
    expect(limiter.take('a')).toBe(0);
    expect(limiter.take('d')).toBeGreaterThan(0);
  });

  it('evicts by recency of use, not by first use, and sweeps only the idle ones', () => {
    let now = 0;
    const limiter = new RateLimiter({ perSecond: 10, maxBuckets: 3, now: () => now });
    for (const key of ['a', 'b', 'c']) limiter.take(key);
    now += 600;
    for (let i = 0; i < 10; i++) limiter.take('a'); // used again (its bucket spent): now the most recent
    expect(limiter.keys()).toEqual(['b', 'c', 'a']);
    limiter.take('d'); // past maxBuckets: 'b', the least recently used, goes
    expect(limiter.keys()).toEqual(['c', 'a', 'd']);
    now += 500; // 'c' idle 1,100 ms, 'a' and 'd' 500 ms
    limiter.take('e');
    expect(limiter.keys()).toEqual(['a', 'd', 'e']);
    // 'a' kept its spent bucket: 5 tokens after 0.5 s of refill, not a fresh 10.
    for (let i = 0; i < 5; i++) expect(limiter.take('a')).toBe(0);
    expect(limiter.take('a')).toBeGreaterThan(0);
  });

  it('sweeps buckets idle long enough to be full again', () => {
    let now = 0;
    const limiter = new RateLimiter({ perSecond: 10, now: () => now });
    for (let i = 0; i < 100; i++) limiter.take(`user-${i}`);
    expect(limiter.size).toBe(100);
    now += 1_000;
    limiter.take('fresh');
    expect(limiter.size).toBe(1);
  });
});
