// The one-pass OTLP encoder against OpenTelemetry's own serializer: for spans
// made by the real SDK (and a few hand-built ones for value types the API does
// not let a span carry), the bytes must be identical. Then the real exporter
// path: our exporter to a real gRPC receiver that decodes with the .proto files.
import { afterEach, describe, expect, it } from 'vitest';
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, TraceFlags, context, trace, type Attributes, type Link } from '@opentelemetry/api';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { TraceState } from '@opentelemetry/core';
import { EncodedSpan, encodeSpan, encodeTraceExportRequest, encoderRetainedBytes } from '../../tracing/otlp-protobuf.js';
import { CountingBatchSpanProcessor } from '../../tracing/batch-processor.js';
import { OtlpGrpcSpanExporter } from '../../tracing/otlp-grpc-exporter.js';
import { startOtlpReceiver } from '../support/otlp-receiver.js';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()?.();
});

function reference(spans: ReadableSpan[]): Buffer {
  return Buffer.from(ProtobufTraceSerializer.serializeRequest(spans)!);
}

function ours(spans: ReadableSpan[]): Buffer {
  return Buffer.from(encodeTraceExportRequest(spans));
}

/** A provider whose finished spans are kept in memory. */
function recorder(service: string, extra: Attributes = {}) {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': service, ...extra }),
    spanProcessors: [new SimpleSpanProcessor(exporter)],
  });
  return { provider, spans: () => exporter.getFinishedSpans() };
}

const T0 = Date.UTC(2026, 10, 30, 12, 0, 0);

