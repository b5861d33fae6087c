import { ROOT_CONTEXT, SpanKind, trace } from '@opentelemetry/api';
import { AlwaysOffSampler, ParentBasedSampler, SamplingDecision } from '@opentelemetry/sdk-trace-base';
import { describe, expect, it } from 'vitest';
import { ATTR_FANOUT_ADJUSTED_COUNT, ATTR_FANOUT_RATE, ATTR_FANOUT_SIZE } from '../../tracing/conventions.js';
import { FanoutSampler } from '../../tracing/fanout-sampler.js';

const sampledParent = trace.setSpanContext(ROOT_CONTEXT, { traceId: 'a'.repeat(32), spanId: 'b'.repeat(16), traceFlags: 1 });
const unsampledParent = trace.setSpanContext(ROOT_CONTEXT, { traceId: 'a'.repeat(32), spanId: 'b'.repeat(16), traceFlags: 0 });

describe('FanoutSampler', () => {
  it('p(N) = min(1, K/N)', () => {
    const s = new FanoutSampler({ k: 10 });
    expect(s.rate(1)).toBe(1);
    expect(s.rate(10)).toBe(1);
    expect(s.rate(100)).toBeCloseTo(0.1);
    expect(s.rate(10_000)).toBeCloseTo(0.001);
    expect(new FanoutSampler({ k: 50 }).rate(100)).toBeCloseTo(0.5);
  });

  it('keeps a delivery under a sampled parent with the rate, and records the adjusted count', () => {
    let next = 0.05;
    const s = new FanoutSampler({ k: 10, random: () => next });
    const attrs = { [ATTR_FANOUT_SIZE]: 100 };
    const kept = s.shouldSample(sampledParent, 'a'.repeat(32), 'process session', SpanKind.CONSUMER, attrs, []);
    expect(kept.decision).toBe(SamplingDecision.RECORD_AND_SAMPLED);
    expect(kept.attributes?.[ATTR_FANOUT_RATE]).toBeCloseTo(0.1);
    expect(kept.attributes?.[ATTR_FANOUT_ADJUSTED_COUNT]).toBeCloseTo(10);
    next = 0.5;
    expect(s.shouldSample(sampledParent, 'a'.repeat(32), 'x', SpanKind.CONSUMER, attrs, []).decision).toBe(SamplingDecision.NOT_RECORD);
  });

  it('keeps a delivery whose start attributes carry the rate its sender kept it with, without drawing again', () => {
    let draws = 0;
    const s = new FanoutSampler({ k: 10, random: () => (draws++, 0.99) });
    const attrs = { [ATTR_FANOUT_SIZE]: 1000, [ATTR_FANOUT_RATE]: 0.01, [ATTR_FANOUT_ADJUSTED_COUNT]: 100 };
    const kept = s.shouldSample(sampledParent, 'a'.repeat(32), 'process session', SpanKind.CONSUMER, attrs, []);
    expect(kept.decision).toBe(SamplingDecision.RECORD_AND_SAMPLED);
    // The sender's rate stands: nothing to add or overwrite.
    expect(kept.attributes).toBeUndefined();
    expect(draws).toBe(0);
    // Still never under an unsampled parent, nor as a root.
    expect(s.shouldSample(unsampledParent, 'a'.repeat(32), 'x', SpanKind.CONSUMER, attrs, []).decision).toBe(SamplingDecision.NOT_RECORD);
    expect(s.shouldSample(ROOT_CONTEXT, 'a'.repeat(32), 'x', SpanKind.CONSUMER, attrs, []).decision).toBe(SamplingDecision.NOT_RECORD);
  });

  it('never makes a delivery a root, nor keeps one under an unsampled parent', () => {
    const s = new FanoutSampler({ k: 10, random: () => 0 });
    const attrs = { [ATTR_FANOUT_SIZE]: 5 };
    expect(s.shouldSample(ROOT_CONTEXT, 'a'.repeat(32), 'x', SpanKind.CONSUMER, attrs, []).decision).toBe(SamplingDecision.NOT_RECORD);
    expect(s.shouldSample(unsampledParent, 'a'.repeat(32), 'x', SpanKind.CONSUMER, attrs, []).decision).toBe(SamplingDecision.NOT_RECORD);
  });

  it('leaves everything else to its delegate', () => {
    const s = new FanoutSampler({ delegate: new ParentBasedSampler({ root: new AlwaysOffSampler() }) });
    expect(s.shouldSample(ROOT_CONTEXT, 'a'.repeat(32), 'GET /', SpanKind.SERVER, {}, []).decision).toBe(SamplingDecision.NOT_RECORD);
    expect(s.shouldSample(sampledParent, 'a'.repeat(32), 'child', SpanKind.INTERNAL, {}, []).decision).toBe(SamplingDecision.RECORD_AND_SAMPLED);
  });

  it('states its configuration', () => {
    const s = new FanoutSampler({ k: 25, delegate: new ParentBasedSampler({ root: new AlwaysOffSampler() }) });
    expect(s.toString()).toContain('k=25');
    expect(s.toString()).toContain('AlwaysOffSampler');
  });

  it('refuses a K that is not positive', () => {
    expect(() => new FanoutSampler({ k: 0 })).toThrow(RangeError);
    expect(() => new FanoutSampler({ k: Number.NaN })).toThrow(RangeError);
  });
});

describe('FanoutSampler.skip (geometric gaps)', () => {
  it('keeps each delivery with probability p: gaps have mean (1-p)/p', () => {
    const s = new FanoutSampler({ k: 10 });
    for (const rate of [0.5, 0.1, 0.001]) {
      let kept = 0;
      const n = 2_000_000;
      for (let i = s.skip(rate); i < n; i += 1 + s.skip(rate)) kept++;
      const mean = n * rate;
      const sd = Math.sqrt(n * rate * (1 - rate));
      expect(Math.abs(kept - mean)).toBeLessThan(5 * sd);
    }
  });

  it('skips nothing at rate 1 and everything at rate 0', () => {
    const s = new FanoutSampler();
    expect(s.skip(1)).toBe(0);
    expect(s.skip(0)).toBe(Number.POSITIVE_INFINITY);
  });
});
