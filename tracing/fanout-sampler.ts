// Fanout-based sampling: a broadcast to N recipients keeps each delivery with
// p(N) = min(1, K/N), so a trace holds about K deliveries per broadcast at any
// size, while anything that is not a delivery goes to the delegate sampler
// (normally ParentBased over the root sampler chosen by OTEL_TRACES_SAMPLER).
import { type Attributes, type Context, type Link, SpanKind, TraceFlags, trace } from '@opentelemetry/api';
import { ParentBasedSampler, AlwaysOnSampler, SamplingDecision, type Sampler, type SamplingResult } from '@opentelemetry/sdk-trace-base';
import { ATTR_FANOUT_RATE, ATTR_FANOUT_SIZE, ATTR_TAIL } from './conventions.js';
import type { ATTR_FANOUT_ADJUSTED_COUNT } from './conventions.js';

export const DEFAULT_FANOUT_K = 10;

export interface FanoutSamplerOptions {
  /** Deliveries to keep per broadcast, on average. */
  k?: number;
  delegate?: Sampler;
  /** Source of uniform [0, 1) numbers; injectable for tests. */
  random?: () => number;
}

/** A kept delivery's sampler attributes; keys spelled out, not computed (V8 defines computed keys of a literal one runtime call at a time). */
function fanoutDecision(rate: number): Record<typeof ATTR_FANOUT_RATE | typeof ATTR_FANOUT_ADJUSTED_COUNT, number> {
  return { 'guildhall.fanout.rate': rate, 'guildhall.fanout.adjusted_count': 1 / rate };
}

export class FanoutSampler implements Sampler {
  readonly k: number;
  private delegateSampler: Sampler;
  private readonly random: () => number;

  constructor(options: FanoutSamplerOptions = {}) {
    const k = options.k ?? DEFAULT_FANOUT_K;
    if (!(k > 0) || !Number.isFinite(k)) throw new RangeError(`fanout K must be a positive number, got ${k}`);
    this.k = k;
    this.delegateSampler = options.delegate ?? new ParentBasedSampler({ root: new AlwaysOnSampler() });
    this.random = options.random ?? Math.random;
  }

  /** The sampler that decides everything that is not a fanout delivery. */
  get delegate(): Sampler {
    return this.delegateSampler;
  }

  /**
   * Puts a wrapper around the delegate (debug windows, excluded operator
   * endpoints). The provider holds this sampler from setup on, so a server
   * that wants to add rules afterwards does it here.
   */
  wrapDelegate(wrap: (current: Sampler) => Sampler): this {
    this.delegateSampler = wrap(this.delegateSampler);
    return this;
  }

  /** p(N) = min(1, K/N). */
  rate(fanoutSize: number): number {
    return fanoutSize <= this.k ? 1 : this.k / fanoutSize;
  }

  /** One delivery's decision, given its rate: allocation-free, for the hot loop. */
  keep(rate: number): boolean {
    return rate >= 1 || this.random() < rate;
  }

  /**
   * How many deliveries to pass over before the next kept one. Keeping each
   * with probability p is a Bernoulli process, so the gaps are geometric:
   * drawing one gap per kept delivery costs O(K) random numbers per broadcast
   * instead of O(N), with the same distribution.
   */
  skip(rate: number): number {
    if (rate >= 1) return 0;
    if (rate <= 0) return Number.POSITIVE_INFINITY;
    const u = 1 - this.random(); // (0, 1]
    return Math.floor(Math.log(u) / Math.log1p(-rate));
  }

  /**
   * A CONSUMER span started under a sampled parent with `guildhall.fanout.size`
   * among its start attributes is one delivery of a broadcast: fanout-sampled,
   * unless `guildhall.fanout.rate` is there too: then its sender already kept
   * it at that rate (the Transport decides at the broadcast), and it is kept.
   * A span started with `guildhall.tail=true` is kept: tail capture chose it
   * because its message was slow, and has already charged it to its budget.
   * Everything else is the delegate's call. A delivery never becomes a root.
   */
  shouldSample(context: Context, traceId: string, spanName: string, spanKind: SpanKind, attributes: Attributes, links: Link[]): SamplingResult {
    if (attributes[ATTR_TAIL] === true) return { decision: SamplingDecision.RECORD_AND_SAMPLED };
    const size = attributes[ATTR_FANOUT_SIZE];
    if (spanKind === SpanKind.CONSUMER && typeof size === 'number' && size > 0) {
      const parent = trace.getSpanContext(context);
      if (!parent || (parent.traceFlags & TraceFlags.SAMPLED) === 0) return { decision: SamplingDecision.NOT_RECORD };
      // A start rate is the sender's decision (the Transport's kept deliveries carry it): kept, not decided again.
      if (typeof attributes[ATTR_FANOUT_RATE] === 'number') return { decision: SamplingDecision.RECORD_AND_SAMPLED };
      const rate = this.rate(size);
      if (!this.keep(rate)) return { decision: SamplingDecision.NOT_RECORD };
      return {
        decision: SamplingDecision.RECORD_AND_SAMPLED,
        attributes: fanoutDecision(rate),
      };
    }
    return this.delegateSampler.shouldSample(context, traceId, spanName, spanKind, attributes, links);
  }

  toString(): string {
    return `FanoutSampler{k=${this.k}, p(N)=min(1,${this.k}/N), delegate=${this.delegate.toString()}}`;
  }
}