describe('encodeTraceExportRequest', () => {
  it('writes the same bytes as the SDK serializer for every span kind, attribute type, event, link and status', () => {
    const { provider, spans } = recorder('guildhall', { 'service.instance.id': 'i-1', 'host.cpu.count': 2 });
    const tracer = provider.getTracer('guildhall', '1.2.3');
    const remote = trace.setSpanContext(ROOT_CONTEXT, {
      traceId: '0af7651916cd43dd8448eb211c80319c',
      spanId: 'b7ad6b7169203331',
      traceFlags: TraceFlags.SAMPLED,
      isRemote: true,
      traceState: new TraceState('guildhall=debug,vendor=x'),
    });
    const root = tracer.startSpan(
      'POST /channels/:id/messages',
      {
        kind: SpanKind.SERVER,
        startTime: T0,
        attributes: {
          ascii: 'plain',
          empty: '',
          accents: 'héllo wörld ✓ 🎉',
          yes: true,
          no: false,
          zero: 0,
          small: 7,
          big: 2 ** 40,
          huge: 2 ** 62,
          beyond: 2 ** 63,
          negative: -5,
          min64: -(2 ** 63),
          half: 0.5,
          nan: Number.NaN,
          inf: Number.POSITIVE_INFINITY,
          strings: ['a', 'b', ''],
          numbers: [1, 2.5, -3],
          bools: [true, false],
          withNull: ['x', null, 'y'],
        },
      },
      remote,
    );
    const link: Link = { context: root.spanContext(), attributes: { 'link.kind': 'follows' } };
    for (const kind of [SpanKind.INTERNAL, SpanKind.CLIENT, SpanKind.PRODUCER, SpanKind.CONSUMER]) {
      const child = tracer.startSpan(`child ${kind}`, { kind, startTime: T0 + 1, links: [link] }, trace.setSpan(context.active(), root));
      child.addEvent('mailbox.dequeued', T0 + 2);
      child.addEvent('gateway.send', { 'gateway.event': 'MESSAGE_CREATE', 'gateway.seq': 12, 'gateway.written': true }, T0 + 3);
      child.setAttribute('guildhall.mailbox.wait_ms', 0.123);
      child.end(T0 + 4);
    }
    root.setStatus({ code: SpanStatusCode.ERROR, message: 'socket closed' });
    root.recordException(new Error('boom'));
    root.end([1_764_504_000, 999_999_999]);
    tracer.startSpan('a root: no parent, no attributes, status unset').end();

    const all = spans() as ReadableSpan[];
    expect(all).toHaveLength(6);
    expect(ours(all).equals(reference(all))).toBe(true);
  });

  it('groups by resource, then scope, in first-seen order, with versions and schema URLs', () => {
    const a = recorder('guildhall');
    const b = recorder('client-sim');
    const tracers = [a.provider.getTracer('one', '1.0.0', { schemaUrl: 'https://opentelemetry.io/schemas/1.26.0' }), b.provider.getTracer('two'), a.provider.getTracer('three')];
    for (let i = 0; i < 3; i++) for (const tracer of tracers) tracer.startSpan(`span ${i}`).end();
    const mixed: ReadableSpan[] = [];
    // Interleave the two providers' spans, as one batch processor fed by both would.
    const as = a.spans() as ReadableSpan[];
    const bs = b.spans() as ReadableSpan[];
    for (let i = 0; i < Math.max(as.length, bs.length); i++) {
      if (bs[i]) mixed.push(bs[i]!);
      if (as[i]) mixed.push(as[i]!);
    }
    expect(ours(mixed).equals(reference(mixed))).toBe(true);
  });

  it('handles lengths that need 1 to 4 bytes (long strings, a span over 16 KiB, a request over 2 MiB)', () => {
    const { provider, spans } = recorder('guildhall');
    const tracer = provider.getTracer('guildhall');
    tracer.startSpan('short', { attributes: { s: 'x'.repeat(127) } }).end();
    tracer.startSpan('two-byte', { attributes: { s: 'x'.repeat(128), t: 'é'.repeat(200) } }).end();
    tracer.startSpan('three-byte span', { attributes: { s: 'y'.repeat(20_000) } }).end();
    for (let i = 0; i < 40; i++) tracer.startSpan(`bulk ${i}`, { attributes: { blob: String(i).repeat(60_000) } }).end();
    const all = spans() as ReadableSpan[];
    const bytes = ours(all);
    expect(bytes.length).toBeGreaterThan(2 * 1024 * 1024);
    expect(bytes.equals(reference(all))).toBe(true);
    // A buffer grown for one outsized request is not kept for the next: memory stays bounded.
    for (let i = 0; i < 40; i++) tracer.startSpan(`bulk ${i}`, { attributes: { blob: String(i).repeat(120_000) } }).end();
    expect(encodeTraceExportRequest(spans() as ReadableSpan[]).length).toBeGreaterThan(4 * 1024 * 1024);
    expect(encoderRetainedBytes()).toBeLessThanOrEqual(4 * 1024 * 1024);
  });

  it('writes value types a span cannot carry through the API as the SDK serializer does (bytes, maps, undefined)', () => {
    const { provider, spans } = recorder('guildhall');
    provider.getTracer('guildhall').startSpan('base').end();
    const base = spans()[0]!;
    const odd = Object.create(base) as ReadableSpan;
    Object.defineProperty(odd, 'attributes', {
      value: { bytes: new Uint8Array([0, 1, 255]), map: { a: 1, nested: { b: ['c'] } }, missing: undefined, nothing: null },
    });
    expect(ours([odd]).equals(reference([odd]))).toBe(true);
  });

  it('encodes attribute keys past its key cache, and each request independently of the last', () => {
    const { provider, spans } = recorder('guildhall');
    const tracer = provider.getTracer('guildhall');
    // 128 attributes per span is the SDK's default limit: six spans carry 768 distinct keys.
    for (let n = 0; n < 6; n++) {
      const many: Attributes = {};
      for (let i = 0; i < 128; i++) many[`key.${n}.${i}`] = i;
      tracer.startSpan(`many keys ${n}`, { attributes: many }).end();
    }
    const all = spans() as ReadableSpan[];
    expect(all.every((s) => Object.keys(s.attributes).length === 128)).toBe(true);
    expect(ours(all).equals(reference(all))).toBe(true);
    expect(ours(all).equals(reference(all))).toBe(true);
    const [first, second] = all;

    const one = encodeTraceExportRequest([first!]);
    const copy = Buffer.from(one);
    const two = ours([first!, second!]);
    expect(two.equals(reference([first!, second!]))).toBe(true);
    // The writer's buffer is reused: what an earlier call returned must not change.
    expect(Buffer.from(one).equals(copy)).toBe(true);
    expect(ours([first!]).equals(copy)).toBe(true);
    expect(ours([]).equals(reference([]))).toBe(true);
  });
});

