// The tracer the server's spans come from: the SDK tracer's decisions (the
// configured sampler, suppression, parent and root rules, limits, the span
// processors) with spans made by LeanSpan, and ids made without a buffer
// round trip. The SDK's provider stays what registers, flushes and shuts the
// processors down; this only makes spans for them.
import {
  type Attributes,
  type Context,
  INVALID_SPAN_CONTEXT,
  type Link,
  SamplingDecision,
  type Span,
  type SpanContext,
  SpanKind,
  type SpanOptions,
  TraceFlags,
  type Tracer,
  context as contextApi,
  trace,
} from '@opentelemetry/api';
import { randomBytes } from 'node:crypto';
import { isTracingSuppressed } from '@opentelemetry/core';
import type { Sampler } from '@opentelemetry/sdk-trace-base';
import { LeanSpan, type LeanSpanShared, copied, validAttribute } from './lean-span.js';

export interface LeanTracerOptions extends LeanSpanShared {
  readonly sampler: Sampler;
}

/**
 * Ids are cut from a hex string of random bytes, refilled as it runs out: a
 * slice is one small object, where formatting numbers as hex is a slow path
 * in V8. The pool is small because an id kept (by the trace viewer, say)
 * keeps the string it was cut from.
 */
const POOL_BYTES = 256;
let pool = '';
let poolAt = 0;

function randomHex(chars: number): string {
  if (poolAt + chars > pool.length) {
    pool = randomBytes(POOL_BYTES).toString('hex');
    poolAt = 0;
  }
  const id = pool.slice(poolAt, poolAt + chars);
  poolAt += chars;
  return id;
}

const ZERO_SPAN_ID = '0'.repeat(16);
const ZERO_TRACE_ID = '0'.repeat(32);

// The first digit is looked at before the whole id is compared: comparing two
// equal-length strings compares their characters, in a runtime call for a slice.

/** 16 random hex digits; never all zeros (invalid in W3C trace context; as the SDK, ...01 instead). */
function newSpanId(): string {
  const id = randomHex(16);
  return id.charCodeAt(0) === 48 && id === ZERO_SPAN_ID ? `${ZERO_SPAN_ID.slice(0, -2)}01` : id;
}

/** 32 random hex digits; never all zeros. */
function newTraceId(): string {
  const id = randomHex(32);
  return id.charCodeAt(0) === 48 && id === ZERO_TRACE_ID ? `${ZERO_TRACE_ID.slice(0, -2)}01` : id;
}

export class LeanTracer implements Tracer {
  private readonly shared: LeanSpanShared;
  private readonly sampler: Sampler;
  // The ids of the last parent found valid: the spans of a trace mostly share
  // a few parents, and the API's check runs two regular expressions.
  private validTraceId = '';
  private validSpanId = '';

  constructor(options: LeanTracerOptions) {
    this.shared = { resource: options.resource, scope: options.scope, limits: options.limits, processors: options.processors };
    this.sampler = options.sampler;
  }

  startSpan(name: string, options: SpanOptions = {}, parentContext: Context = contextApi.active()): Span {
    return this.start(name, options, parentContext, false);
  }

  /**
   * startSpan for a caller that made `options.attributes` for this span alone
   * and never touches it again: the span takes that object as its own when
   * every key and value in it is one the copy would keep, instead of copying it
   * key by key (a store per key, each growing the copy's shape).
   */
  startSpanOwning(name: string, options: SpanOptions, parentContext: Context): Span {
    return this.start(name, options, parentContext, true);
  }

