// The guild's enforce_nonce memory on its own, with an injected clock.
import { describe, expect, it } from 'vitest';
import { RecentNonces } from '../../../server/guild/recent-nonces.js';

describe('RecentNonces', () => {
  it('keys by user, channel, nonce and its type', () => {
    const keys = new Set([RecentNonces.key('u', 'c', 'n'), RecentNonces.key('v', 'c', 'n'), RecentNonces.key('u', 'd', 'n'), RecentNonces.key('u', 'c', 1), RecentNonces.key('u', 'c', '1')]);
    expect(keys.size).toBe(5);
  });

  it('makes repeats wait for the first, then answers them with its message until the window ends', () => {
    let now = 0;
    const nonces = new RecentNonces<string>({ now: () => now, ttlMs: 1000 });
    const k = RecentNonces.key('u', 'c', 'n');
    expect(nonces.seen(k)).toBeUndefined();
    nonces.begin(k);
    const seen = nonces.seen(k);
    expect(seen?.state).toBe('pending');
    if (seen?.state === 'pending') seen.waiters.push('repeat-1', 'repeat-2');
    expect(nonces.commit(k, 'c', 'm1')).toEqual(['repeat-1', 'repeat-2']);
    expect(nonces.seen(k)).toEqual({ state: 'committed', channelId: 'c', messageId: 'm1', expiresAtMs: 1000 });
    now = 999;
    expect(nonces.seen(k)?.state).toBe('committed');
    now = 1000;
    expect(nonces.seen(k)).toBeUndefined();
    expect(nonces.size).toBe(0);
  });

  it('forgets a first that failed, handing back its waiters, so a retry creates', () => {
    const nonces = new RecentNonces<string>({ now: () => 0 });
    const k = RecentNonces.key('u', 'c', 'n');
    nonces.begin(k);
    const seen = nonces.seen(k);
    if (seen?.state === 'pending') seen.waiters.push('w');
    expect(nonces.fail(k)).toEqual(['w']);
    expect(nonces.seen(k)).toBeUndefined();
  });

  it('keeps at most maxEntries, dropping the oldest committed, never one in flight', () => {
    const nonces = new RecentNonces<string>({ now: () => 0, maxEntries: 3 });
    nonces.begin('in-flight');
    for (let i = 0; i < 10; i++) {
      nonces.begin(`k${i}`);
      nonces.commit(`k${i}`, 'c', `m${i}`);
    }
    expect(nonces.size).toBe(3);
    expect(nonces.seen('in-flight')?.state).toBe('pending');
    expect(nonces.records().map(([k]) => k)).toEqual(['k8', 'k9']);
  });

  it('passes committed entries on with their expiry; the next home drops what has expired or is out of its window', () => {
    let now = 0;
    const old = new RecentNonces<string>({ now: () => now, ttlMs: 1000 });
    old.begin('a');
    old.commit('a', 'c', 'm-a');
    now = 500;
    old.begin('b');
    old.commit('b', 'c', 'm-b');
    old.begin('pending');
    const records = old.records();
    expect(records).toEqual([
      ['a', 'c', 'm-a', 1000],
      ['b', 'c', 'm-b', 1500],
    ]);
    now = 1200;
    const next = new RecentNonces<string>({ now: () => now, ttlMs: 1000 });
    next.load([...records, ['far', 'c', 'm-far', 1_000_000]]);
    expect(next.records()).toEqual([['b', 'c', 'm-b', 1500]]);
  });
});