describe('encodeSpan: spans encoded as they end', () => {
  it('a request of spans encoded one by one, alone or mixed with spans, is the same bytes as the SDK serializer', () => {
    const a = recorder('guildhall', { 'service.instance.id': 'i-1' });
    const b = recorder('client-sim');
    const tracers = [a.provider.getTracer('one', '1.0.0', { schemaUrl: 'https://opentelemetry.io/schemas/1.26.0' }), b.provider.getTracer('two'), a.provider.getTracer('three')];
    for (let i = 0; i < 4; i++) {
      for (const tracer of tracers) {
        const root = tracer.startSpan(`fanout ${i}`, { kind: SpanKind.PRODUCER, startTime: T0, attributes: { 'guildhall.fanout.size': 1000, 'guildhall.event': 'MESSAGE_CREATE', big: 'é'.repeat(100 * i) } });
        const child = tracer.startSpan(`process ${i}`, { kind: SpanKind.CONSUMER, startTime: T0 + 1 }, trace.setSpan(ROOT_CONTEXT, root));
        child.addEvent('mailbox.dequeued', T0 + 2);
        child.setStatus({ code: SpanStatusCode.ERROR, message: 'x' });
        child.end(T0 + 3);
        root.end(T0 + 4);
      }
    }
    const all = [...a.spans(), ...b.spans()] as ReadableSpan[];
    const encoded = all.map(encodeSpan);
    expect(encoded.every((e) => e instanceof EncodedSpan)).toBe(true);
    // A span's bytes are its own: encoding the next one reuses the writer without touching them.
    const firstCopy = Buffer.from(encoded[0]!.bytes);
    encodeSpan(all[1]!);
    expect(Buffer.from(encoded[0]!.bytes).equals(firstCopy)).toBe(true);
    expect(Buffer.from(encodeTraceExportRequest(encoded)).equals(reference(all))).toBe(true);
    const mixed = all.map((s, i) => (i % 2 ? s : encoded[i]!));
    expect(Buffer.from(encodeTraceExportRequest(mixed)).equals(reference(all))).toBe(true);
  });
});

