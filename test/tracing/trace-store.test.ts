// TraceStore and toOtlpJson fed by the real SDK (BasicTracerProvider +
// SimpleSpanProcessor). Span times are passed explicitly (ms since the epoch)
// instead of waiting, so durations and ordering are exact.
import { afterEach, describe, expect, it } from 'vitest';
import {
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  TraceFlags,
  context,
  trace,
  type Attributes,
  type Span,
  type Tracer,
} from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-grpc';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { TraceStore, type TraceStoreOptions } from '../../tracing/trace-store.js';
import { toOtlpJson, type OtlpAnyValue, type OtlpKeyValue } from '../../tracing/otlp-json.js';
import { startOtlpReceiver, type ReceivedValue } from '../support/otlp-receiver.js';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()?.();
});

const T0 = Date.UTC(2025, 0, 1, 12, 0, 0); // a fixed epoch millisecond

function setup(options?: TraceStoreOptions, service = 'guildhall') {
  const store = new TraceStore(options);
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': service }),
    spanProcessors: [new SimpleSpanProcessor(store)],
  });
  cleanups.push(() => provider.shutdown());
  return { store, provider, tracer: provider.getTracer('guildhall-test', '1.0.0') };
}

function child(tracer: Tracer, parent: Span, name: string, start: number, attributes: Attributes = {}): Span {
  return tracer.startSpan(name, { startTime: start, attributes }, trace.setSpan(ROOT_CONTEXT, parent));
}

/** A REST request that broadcasts to `recipients` sessions of a guild; returns its trace id. */
function broadcastTrace(tracer: Tracer, at: number, guild: string, recipients: number): string {
  const root = tracer.startSpan('POST /channels/:id/messages', { kind: SpanKind.SERVER, startTime: at });
  const fanout = child(tracer, root, 'guild.broadcast', at + 1, {
    'guildhall.guild.id': guild,
    'guildhall.fanout.size': recipients,
  });
  for (let i = 0; i < Math.min(recipients, 3); i++) {
    const d = tracer.startSpan(
      'session.deliver',
      { kind: SpanKind.CONSUMER, startTime: at + 2 + i, attributes: { 'guildhall.fanout.size': recipients } },
      trace.setSpan(ROOT_CONTEXT, fanout),
    );
    d.end(at + 3 + i);
  }
  fanout.end(at + 8);
  root.end(at + 10);
  return root.spanContext().traceId;
}

