import { describe, expect, it } from 'vitest';
import { bootstrapMedianCi, budgetVerdict } from '../../bench/paired-stats.js';

describe('bootstrapMedianCi', () => {
  it('brackets the median, narrows with more rounds, and repeats with the same seed', () => {
    const few = [-40, 5, 12, 30, -8, 60, 2];
    const many = Array.from({ length: 8 }, () => few).flat();
    const a = bootstrapMedianCi(few);
    expect(a.median).toBe(5);
    expect(a.low).toBeLessThanOrEqual(a.median);
    expect(a.high).toBeGreaterThanOrEqual(a.median);
    expect(bootstrapMedianCi(few)).toEqual(a);
    const b = bootstrapMedianCi(many);
    expect(b.high - b.low).toBeLessThan(a.high - a.low);
  });

  it('is a point when every round agrees', () => {
    expect(bootstrapMedianCi([7, 7, 7])).toMatchObject({ median: 7, low: 7, high: 7 });
  });
});

describe('budgetVerdict', () => {
  it('passes or fails only when the whole interval is on one side of the budget', () => {
    expect(budgetVerdict({ low: -3, high: 15 }, 15)).toBe('PASS');
    expect(budgetVerdict({ low: 15.1, high: 40 }, 15)).toBe('FAIL');
    expect(budgetVerdict({ low: -10, high: 16 }, 15)).toBe('UNRESOLVED');
  });
});