describe('encodeSpan: shared slabs and id caches', () => {
  it('spans spread over several slabs, one larger than a slab, runs cut by unencoded spans: the SDK serializer\'s bytes', () => {
    const { provider, spans } = recorder('guildhall', { 'service.instance.id': 'i-1' });
    const tracer = provider.getTracer('guildhall', '1.0.0');
    const remote = trace.setSpanContext(ROOT_CONTEXT, { traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331', traceFlags: TraceFlags.SAMPLED, isRemote: true });
    for (let i = 0; i < 600; i++) {
      const fanout = tracer.startSpan('fanout session', { kind: SpanKind.PRODUCER, startTime: T0, attributes: { 'guildhall.fanout.size': 1000, i } }, i % 3 ? remote : ROOT_CONTEXT);
      for (let k = 0; k < 3; k++) {
        const child = tracer.startSpan('process session', { kind: SpanKind.CONSUMER, startTime: T0 + 1, attributes: { 'guildhall.actor.id': String(k), 'guildhall.message.kind': 'MESSAGE_CREATE' } }, trace.setSpan(ROOT_CONTEXT, fanout));
        child.addEvent('mailbox.dequeued', T0 + 2);
        child.end(T0 + 3);
      }
      fanout.end(T0 + 4);
      // One span far larger than a slab, in the middle of one: the slab grows under the spans already in it.
      if (i === 300) tracer.startSpan('outsized', { attributes: { blob: 'z'.repeat(100_000) } }).end();
    }
    const all = spans() as ReadableSpan[];
    const encoded = all.map(encodeSpan);
    const slabs = new Set(encoded.map((e) => e.buf));
    expect(slabs.size).toBeGreaterThan(2);
    const copies = encoded.map((e) => Buffer.from(e.bytes));
    expect(Buffer.from(encodeTraceExportRequest(encoded)).equals(reference(all))).toBe(true);
    // Every third span left as it is: the runs of encoded ones are cut there.
    const mixed = all.map((s, i) => (i % 3 === 1 ? s : encoded[i]!));
    expect(Buffer.from(encodeTraceExportRequest(mixed)).equals(reference(all))).toBe(true);
    // Out of order, so that no two neighbours are one run.
    const shuffled = [...all.keys()].sort((a, b) => ((a * 7919) % 1009) - ((b * 7919) % 1009));
    expect(Buffer.from(encodeTraceExportRequest(shuffled.map((i) => encoded[i]!))).equals(reference(shuffled.map((i) => all[i]!)))).toBe(true);
    // Later spans never wrote over earlier ones.
    encodeSpan(all[0]!);
    expect(encoded.every((e, i) => Buffer.from(e.bytes).equals(copies[i]!))).toBe(true);
  });

  it('ids that repeat, alternate, or differ in their last digit only, in spans and links: the SDK serializer\'s bytes', () => {
    const { provider, spans } = recorder('guildhall');
    const tracer = provider.getTracer('guildhall');
    const ids = ['0af7651916cd43dd8448eb211c80319c', '0af7651916cd43dd8448eb211c80319d', 'ffffffffffffffffffffffffffffffff'];
    const parents = ['b7ad6b7169203331', 'b7ad6b7169203332', '00f067aa0ba902b7'];
    for (let i = 0; i < 30; i++) {
      // Equal ids as distinct string objects too (sliced from a longer string), as a parsed traceparent gives them.
      const traceId = `x${ids[i % 3]!}`.slice(1);
      const spanId = i % 2 ? parents[i % 3]! : `-${parents[(i >> 1) % 3]!}`.slice(1);
      const parent = trace.setSpanContext(ROOT_CONTEXT, { traceId, spanId, traceFlags: TraceFlags.SAMPLED, isRemote: i % 4 === 0 });
      const links: Link[] = [{ context: { traceId: ids[(i + 1) % 3]!, spanId: parents[(i + 2) % 3]!, traceFlags: TraceFlags.SAMPLED } }];
      tracer.startSpan(`span ${i}`, { startTime: T0, links }, parent).end(T0 + 1);
    }
    const all = spans() as ReadableSpan[];
    expect(Buffer.from(encodeTraceExportRequest(all.map(encodeSpan))).equals(reference(all))).toBe(true);
    expect(ours(all).equals(reference(all))).toBe(true);
  });
});

describe('attribute fields kept whole', () => {
  it('values that repeat, change, settle, change type, and keys shared by spans, events and links: the SDK serializer\'s bytes', () => {
    const { provider, spans } = recorder('guildhall');
    const tracer = provider.getTracer('guildhall');
    const values: unknown[] = ['a', 'a', 'b', 0, -0, 0, 1.5, Number.NaN, Number.NaN, true, false, true, 'é', 'é', 2 ** 40, 2 ** 40, -1];
    for (let i = 0; i < 120; i++) {
      const attributes: Attributes = {
        // The same value every time.
        'messaging.system': 'guildhall.actors',
        // A new value every time: the key stops being kept.
        'guildhall.actor.id': String(i),
        // Every kind of value, repeated and not.
        'value': values[i % values.length] as string,
        // Changes often at first, then settles.
        'settles': i < 40 ? i : 7,
      };
      const span = tracer.startSpan('process session', { startTime: T0, attributes, links: [{ context: { traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331', traceFlags: 1 }, attributes: { value: 'a' } }] });
      // The same keys in an event: another field number, the same value.
      span.addEvent('gateway.send', { 'messaging.system': 'guildhall.actors', value: values[(i + 1) % values.length] as string }, T0 + 1);
      span.end(T0 + 2);
    }
    const all = spans() as ReadableSpan[];
    expect(ours(all).equals(reference(all))).toBe(true);
    expect(Buffer.from(encodeTraceExportRequest(all.map(encodeSpan))).equals(reference(all))).toBe(true);
    // And again, with every cache warm.
    expect(ours(all).equals(reference(all))).toBe(true);
  });
});

describe('OtlpGrpcSpanExporter', () => {
  it('behind the batch processor: each span is encoded as it ends, and the receiver reads the batch back whole', async () => {
    const receiver = await startOtlpReceiver();
    cleanups.push(() => receiver.close());
    const exporter = new OtlpGrpcSpanExporter({ url: receiver.url });
    const exported: unknown[][] = [];
    const send = exporter.export.bind(exporter);
    // Sees what the processor hands the exporter, then lets the real export run.
    exporter.export = (items, done) => {
      exported.push(items);
      send(items, done);
    };
    const processor = new CountingBatchSpanProcessor({ exporter, scheduledDelayMillis: 10 });
    const provider = new BasicTracerProvider({ resource: resourceFromAttributes({ 'service.name': 'guildhall' }), spanProcessors: [processor] });
    cleanups.push(() => provider.shutdown());
    const tracer = provider.getTracer('guildhall', '0.1.0');
    const root = tracer.startSpan('fanout session', { kind: SpanKind.PRODUCER, attributes: { 'guildhall.fanout.size': 3 } });
    for (let i = 0; i < 3; i++) tracer.startSpan('process session', { kind: SpanKind.CONSUMER, attributes: { i } }, trace.setSpan(ROOT_CONTEXT, root)).end();
    root.end();
    await processor.forceFlush();

    expect(exported.flat()).toHaveLength(4);
    expect(exported.flat().every((item) => item instanceof EncodedSpan)).toBe(true);
    const got = await receiver.waitForSpans((s) => s.length >= 4);
    expect(got.filter((s) => s.name === 'process session').map((s) => s.parentSpanId)).toEqual(Array(3).fill(root.spanContext().spanId));
    expect(got.find((s) => s.name === 'fanout session')!.attributes).toEqual({ 'guildhall.fanout.size': 3 });
    expect(got.every((s) => s.resource['service.name'] === 'guildhall')).toBe(true);
    expect(processor.stats()).toMatchObject({ queued: 4, exported: 4, failed: 0 });
  });


  it('delivers spans that a receiver decoding with the OTLP .proto files reads back whole', async () => {
    const receiver = await startOtlpReceiver();
    cleanups.push(() => receiver.close());
    const exporter = new OtlpGrpcSpanExporter({ url: receiver.url });
    const provider = new BasicTracerProvider({
      resource: resourceFromAttributes({ 'service.name': 'guildhall' }),
      spanProcessors: [new SimpleSpanProcessor(exporter)],
    });
    cleanups.push(() => provider.shutdown());
    const tracer = provider.getTracer('guildhall', '0.1.0');
    const parent = tracer.startSpan('guild process', { kind: SpanKind.CONSUMER, attributes: { 'guildhall.actor.id': 'guild:1', 'guildhall.mailbox.depth': 3, 'guildhall.mailbox.wait_ms': 1.5, kept: true, tags: ['a', 'é'] } });
    const child = tracer.startSpan('session process', { kind: SpanKind.CONSUMER }, trace.setSpan(ROOT_CONTEXT, parent));
    child.addEvent('gateway.send', { 'gateway.seq': 12 });
    child.setStatus({ code: SpanStatusCode.ERROR, message: 'socket closed' });
    child.end();
    parent.end();
    await provider.forceFlush();

    const got = await receiver.waitForSpans((s) => s.length >= 2);
    const p = got.find((s) => s.name === 'guild process')!;
    const c = got.find((s) => s.name === 'session process')!;
    expect(p.traceId).toBe(parent.spanContext().traceId);
    expect(c.parentSpanId).toBe(p.spanId);
    expect(p.kind).toBe(SpanKind.CONSUMER + 1);
    expect(p.attributes).toEqual({ 'guildhall.actor.id': 'guild:1', 'guildhall.mailbox.depth': 3, 'guildhall.mailbox.wait_ms': 1.5, kept: true, tags: ['a', 'é'] });
    expect(p.resource['service.name']).toBe('guildhall');
    expect(p.scope).toEqual({ name: 'guildhall', version: '0.1.0' });
    expect(c.events.map((e) => [e.name, e.attributes])).toEqual([['gateway.send', { 'gateway.seq': 12 }]]);
    expect(c.status).toEqual({ code: 2, message: 'socket closed' });
  });
});
