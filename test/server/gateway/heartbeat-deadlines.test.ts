// The shared heartbeat deadline queue: exact deadlines on a ManualClock, a
// re-arm moves a connection back, and however many connections there are,
// one timer is pending at most.
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../actors/index.js';
import { HeartbeatDeadlines } from '../../../server/gateway/heartbeat-deadlines.js';

function owner(name: string, expired: string[]) {
  return { name, heartbeatDeadlinePassed: () => expired.push(name) };
}

describe('HeartbeatDeadlines', () => {
  it('expires each owner exactly timeoutMs after its last arm, with one timer for all', () => {
    const clock = new ManualClock();
    const expired: string[] = [];
    const q = new HeartbeatDeadlines(clock, 1_500);
    const a = owner('a', expired);
    const b = owner('b', expired);
    const c = owner('c', expired);
    q.arm(a);
    clock.advance(100);
    q.arm(b);
    clock.advance(100);
    q.arm(c);
    expect(clock.pending).toBe(1);
    clock.advance(1_000); // 1,200
    q.arm(a); // a's deadline moves from 1,500 to 2,700
    clock.advance(399); // 1,599
    expect(expired).toEqual([]);
    clock.advance(1); // 1,600: b's
    expect(expired).toEqual(['b']);
    clock.advance(99); // 1,699
    expect(expired).toEqual(['b']);
    clock.advance(1); // 1,700: c's
    expect(expired).toEqual(['b', 'c']);
    expect(clock.pending).toBe(1);
    clock.advance(999); // 2,699
    expect(expired).toEqual(['b', 'c']);
    clock.advance(1);
    expect(expired).toEqual(['b', 'c', 'a']);
    expect(q.size).toBe(0);
    expect(clock.pending).toBe(0);
  });

  it('a disarmed owner never expires, and the timer goes with the last one', () => {
    const clock = new ManualClock();
    const expired: string[] = [];
    const q = new HeartbeatDeadlines(clock, 1_000);
    const a = owner('a', expired);
    const b = owner('b', expired);
    q.arm(a);
    q.arm(b);
    q.disarm(a);
    expect(clock.pending).toBe(1);
    q.disarm(b);
    expect(clock.pending).toBe(0);
    clock.advance(5_000);
    expect(expired).toEqual([]);
  });

  it('an owner armed while others expire is timed from then, with still one timer', () => {
    const clock = new ManualClock();
    const expired: string[] = [];
    const q = new HeartbeatDeadlines(clock, 1_000);
    const late = owner('late', expired);
    q.arm({ heartbeatDeadlinePassed: () => q.arm(late) });
    clock.advance(1_000);
    expect(q.size).toBe(1);
    expect(clock.pending).toBe(1);
    clock.advance(999);
    expect(expired).toEqual([]);
    clock.advance(1);
    expect(expired).toEqual(['late']);
  });

  it('clear() forgets every owner and the timer', () => {
    const clock = new ManualClock();
    const expired: string[] = [];
    const q = new HeartbeatDeadlines(clock, 1_000);
    q.arm(owner('a', expired));
    q.clear();
    expect(clock.pending).toBe(0);
    clock.advance(2_000);
    expect(expired).toEqual([]);
  });
});
