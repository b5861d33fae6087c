import { describe, expect, it } from 'vitest';
import { TailLimiter } from '../../tracing/tail-limiter.js';

describe('TailLimiter', () => {
  it('allows a second of budget at once, then refuses and counts what it refused', () => {
    const limiter = new TailLimiter(3);
    const at0 = [1, 2, 3, 4, 5].map(() => limiter.take(0));
    expect(at0).toEqual([true, true, true, false, false]);
    expect({ granted: limiter.granted, refused: limiter.refused }).toEqual({ granted: 3, refused: 2 });
  });

  it('refills at the configured rate on the clock it is given, never beyond one second of budget', () => {
    const limiter = new TailLimiter(10);
    for (let i = 0; i < 10; i++) expect(limiter.take(1000)).toBe(true);
    expect(limiter.take(1000)).toBe(false);
    // 10 per second: one token per 100 ms.
    expect(limiter.take(1050)).toBe(false);
    expect(limiter.take(1100)).toBe(true);
    expect(limiter.take(1100)).toBe(false);
    // A quiet minute refills one second's worth, not sixty.
    let granted = 0;
    for (let i = 0; i < 100; i++) if (limiter.take(61_100)) granted++;
    expect(granted).toBe(10);
  });

  it('a clock reading that goes backwards neither refills nor breaks it', () => {
    const limiter = new TailLimiter(1);
    expect(limiter.take(5000)).toBe(true);
    expect(limiter.take(4000)).toBe(false);
    expect(limiter.take(5500)).toBe(false);
    expect(limiter.take(6000)).toBe(true);
  });

  it('0 per second records nothing; a negative or infinite rate is refused', () => {
    const limiter = new TailLimiter(0);
    expect(limiter.take(0)).toBe(false);
    expect(limiter.take(1e9)).toBe(false);
    expect(() => new TailLimiter(-1)).toThrow(RangeError);
    expect(() => new TailLimiter(Infinity)).toThrow(RangeError);
  });
});