describe('TraceStore', () => {
  it('summarises a trace: root, start, duration, counts, guild, fanout size, services', () => {
    const { store, tracer } = setup();
    const traceId = broadcastTrace(tracer, T0, 'g-1', 250);

    expect(store.list()).toEqual([
      {
        traceId,
        rootName: 'POST /channels/:id/messages',
        start: T0,
        durationMs: 10,
        spanCount: 5,
        truncatedSpans: 0,
        tailSpans: 0,
        guild: 'g-1',
        fanoutSize: 250,
        serviceNames: ['guildhall'],
      },
    ]);
  });

  it('counts tail-capture spans per trace and lists only traces holding one when asked', () => {
    const { store, tracer } = setup();
    const plain = broadcastTrace(tracer, T0, 'g-1', 50);
    const root = tracer.startSpan('fanout session', { kind: SpanKind.PRODUCER, startTime: T0 + 20 });
    child(tracer, root, 'process session', T0 + 21, { 'guildhall.tail': true }).end(T0 + 150);
    child(tracer, root, 'process session', T0 + 21, { 'guildhall.tail': true }).end(T0 + 160);
    // Only the boolean true counts: an attribute that merely looks like it does not.
    child(tracer, root, 'process session', T0 + 21, { 'guildhall.tail': 'true' }).end(T0 + 30);
    root.end(T0 + 22);
    const slow = root.spanContext().traceId;

    expect(store.list().map((t) => [t.traceId, t.tailSpans])).toEqual([
      [slow, 2],
      [plain, 0],
    ]);
    expect(store.list({ tail: true }).map((t) => t.traceId)).toEqual([slow]);
    expect(store.list({ tail: true, guild: 'g-1' })).toEqual([]);
  });

  it('returns the spans of a trace as plain objects in start order', () => {
    const { store, tracer } = setup();
    const root = tracer.startSpan('gateway.op', { kind: SpanKind.SERVER, startTime: T0 });
    const handled = child(tracer, root, 'actor.handle', T0 + 2, { 'actor.queue.depth': 3, ok: true });
    handled.addEvent('dequeued', { waitedMs: 1.5 }, T0 + 3);
    handled.setStatus({ code: SpanStatusCode.ERROR, message: 'handler threw' });
    handled.end(T0 + 5);
    root.end(T0 + 7);

    const spans = store.get(root.spanContext().traceId);
    expect(spans?.map((s) => s.name)).toEqual(['gateway.op', 'actor.handle']);
    const [r, h] = spans ?? [];
    expect(r).toMatchObject({
      spanId: root.spanContext().spanId,
      kind: SpanKind.SERVER,
      startMs: T0,
      durationMs: 7,
      serviceName: 'guildhall',
      status: { code: SpanStatusCode.UNSET },
      startTimeUnixNano: `${T0}000000`,
      endTimeUnixNano: `${T0 + 7}000000`,
    });
    expect(r?.parentSpanId).toBeUndefined();
    expect(h).toMatchObject({
      parentSpanId: root.spanContext().spanId,
      kind: SpanKind.INTERNAL,
      startMs: T0 + 2,
      durationMs: 3,
      attributes: { 'actor.queue.depth': 3, ok: true },
      status: { code: SpanStatusCode.ERROR, message: 'handler threw' },
      events: [{ name: 'dequeued', timeMs: T0 + 3, attributes: { waitedMs: 1.5 } }],
      scope: { name: 'guildhall-test', version: '1.0.0' },
    });
    // Plain data all the way down: it survives a JSON round trip unchanged.
    expect(JSON.parse(JSON.stringify(spans))).toEqual(spans);
    expect(store.get('0'.repeat(32))).toBeUndefined();
  });

  it('lists newest first and filters by guild, minimum duration and limit', () => {
    const { store, tracer } = setup();
    const a = broadcastTrace(tracer, T0, 'g-a', 10);
    const b = broadcastTrace(tracer, T0 + 1_000, 'g-b', 10);
    const slowRoot = tracer.startSpan('slow', { startTime: T0 + 2_000 });
    slowRoot.setAttribute('guildhall.guild.id', 'g-a');
    slowRoot.end(T0 + 2_500);
    const slow = slowRoot.spanContext().traceId;

    expect(store.list().map((s) => s.traceId)).toEqual([slow, b, a]);
    expect(store.list({ guild: 'g-a' }).map((s) => s.traceId)).toEqual([slow, a]);
    expect(store.list({ minDurationMs: 100 }).map((s) => s.traceId)).toEqual([slow]);
    expect(store.list({ limit: 2 }).map((s) => s.traceId)).toEqual([slow, b]);
    expect(store.list({ guild: 'nope' })).toEqual([]);
    // A trace without the attributes has no guild or fanout size at all.
    expect(store.list({ minDurationMs: 100 })[0]).not.toHaveProperty('fanoutSize');
  });

  it('evicts the least recently updated whole traces beyond maxTraces', () => {
    const { store, tracer } = setup({ maxTraces: 3 });
    const ids = [0, 1, 2].map((i) => broadcastTrace(tracer, T0 + i * 100, `g-${i}`, 5));
    // Touch the oldest trace: a late span keeps it alive.
    const late = tracer.startSpan(
      'late',
      { startTime: T0 + 50 },
      trace.setSpanContext(ROOT_CONTEXT, {
        traceId: ids[0] ?? '',
        spanId: 'aaaaaaaaaaaaaaaa',
        traceFlags: TraceFlags.SAMPLED,
      }),
    );
    late.end(T0 + 60);
    const newer = [3, 4].map((i) => broadcastTrace(tracer, T0 + i * 100, `g-${i}`, 5));

    expect(store.get(ids[1] ?? '')).toBeUndefined();
    expect(store.get(ids[2] ?? '')).toBeUndefined();
    expect(store.get(ids[0] ?? '')).toHaveLength(6);
    expect(store.list().map((s) => s.traceId).sort()).toEqual([ids[0], ...newer].sort());
    expect(store.stats()).toEqual({ traces: 3, spans: 6 + 5 + 5, evictedTraces: 2, truncatedSpans: 0 });
  });

  it('bounds spans per trace, counts the truncation, and still keeps the root', () => {
    const { store, tracer } = setup({ maxSpansPerTrace: 5 });
    const root = tracer.startSpan('broadcast', { startTime: T0 });
    for (let i = 0; i < 10; i++) child(tracer, root, `deliver-${i}`, T0 + i).end(T0 + i + 1);
    root.end(T0 + 20); // the root ends last, after the cap was reached

    const [summary] = store.list();
    expect(summary).toMatchObject({ rootName: 'broadcast', spanCount: 6, truncatedSpans: 5, durationMs: 20 });
    expect(store.stats()).toMatchObject({ spans: 6, truncatedSpans: 5 });
  });

  it('takes as root the span whose parent is not in the trace (incoming traceparent)', () => {
    const { store, tracer } = setup();
    const remote = trace.setSpanContext(ROOT_CONTEXT, {
      traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
      spanId: '00f067aa0ba902b7',
      traceFlags: TraceFlags.SAMPLED,
      isRemote: true,
    });
    const server = tracer.startSpan('GET /gateway', { kind: SpanKind.SERVER, startTime: T0 }, remote);
    child(tracer, server, 'identify', T0 + 1).end(T0 + 2);
    server.end(T0 + 3);

    const [summary] = store.list();
    expect(summary).toMatchObject({ traceId: '4bf92f3577b34da6a3ce929d0e0e4736', rootName: 'GET /gateway' });
    expect(store.get(summary?.traceId ?? '')?.[0]).toMatchObject({
      parentSpanId: '00f067aa0ba902b7',
      parentIsRemote: true,
    });
  });

  it('collects the service names of every span in a trace', () => {
    const { store, tracer } = setup({}, 'node-a');
    // A second provider (another node) exports into the same store.
    const other = new BasicTracerProvider({
      resource: resourceFromAttributes({ 'service.name': 'node-b' }),
      spanProcessors: [new SimpleSpanProcessor(store)],
    });
    cleanups.push(() => other.shutdown());
    const root = tracer.startSpan('send', { kind: SpanKind.PRODUCER, startTime: T0 });
    other
      .getTracer('remote')
      .startSpan('receive', { kind: SpanKind.CONSUMER, startTime: T0 + 1 }, trace.setSpan(context.active(), root))
      .end(T0 + 2);
    root.end(T0 + 3);
    expect(store.list()[0]?.serviceNames).toEqual(['node-a', 'node-b']);
  });

  it('stops accepting after shutdown but keeps what it has for the viewer', async () => {
    const { store, tracer } = setup();
    broadcastTrace(tracer, T0, 'g', 1);
    await store.shutdown();
    const result = await new Promise<{ code: number }>((resolve) => store.export([], resolve));
    expect(result.code).not.toBe(0);
    expect(store.list()).toHaveLength(1);
  });
});

