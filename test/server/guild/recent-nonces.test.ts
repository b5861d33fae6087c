// The guild's enforce_nonce memory on its own, with an injected clock.
import { describe, expect, it } from 'vitest';
import { RecentNonces } from '../../../server/guild/recent-nonces.js';

describe('RecentNonces', () => {
  it('keys by user, channel, nonce and its type', () => {
    const t = RecentNonces.token;
    const keys = new Set([RecentNonces.key('u', 'c', t('n')), RecentNonces.key('v', 'c', t('n')), RecentNonces.key('u', 'd', t('n')), RecentNonces.key('u', 'c', t(1)), RecentNonces.key('u', 'c', t('1'))]);
    expect(keys.size).toBe(5);
    // The token is what messages.nonce keeps: a string nonce that reads like a number is still a string.
    expect([t(1), t('1')]).toEqual(['number:1', 'string:1']);
  });

  it('makes repeats wait for the first, then answers them with its message until the window ends', () => {
    let now = 0;
    const nonces = new RecentNonces<string>({ now: () => now, ttlMs: 1000 });
    const k = RecentNonces.key('u', 'c', RecentNonces.token('n'));
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
    const k = RecentNonces.key('u', 'c', RecentNonces.token('n'));
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
    expect(['k6', 'k7', 'k8', 'k9'].map((k) => nonces.seen(k)?.state)).toEqual([undefined, undefined, 'committed', 'committed']);
  });

  it('loads committed entries with their expiry, dropping what has expired or is out of its window, keeping what it has', () => {
    let now = 1200;
    const nonces = new RecentNonces<string>({ now: () => now, ttlMs: 1000 });
    nonces.begin('mine');
    nonces.load([
      ['a', 'c', 'm-a', 1000],
      ['b', 'c', 'm-b', 1500],
      ['mine', 'c', 'm-mine', 2000],
      ['far', 'c', 'm-far', 1_000_000],
    ]);
    expect(['a', 'b', 'mine', 'far'].map((k) => nonces.seen(k)?.state)).toEqual([undefined, 'committed', 'pending', undefined]);
    expect(nonces.seen('b')).toMatchObject({ messageId: 'm-b', expiresAtMs: 1500 });
    // Loaded behind a newer entry, it still ends with its window.
    nonces.commit('mine', 'c', 'm-mine');
    nonces.load([['late', 'c', 'm-late', 1300]]);
    now = 1300;
    expect(nonces.seen('late')).toBeUndefined();
    expect(nonces.seen('b')?.state).toBe('committed');
  });
});