  private start(name: string, options: SpanOptions, parentContext: Context, owning: boolean): Span {
    let ctx = parentContext;
    if (options.root) ctx = trace.deleteSpan(ctx);
    if (isTracingSuppressed(ctx)) return trace.wrapSpanContext(INVALID_SPAN_CONTEXT);
    const parentSpanContext = trace.getSpan(ctx)?.spanContext();
    const spanId = newSpanId();
    let traceId: string;
    let traceState: SpanContext['traceState'];
    let parent: SpanContext | undefined;
    if (parentSpanContext === undefined || !this.validParent(parentSpanContext)) traceId = newTraceId();
    else {
      traceId = parentSpanContext.traceId;
      traceState = parentSpanContext.traceState;
      parent = parentSpanContext;
    }
    const kind = options.kind ?? SpanKind.INTERNAL;
    const links: Link[] = options.links === undefined ? [] : options.links.map((l) => ({ context: l.context, attributes: ownAttributes(l.attributes, true).attributes }));
    // The span's own copy (the caller may reuse its object), unless the caller gave it up and it needs no change.
    const given = owning ? keptAsIs(options.attributes) : -1;
    const own = given >= 0 ? { attributes: options.attributes!, count: given } : ownAttributes(options.attributes, false);
    const result = this.sampler.shouldSample(ctx, traceId, name, kind, own.attributes, links);
    if (result.traceState !== undefined) traceState = result.traceState;
    const traceFlags = result.decision === SamplingDecision.RECORD_AND_SAMPLED ? TraceFlags.SAMPLED : TraceFlags.NONE;
    const spanContext: SpanContext = { traceId, spanId, traceFlags, traceState };
    if (result.decision === SamplingDecision.NOT_RECORD) return trace.wrapSpanContext(spanContext);
    let count = own.count;
    const extra = result.attributes;
    if (extra !== undefined) {
      for (const k in extra) {
        const v = extra[k];
        if (!Object.prototype.hasOwnProperty.call(extra, k) || v == null || !validAttribute(k, v)) continue;
        if (!Object.prototype.hasOwnProperty.call(own.attributes, k)) count++;
        own.attributes[k] = copied(v);
      }
    }
    return new LeanSpan(this.shared, ctx, spanContext, name, kind, parent, own.attributes, count, links.length === 0 ? undefined : links, options.startTime);
  }

  /** trace.isSpanContextValid, remembering the last valid ids (strings compare by identity first). */
  private validParent(c: SpanContext): boolean {
    if (c.spanId === this.validSpanId && c.traceId === this.validTraceId) return true;
    if (!trace.isSpanContextValid(c)) return false;
    this.validTraceId = c.traceId;
    this.validSpanId = c.spanId;
    return true;
  }

  startActiveSpan<F extends (span: Span) => unknown>(name: string, fn: F): ReturnType<F>;
  startActiveSpan<F extends (span: Span) => unknown>(name: string, options: SpanOptions, fn: F): ReturnType<F>;
  startActiveSpan<F extends (span: Span) => unknown>(name: string, options: SpanOptions, context: Context, fn: F): ReturnType<F>;
  startActiveSpan<F extends (span: Span) => unknown>(name: string, a?: SpanOptions | F, b?: Context | F, c?: F): ReturnType<F> | undefined {
    let options: SpanOptions | undefined;
    let ctx: Context | undefined;
    let fn: F;
    if (typeof a === 'function') fn = a;
    else if (typeof b === 'function') {
      options = a;
      fn = b;
    } else if (typeof c === 'function') {
      options = a;
      ctx = b;
      fn = c;
    } else return undefined;
    const parentContext = ctx ?? contextApi.active();
    const span = this.startSpan(name, options, parentContext);
    return contextApi.with(trace.setSpan(parentContext, span), fn as (s: Span) => ReturnType<F>, undefined, span);
  }
}

/**
 * The number of keys in `attributes` when the checked copy would be the same
 * object (own string keys only, each valid, no null or undefined value, no
 * array to copy), else -1.
 */
function keptAsIs(attributes: Attributes | undefined): number {
  if (attributes === undefined || attributes === null || typeof attributes !== 'object' || Object.getPrototypeOf(attributes) !== Object.prototype) return -1;
  let count = 0;
  for (const k in attributes) {
    if (!Object.prototype.hasOwnProperty.call(attributes, k) || k.length === 0) return -1;
    const v = attributes[k];
    const t = typeof v;
    if (t !== 'string' && t !== 'number' && t !== 'boolean') return -1;
    count++;
  }
  return count;
}

/**
 * A checked copy of `attributes` (core's sanitizeAttributes), and its size.
 * A span drops null and undefined values (its setAttribute would); a link keeps them, as the SDK's does.
 */
function ownAttributes(attributes: Attributes | undefined, keepNull: boolean): { attributes: Attributes; count: number } {
  const out: Attributes = {};
  let count = 0;
  if (attributes === undefined || attributes === null || typeof attributes !== 'object') return { attributes: out, count };
  for (const k in attributes) {
    if (!Object.prototype.hasOwnProperty.call(attributes, k)) continue;
    const v = attributes[k];
    if ((v == null && !keepNull) || !validAttribute(k, v)) continue;
    out[k] = v == null ? v : copied(v);
    count++;
  }
  return { attributes: out, count };
}
