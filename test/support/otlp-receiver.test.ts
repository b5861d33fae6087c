// The receiver is itself test infrastructure, so it is checked against the real
// exporter: if the vendored .proto field numbers were wrong, these decodes would
// come out garbled or empty.
import { afterEach, describe, expect, it } from 'vitest';
import { SpanKind, SpanStatusCode, context, trace } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-grpc';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  BasicTracerProvider,
  BatchSpanProcessor,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { status } from '@grpc/grpc-js';
import { startOtlpReceiver, type OtlpReceiver } from './otlp-receiver.js';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()?.();
});

async function receiver(opts?: Parameters<typeof startOtlpReceiver>[0]): Promise<OtlpReceiver> {
  const r = await startOtlpReceiver(opts);
  cleanups.push(() => r.close());
  return r;
}

function providerFor(url: string, timeoutMillis = 5_000) {
  const exporter = new OTLPTraceExporter({ url, timeoutMillis });
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': 'receiver-test', 'service.version': '1.2.3' }),
    spanProcessors: [new BatchSpanProcessor(exporter, { scheduledDelayMillis: 10 })],
  });
  cleanups.push(() => provider.shutdown());
  return provider;
}

describe('startOtlpReceiver', () => {
  it('listens on a loopback ephemeral port', async () => {
    const r = await receiver();
    expect(r.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(r.port).toBeGreaterThan(0);
    expect(r.spans()).toEqual([]);
    expect(r.requests).toBe(0);
  });

  it('decodes a parent and child exported by the real OTLP/gRPC exporter', async () => {
    const r = await receiver();
    const provider = providerFor(r.url);
    const tracer = provider.getTracer('guildhall-test', '0.0.1');

    const parent = tracer.startSpan('guild.broadcast', {
      kind: SpanKind.SERVER,
      attributes: { 'guildhall.fanout.size': 42, 'guildhall.ratio': 0.25, 'guildhall.kept': true, tags: ['a', 'b'] },
    });
    const child = tracer.startSpan(
      'session.deliver',
      { kind: SpanKind.CONSUMER, attributes: { 'messaging.operation': 'process' } },
      trace.setSpan(context.active(), parent),
    );
    child.addEvent('written', { bytes: 128 });
    child.setStatus({ code: SpanStatusCode.ERROR, message: 'socket closed' });
    child.end();
    parent.end();
    await provider.forceFlush();

    const spans = await r.waitForSpans((s) => s.length >= 2);
    expect(r.requests).toBeGreaterThanOrEqual(1);
    const p = spans.find((s) => s.name === 'guild.broadcast');
    const c = spans.find((s) => s.name === 'session.deliver');
    expect(p).toBeDefined();
    expect(c).toBeDefined();
    if (!p || !c) return;

    // Ids arrive as bytes and come out as the same hex the SDK uses.
    expect(p.traceId).toBe(parent.spanContext().traceId);
    expect(p.spanId).toBe(parent.spanContext().spanId);
    expect(p.parentSpanId).toBe('');
    expect(c.traceId).toBe(p.traceId);
    expect(c.parentSpanId).toBe(p.spanId);

    // OTLP kinds are the API's plus one (0 is UNSPECIFIED on the wire).
    expect(p.kind).toBe(SpanKind.SERVER + 1);
    expect(c.kind).toBe(SpanKind.CONSUMER + 1);
    // Sampled flag plus "has is-remote" bit.
    expect(p.flags & 0xff).toBe(1);

    expect(p.attributes).toEqual({
      'guildhall.fanout.size': 42,
      'guildhall.ratio': 0.25,
      'guildhall.kept': true,
      tags: ['a', 'b'],
    });
    expect(c.attributes).toEqual({ 'messaging.operation': 'process' });
    expect(p.resource['service.name']).toBe('receiver-test');
    expect(p.resource['service.version']).toBe('1.2.3');
    expect(p.scope).toEqual({ name: 'guildhall-test', version: '0.0.1' });

    expect(c.status).toEqual({ code: 2, message: 'socket closed' });
    expect(p.status.code).toBe(0);
    expect(c.events).toHaveLength(1);
    expect(c.events[0]?.name).toBe('written');
    expect(c.events[0]?.attributes).toEqual({ bytes: 128 });

    // fixed64 nanos survive exactly as decimal strings.
    expect(p.startTimeUnixNano).toMatch(/^\d{19}$/);
    expect(BigInt(p.endTimeUnixNano)).toBeGreaterThanOrEqual(BigInt(p.startTimeUnixNano));
    expect(BigInt(c.startTimeUnixNano)).toBeGreaterThanOrEqual(BigInt(p.startTimeUnixNano));
  });

  it('refuses with the configured status and records nothing', async () => {
    const r = await receiver({ failWith: status.UNAVAILABLE });
    const exporter = new OTLPTraceExporter({ url: r.url, timeoutMillis: 2_000 });
    cleanups.push(() => exporter.shutdown());
    // Export one finished span directly so the result callback is observable.
    const memory = new InMemorySpanExporter();
    const local = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(memory)] });
    local.getTracer('t').startSpan('refused').end();
    const finished = memory.getFinishedSpans();
    const result = await new Promise<{ code: number; error?: Error }>((resolve) => exporter.export(finished, resolve));
    expect(result.code).not.toBe(0);
    expect(r.requests).toBeGreaterThanOrEqual(1);
    expect(r.spans()).toEqual([]);
  });

  it('holds answers for delayMs, and close() does not wait for held calls', async () => {
    const r = await receiver({ delayMs: 300 });
    const provider = providerFor(r.url);
    provider.getTracer('t').startSpan('slow').end();
    const started = Date.now();
    await provider.forceFlush();
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    expect(r.spans().map((s) => s.name)).toEqual(['slow']);

    provider.getTracer('t').startSpan('never-answered').end();
    const flush = provider.forceFlush();
    await new Promise((res) => setTimeout(res, 50));
    const closing = Date.now();
    await r.close();
    expect(Date.now() - closing).toBeLessThan(250);
    // The exporter sees the held call cancelled. Note the SDK's own BatchSpanProcessor
    // turns that into a rejected forceFlush; tracing/batch-processor.ts does not.
    const outcome = await flush.then(
      () => 'resolved',
      (e: unknown) => e,
    );
    // (It rejects with an array wrapping the gRPC ServiceError.)
    expect(outcome).not.toBe('resolved');
    expect(String(outcome)).toMatch(/CANCELLED/);
  });

  it('waitForSpans rejects on timeout', async () => {
    const r = await receiver();
    await expect(r.waitForSpans((s) => s.length > 0, 50)).rejects.toThrow(/timed out/);
  });
});
