// The lean tracer against the SDK's: the same calls on both must give spans
// that read the same (names, kinds, parents, attributes, events, links,
// status, times given, drops under limits), that both OTLP encoders turn into
// the same bytes, and the same decisions (sampler, suppression, root).
import { type Attributes, ROOT_CONTEXT, type Span, SpanKind, SpanStatusCode, type Tracer, context, createTraceState, trace } from '@opentelemetry/api';
import { suppressTracing } from '@opentelemetry/core';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  type Sampler,
  SamplingDecision,
  SimpleSpanProcessor,
  type SpanLimits,
} from '@opentelemetry/sdk-trace-base';
import { describe, expect, it } from 'vitest';
import { DEFAULT_SPAN_LIMITS, type ResolvedSpanLimits } from '../../tracing/lean-span.js';
import { LeanTracer } from '../../tracing/lean-tracer.js';
import { encodeSpan, encodeTraceExportRequest } from '../../tracing/otlp-protobuf.js';
import { ensureContextManager } from '../support/tracing.js';

/** An SDK tracer and a lean one over the same resource, sampler and limits, each with its own span list. */
function pair(sampler: Sampler = new AlwaysOnSampler(), limits: Partial<ResolvedSpanLimits> = {}) {
  const resource = resourceFromAttributes({ 'service.name': 'lean-test' });
  const sdkSpans = new InMemorySpanExporter();
  const sdk = new BasicTracerProvider({ resource, sampler, spanLimits: limits as SpanLimits, spanProcessors: [new SimpleSpanProcessor(sdkSpans)] }).getTracer('guildhall');
  const leanSpans = new InMemorySpanExporter();
  const lean = new LeanTracer({
    resource,
    scope: { name: 'guildhall', version: undefined, schemaUrl: undefined },
    limits: { ...DEFAULT_SPAN_LIMITS, ...limits },
    processors: [new SimpleSpanProcessor(leanSpans)],
    sampler,
  });
  return { sdk, lean, sdkSpans: () => sdkSpans.getFinishedSpans(), leanSpans: () => leanSpans.getFinishedSpans() };
}

const T0 = Date.UTC(2026, 11, 2, 6, 0, 0) + 0.25;
/** One error for both tracers: its stack names the line that made it. */
const BOOM = new TypeError('boom');

/** What a span says apart from its ids. */
function content(s: ReadableSpan) {
  return {
    name: s.name,
    kind: s.kind,
    parent: s.parentSpanContext?.spanId !== undefined,
    traceFlags: s.spanContext().traceFlags,
    traceState: s.spanContext().traceState?.serialize(),
    startTime: s.startTime,
    endTime: s.endTime,
    duration: s.duration,
    ended: s.ended,
    attributes: s.attributes,
    events: s.events,
    links: s.links.map((l) => ({ ...l, context: { ...l.context, spanId: 'x', traceId: 'x' } })),
    status: s.status,
    dropped: [s.droppedAttributesCount, s.droppedEventsCount, s.droppedLinksCount],
    resource: s.resource.attributes,
    scope: s.instrumentationScope.name,
  };
}

/** A workout of the span API, with every time given so that both tracers' spans can be compared exactly. */
function workout(tracer: Tracer): void {
  const root = tracer.startSpan('POST /x', { kind: SpanKind.SERVER, startTime: T0, attributes: { 'http.method': 'POST', skipped: undefined, list: ['a', 'b'], n: 3, ok: true } });
  const parent = trace.setSpan(ROOT_CONTEXT, root);
  const child = tracer.startSpan('session process', { kind: SpanKind.CONSUMER, startTime: T0 + 1.5, attributes: { 'actor.id': 'a1', wait: 0.125 } }, parent);
  child.setAttribute('fanout.size', 1000);
  child.setAttributes({ 'fanout.rate': 0.01, bad: {} as never, '': 1 });
  child.addEvent('mailbox.dequeued', T0 + 2);
  child.addEvent('gateway.send', { 'gateway.seq': 7, nothing: null as never }, T0 + 2.5);
  child.recordException(BOOM, T0 + 2.75);
  child.setStatus({ code: SpanStatusCode.ERROR, message: 'boom' });
  child.updateName('session process!');
  child.end(T0 + 3);
  child.setAttribute('after', 1);
  child.end(T0 + 4);
  const commit = tracer.startSpan(
    'COMMIT',
    { kind: SpanKind.CLIENT, startTime: T0 + 3, links: [{ context: child.spanContext() }, { context: root.spanContext(), attributes: { why: 'batch', no: undefined } }] },
    parent,
  );
  commit.addLink({ context: child.spanContext(), attributes: { late: true } });
  commit.setStatus({ code: SpanStatusCode.OK });
  commit.setStatus({ code: SpanStatusCode.ERROR, message: 'ignored after OK' });
  commit.end([Math.floor((T0 + 3.5) / 1000), 123_456_789]);
  root.end(T0 + 5);
}

