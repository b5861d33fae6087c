// --assert expressions: parsing (units, operators, unknown metrics) and evaluation.
import { describe, expect, it } from 'vitest';
import { AssertionSyntaxError, evaluateAssertions, parseAssertion } from '../../client-sim/assertions.js';

describe('parseAssertion', () => {
  it('reads metric, operator and value, with time units scaled to milliseconds', () => {
    expect(parseAssertion('fanout_p99<250ms')).toEqual({ text: 'fanout_p99<250ms', metric: 'fanout_p99', op: '<', value: 250 });
    expect(parseAssertion(' ready_p50 <= 1.5s ')).toMatchObject({ metric: 'ready_p50', op: '<=', value: 1500 });
    expect(parseAssertion('guild_create_hot_max>=2m')).toMatchObject({ op: '>=', value: 120_000 });
    expect(parseAssertion('rest_p999!=500us')).toMatchObject({ op: '!=', value: 0.5 });
    expect(parseAssertion('fanout_p90>10')).toMatchObject({ value: 10 });
  });

  it('takes counters without units, and percentages as fractions', () => {
    expect(parseAssertion('lost==0')).toMatchObject({ metric: 'lost', op: '==', value: 0 });
    expect(parseAssertion('deliveries_per_s>1e3')).toMatchObject({ op: '>', value: 1000 });
    expect(parseAssertion('errors<5%')).toMatchObject({ value: 0.05 });
  });

  it('rejects what it cannot read, unknown metrics and time units on counters', () => {
    expect(() => parseAssertion('lost')).toThrow(AssertionSyntaxError);
    expect(() => parseAssertion('lost=0')).toThrow(/cannot parse/);
    expect(() => parseAssertion('lost==zero')).toThrow(/cannot parse/);
    expect(() => parseAssertion('fanout_p98<1ms')).toThrow(/unknown metric "fanout_p98"/);
    expect(() => parseAssertion('latency<1ms')).toThrow(/unknown metric/);
    expect(() => parseAssertion('lost<1ms')).toThrow(/not a duration/);
    expect(() => parseAssertion('fanout_p99<1h')).toThrow(/cannot parse/);
  });
});

describe('evaluateAssertions', () => {
  const metrics = { lost: 0, fanout_p99: 120.5, deliveries_per_s: 900 };

  it('compares each operator', () => {
    const results = evaluateAssertions(
      ['lost==0', 'lost!=0', 'fanout_p99<250ms', 'fanout_p99<=120.5', 'fanout_p99>0.2s', 'deliveries_per_s>=1000'].map(parseAssertion),
      metrics,
    );
    expect(results.map((r) => r.ok)).toEqual([true, false, true, true, false, false]);
    expect(results[2]).toEqual({ text: 'fanout_p99<250ms', ok: true, actual: 120.5 });
  });

  it('fails an assertion whose metric the run did not produce', () => {
    const [r] = evaluateAssertions([parseAssertion('resume_p99<10ms')], metrics);
    expect(r).toEqual({ text: 'resume_p99<10ms', ok: false, actual: undefined });
  });
});
