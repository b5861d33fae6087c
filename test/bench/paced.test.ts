import { describe, expect, it } from 'vitest';
import { pacedPlan } from '../../bench/paced.js';

describe('pacedPlan', () => {
  it('turns an offered rate of deliveries into messages per second for the guild size', () => {
    expect(pacedPlan(20_000, 1_000, 300).messagesPerS).toBe(20);
    expect(pacedPlan(20_000, 5_000, 60).messagesPerS).toBe(4);
  });

  it('times the run by the last send, (messages - 1) / rate, and adds the slack to the deadline', () => {
    const plan = pacedPlan(20_000, 1_000, 300, 60_000);
    expect(plan.seconds).toBeCloseTo(14.95, 10);
    expect(plan.timeoutMs).toBe(14_950 + 60_000);
    expect(pacedPlan(20_000, 5_000, 1).seconds).toBe(0);
  });

  it('refuses a rate, size or count that is not above 0', () => {
    expect(() => pacedPlan(0, 1_000, 10)).toThrow(RangeError);
    expect(() => pacedPlan(20_000, 0, 10)).toThrow(RangeError);
    expect(() => pacedPlan(20_000, 1_000, 0)).toThrow(RangeError);
    expect(() => pacedPlan(Number.NaN, 1_000, 10)).toThrow(RangeError);
  });
});