describe('LeanTracer', () => {
  it('makes spans that read as the SDK tracer makes them', () => {
    const p = pair();
    workout(p.sdk);
    workout(p.lean);
    const [a, b] = [p.sdkSpans(), p.leanSpans()];
    expect(b).toHaveLength(3);
    expect(b.map(content)).toEqual(a.map(content));
    // A child carries its parent's trace id and the parent's span id.
    const [child, , root] = b;
    expect(child!.spanContext().traceId).toBe(root!.spanContext().traceId);
    expect(child!.parentSpanContext?.spanId).toBe(root!.spanContext().spanId);
    expect(child!.spanContext().spanId).toMatch(/^[0-9a-f]{16}$/);
    expect(root!.spanContext().traceId).toMatch(/^[0-9a-f]{32}$/);
  });

  it('spans without given times start at Date.now() and last what the performance clock measured, as the SDK', () => {
    const p = pair();
    const before = Date.now();
    const span = p.lean.startSpan('timed');
    const t0 = performance.now();
    while (performance.now() - t0 < 3);
    span.end();
    const s = p.leanSpans()[0]!;
    const startMs = s.startTime[0] * 1000 + s.startTime[1] / 1e6;
    expect(startMs).toBeGreaterThanOrEqual(before);
    expect(startMs).toBeLessThanOrEqual(Date.now());
    const durationMs = s.duration[0] * 1000 + s.duration[1] / 1e6;
    expect(durationMs).toBeGreaterThanOrEqual(3);
    expect(durationMs).toBeLessThan(1000);
  });

  it('applies the same limits (attributes, events, links, value length) and counts what it drops', () => {
    const limits = { attributeCountLimit: 2, eventCountLimit: 1, linkCountLimit: 1, attributePerEventCountLimit: 1, attributePerLinkCountLimit: 1, attributeValueLengthLimit: 3 };
    const p = pair(new AlwaysOnSampler(), limits);
    for (const tracer of [p.sdk, p.lean]) {
      const other = tracer.startSpan('other', { startTime: T0 });
      const span = tracer.startSpan('limited', { startTime: T0, attributes: { a: 'abcdef', b: ['xyz1', 'q'], c: 3 }, links: [{ context: other.spanContext(), attributes: { x: 1, y: 2 } }] });
      span.setAttribute('d', 4);
      span.setAttribute('a', 'again');
      span.addEvent('e1', { k1: 'long value', k2: 2 }, T0 + 1);
      span.addEvent('e2', T0 + 2);
      span.addLink({ context: other.spanContext() });
      span.end(T0 + 3);
      other.end(T0 + 3);
    }
    expect(p.leanSpans().map(content)).toEqual(p.sdkSpans().map(content));
    expect(p.leanSpans()[0]!.droppedAttributesCount).toBe(2);
  });

  it('startSpanOwning takes an object that needs no change as the span\'s own, and copies any other as startSpan does', () => {
    const limits = { attributeCountLimit: 3 };
    for (const l of [{}, limits]) {
      const p = pair(new AlwaysOnSampler(), l);
      const inherited = Object.assign(Object.create({ inherited: 'x' }) as Attributes, { a: 1 });
      const given: Attributes[] = [
        { 'messaging.system': 'guildhall.actors', 'guildhall.actor.id': 'a1', wait: 0.125, ok: false },
        { a: 'x', skipped: undefined, nothing: null as never },
        { a: 'x', list: ['a', 'b'] },
        { a: 'x', '': 1 },
        { a: 'x', bad: {} as never },
        inherited,
      ];
      const owned = given.map((attributes) => ({ ...attributes }));
      for (let i = 0; i < given.length; i++) {
        p.sdk.startSpan(`s${i}`, { kind: SpanKind.CONSUMER, startTime: T0, attributes: given[i] }, ROOT_CONTEXT).end(T0 + 1);
        p.lean.startSpanOwning(`s${i}`, { kind: SpanKind.CONSUMER, startTime: T0, attributes: i === 5 ? inherited : owned[i] }, ROOT_CONTEXT).end(T0 + 1);
      }
      const leanSpans = p.leanSpans();
      expect(leanSpans.map(content)).toEqual(p.sdkSpans().map(content));
      // The first needed no change: no copy, unless a limit applies (the span then keeps what fits).
      expect(leanSpans[0]!.attributes === owned[0]).toBe(l === limits ? false : true);
      for (let i = 1; i < given.length; i++) expect(leanSpans[i]!.attributes).not.toBe(i === 5 ? inherited : owned[i]);
    }
  });

  it('is encoded to the same OTLP bytes by our encoder and by the SDK serializer, ended or encoded at end', () => {
    const p = pair();
    workout(p.lean);
    const spans = p.leanSpans() as ReadableSpan[];
    const reference = Buffer.from(ProtobufTraceSerializer.serializeRequest(spans)!);
    expect(Buffer.from(encodeTraceExportRequest(spans)).equals(reference)).toBe(true);
    expect(Buffer.from(encodeTraceExportRequest(spans.map(encodeSpan))).equals(reference)).toBe(true);
  });

  it('follows the sampler: no recording span when it says NOT_RECORD, its trace state and attributes when it samples', () => {
    const off = pair(new AlwaysOffSampler());
    const dropped = off.lean.startSpan('dropped');
    expect(dropped.isRecording()).toBe(false);
    expect(dropped.spanContext().traceFlags & 1).toBe(0);
    dropped.end();
    expect(off.leanSpans()).toHaveLength(0);

    const tagging: Sampler = {
      shouldSample: () => ({ decision: SamplingDecision.RECORD_AND_SAMPLED, attributes: { 'sampler.tag': 'yes', gone: undefined }, traceState: createTraceState('gh=1') }),
      toString: () => 'tagging',
    };
    const tagged = pair(tagging);
    const span = tagged.lean.startSpan('tagged', { attributes: { own: 1 } });
    span.end();
    const s = tagged.leanSpans()[0]!;
    expect(s.attributes).toEqual({ own: 1, 'sampler.tag': 'yes' });
    expect(s.spanContext().traceState?.serialize()).toBe('gh=1');

    const recordOnly: Sampler = { shouldSample: () => ({ decision: SamplingDecision.RECORD }), toString: () => 'record' };
    const recorded = pair(recordOnly).lean.startSpan('recorded');
    expect(recorded.isRecording()).toBe(true);
    expect(recorded.spanContext().traceFlags & 1).toBe(0);
  });

  it('makes nothing under suppressed tracing, and `root` ignores the active parent', () => {
    const p = pair();
    const suppressed = p.lean.startSpan('quiet', {}, suppressTracing(ROOT_CONTEXT));
    expect(suppressed.isRecording()).toBe(false);
    expect(trace.isSpanContextValid(suppressed.spanContext())).toBe(false);

    const parent = p.lean.startSpan('parent');
    const root = p.lean.startSpan('new root', { root: true }, trace.setSpan(ROOT_CONTEXT, parent));
    expect(root.spanContext().traceId).not.toBe(parent.spanContext().traceId);
    root.end();
    parent.end();
    expect(p.leanSpans()[0]!.parentSpanContext).toBeUndefined();
  });

  it('startActiveSpan runs the function in the new span, in each of its forms', () => {
    ensureContextManager();
    const p = pair();
    const seen: (Span | undefined)[] = [];
    const body = (span: Span) => {
      seen.push(trace.getSpan(context.active()) === span ? span : undefined);
      span.end();
      return 42;
    };
    const attributes: Attributes = { a: 1 };
    expect(p.lean.startActiveSpan('one', body)).toBe(42);
    expect(p.lean.startActiveSpan('two', { attributes }, body)).toBe(42);
    expect(p.lean.startActiveSpan('three', { attributes }, ROOT_CONTEXT, body)).toBe(42);
    expect(seen.every((s) => s !== undefined)).toBe(true);
    expect(p.leanSpans().map((s) => s.name)).toEqual(['one', 'two', 'three']);
  });
});