describe('toOtlpJson', () => {
  it('encodes resourceSpans/scopeSpans/spans with hex ids, string nanos and typed attributes', () => {
    const { store, tracer } = setup();
    const root = tracer.startSpan('root', { kind: SpanKind.SERVER, startTime: T0 });
    const c = child(tracer, root, 'child', T0 + 1, {
      s: 'x',
      i: 42,
      d: 0.5,
      b: false,
      arr: [1, 2],
      big: 2 ** 60,
    });
    c.addEvent('evt', { n: 1 }, T0 + 2);
    c.setStatus({ code: SpanStatusCode.ERROR, message: 'boom' });
    c.end(T0 + 3);
    root.end(T0 + 4);
    const traceId = root.spanContext().traceId;

    const json = toOtlpJson(store.get(traceId) ?? []);
    expect(json.resourceSpans).toHaveLength(1);
    const rs = json.resourceSpans[0];
    expect(rs?.resource.attributes).toContainEqual({ key: 'service.name', value: { stringValue: 'guildhall' } });
    expect(rs?.scopeSpans).toHaveLength(1);
    expect(rs?.scopeSpans[0]?.scope).toEqual({ name: 'guildhall-test', version: '1.0.0' });
    const [r, k] = rs?.scopeSpans[0]?.spans ?? [];
    expect(r).toMatchObject({
      traceId,
      spanId: root.spanContext().spanId,
      name: 'root',
      kind: 2, // SPAN_KIND_SERVER
      startTimeUnixNano: `${T0}000000`,
      endTimeUnixNano: `${T0 + 4}000000`,
      flags: 0x101,
      status: { code: 0 },
    });
    expect(r).not.toHaveProperty('parentSpanId');
    expect(r?.traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(k?.parentSpanId).toBe(root.spanContext().spanId);
    expect(k?.kind).toBe(1); // SPAN_KIND_INTERNAL
    expect(k?.attributes).toEqual([
      { key: 's', value: { stringValue: 'x' } },
      { key: 'i', value: { intValue: '42' } },
      { key: 'd', value: { doubleValue: 0.5 } },
      { key: 'b', value: { boolValue: false } },
      { key: 'arr', value: { arrayValue: { values: [{ intValue: '1' }, { intValue: '2' }] } } },
      { key: 'big', value: { intValue: '1152921504606846976' } },
    ]);
    expect(k?.events).toEqual([
      { timeUnixNano: `${T0 + 2}000000`, name: 'evt', attributes: [{ key: 'n', value: { intValue: '1' } }] },
    ]);
    expect(k?.status).toEqual({ code: 2, message: 'boom' });
    // It is JSON: a round trip changes nothing.
    expect(JSON.parse(JSON.stringify(json))).toEqual(json);
  });

  it('groups spans by resource and by scope', () => {
    const store = new TraceStore();
    const a = new BasicTracerProvider({
      resource: resourceFromAttributes({ 'service.name': 'a' }),
      spanProcessors: [new SimpleSpanProcessor(store)],
    });
    const b = new BasicTracerProvider({
      resource: resourceFromAttributes({ 'service.name': 'b' }),
      spanProcessors: [new SimpleSpanProcessor(store)],
    });
    cleanups.push(() => a.shutdown(), () => b.shutdown());
    const root = a.getTracer('one').startSpan('r', { startTime: T0 });
    a.getTracer('two').startSpan('x', { startTime: T0 + 1 }, trace.setSpan(ROOT_CONTEXT, root)).end(T0 + 2);
    b.getTracer('one').startSpan('y', { startTime: T0 + 1 }, trace.setSpan(ROOT_CONTEXT, root)).end(T0 + 2);
    root.end(T0 + 3);

    const json = toOtlpJson(store.get(root.spanContext().traceId) ?? []);
    const shape = json.resourceSpans.map((rs) => ({
      service: rs.resource.attributes.find((kv) => kv.key === 'service.name')?.value,
      scopes: rs.scopeSpans.map((ss) => [ss.scope.name, ss.spans.map((s) => s.name)]),
    }));
    expect(shape).toEqual([
      { service: { stringValue: 'a' }, scopes: [['one', ['r']], ['two', ['x']]] },
      { service: { stringValue: 'b' }, scopes: [['one', ['y']]] },
    ]);
  });

  it('agrees with what the SDK OTLP/gRPC exporter puts on the wire', async () => {
    const receiver = await startOtlpReceiver();
    cleanups.push(() => receiver.close());
    const store = new TraceStore();
    const provider = new BasicTracerProvider({
      resource: resourceFromAttributes({ 'service.name': 'wire-check', 'host.cores': 2 }),
      spanProcessors: [new SimpleSpanProcessor(store), new SimpleSpanProcessor(new OTLPTraceExporter({ url: receiver.url }))],
    });
    cleanups.push(() => provider.shutdown());
    const tracer = provider.getTracer('wire', '9.9.9');
    const traceId = broadcastTrace(tracer, T0, 'g-wire', 7);
    const extra = tracer.startSpan('attrs', { startTime: T0, attributes: { f: 1.25, list: ['a', 'b'], yes: true } });
    extra.addEvent('e', { k: 'v' }, T0 + 1);
    extra.end(T0 + 2);
    await provider.forceFlush();
    const wire = await receiver.waitForSpans((s) => s.length >= 6);

    const spans = [...(store.get(traceId) ?? []), ...(store.get(extra.spanContext().traceId) ?? [])];
    const ours = toOtlpJson(spans).resourceSpans.flatMap((rs) =>
      rs.scopeSpans.flatMap((ss) => ss.spans.map((s) => ({ s, resource: plain(rs.resource.attributes), scope: ss.scope }))),
    );
    expect(ours).toHaveLength(6);
    for (const { s, resource, scope } of ours) {
      const w = wire.find((x) => x.spanId === s.spanId);
      expect(w, s.name).toBeDefined();
      expect({
        traceId: s.traceId,
        parentSpanId: s.parentSpanId ?? '',
        name: s.name,
        kind: s.kind,
        flags: s.flags,
        start: s.startTimeUnixNano,
        end: s.endTimeUnixNano,
        attributes: plain(s.attributes),
        events: s.events.map((e) => ({ name: e.name, timeUnixNano: e.timeUnixNano, attributes: plain(e.attributes) })),
        status: { code: s.status.code, message: s.status.message ?? '' },
        resource,
        scope: { name: scope.name, version: scope.version ?? '' },
      }).toEqual({
        traceId: w?.traceId,
        parentSpanId: w?.parentSpanId,
        name: w?.name,
        kind: w?.kind,
        flags: w?.flags,
        start: w?.startTimeUnixNano,
        end: w?.endTimeUnixNano,
        attributes: w?.attributes,
        events: w?.events,
        status: w?.status,
        resource: w?.resource,
        scope: w?.scope,
      });
    }
  });
});

/** Decodes OTLP/JSON attributes to plain values, the same way the test receiver does. */
function plain(kvs: OtlpKeyValue[]): Record<string, ReceivedValue> {
  return Object.fromEntries(kvs.map((kv) => [kv.key, plainValue(kv.value)]));
}

function plainValue(v: OtlpAnyValue): ReceivedValue {
  if ('stringValue' in v) return v.stringValue;
  if ('boolValue' in v) return v.boolValue;
  if ('intValue' in v) return Number(v.intValue);
  if ('doubleValue' in v) return Number(v.doubleValue);
  if ('arrayValue' in v) return v.arrayValue.values.map(plainValue);
  if ('kvlistValue' in v) return plain(v.kvlistValue.values);
  if ('bytesValue' in v) return Buffer.from(v.bytesValue, 'base64').toString('hex');
  return null;
}
