// The root decision with two operator overrides around it:
//
// - debug windows (debug-sampling.ts): a span whose key has an open window is
//   sampled whatever the root sampler says, and its trace is marked in
//   `tracestate` (guildhall=debug), so that every later span of that trace is
//   sampled too, even under OTEL_TRACES_SAMPLER=always_off (which would
//   otherwise drop children of a sampled parent). The mark travels with the
//   context through mailboxes like any tracestate.
// - excluded operations (`exclude`): the server's own operator endpoints (the
//   trace viewer, /metrics scrapes, health checks) never start a trace, so
//   looking at traces does not fill the store with traces of looking.
//
// It wraps the delegate the FanoutSampler falls back to, so fanout deliveries
// keep their own rule (the Transport forces rate 1 for open windows itself).
import { type Attributes, type Context, type Link, type SpanKind, TraceFlags, trace } from '@opentelemetry/api';
import { TraceState } from '@opentelemetry/core';
import { SamplingDecision, type Sampler, type SamplingResult } from '@opentelemetry/sdk-trace-base';
import type { DebugSampling } from './debug-sampling.js';

/** tracestate member that marks a trace started (or forced) by a debug window. */
export const DEBUG_TRACESTATE_KEY = 'guildhall';
export const DEBUG_TRACESTATE_VALUE = 'debug';
/** Set on the span a debug window forced into the trace. */
export const ATTR_DEBUG_SAMPLED = 'guildhall.debug.sampled';

export interface DebugSamplerOptions {
  debug: DebugSampling;
  delegate: Sampler;
  /** Spans (by start attributes) that must never start a trace. */
  exclude?: (attributes: Attributes) => boolean;
}

const DROP: SamplingResult = { decision: SamplingDecision.NOT_RECORD };

export class DebugSampler implements Sampler {
  private readonly debug: DebugSampling;
  private readonly delegate: Sampler;
  private readonly exclude: ((attributes: Attributes) => boolean) | undefined;

  constructor(options: DebugSamplerOptions) {
    this.debug = options.debug;
    this.delegate = options.delegate;
    this.exclude = options.exclude;
  }

  shouldSample(context: Context, traceId: string, spanName: string, spanKind: SpanKind, attributes: Attributes, links: Link[]): SamplingResult {
    const parent = trace.getSpanContext(context);
    if (this.exclude !== undefined && parent === undefined && this.exclude(attributes)) return DROP;
    if (this.debug.size !== 0) {
      const sampledParent = parent !== undefined && (parent.traceFlags & TraceFlags.SAMPLED) !== 0;
      // A trace a window forced stays whole, whatever the root sampler would say of its children.
      if (sampledParent && parent.traceState?.get(DEBUG_TRACESTATE_KEY) === DEBUG_TRACESTATE_VALUE) {
        return { decision: SamplingDecision.RECORD_AND_SAMPLED };
      }
      if (this.debug.activeKeyOf(attributes) !== undefined) {
        const state = (parent?.traceState ?? new TraceState()).set(DEBUG_TRACESTATE_KEY, DEBUG_TRACESTATE_VALUE);
        return { decision: SamplingDecision.RECORD_AND_SAMPLED, attributes: { [ATTR_DEBUG_SAMPLED]: true }, traceState: state };
      }
    }
    return this.delegate.shouldSample(context, traceId, spanName, spanKind, attributes, links);
  }

  toString(): string {
    return `DebugSampler{${this.delegate.toString()}}`;
  }
}
