// CountingBatchSpanProcessor against real exporters: the SDK's in-memory exporter
// for the scheduling rules (driven by a ManualClock, no sleeping), and the real
// OTLP/gRPC exporter against a slow receiver and against a closed port for the
// "collector in trouble" behaviour.
import { createServer } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { SpanKind, context, trace, type Attributes, type Context, type Link } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-grpc';
import {
  AlwaysOffSampler,
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SamplingDecision,
  type Sampler,
  type SamplingResult,
} from '@opentelemetry/sdk-trace-base';
import type { ExportResult } from '@opentelemetry/core';
import { ManualClock } from '../../actors/clock.js';
import { CountingBatchSpanProcessor, type CountingBatchSpanProcessorOptions } from '../../tracing/batch-processor.js';
import { startOtlpReceiver } from '../support/otlp-receiver.js';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()?.();
});

function setup(options: CountingBatchSpanProcessorOptions, sampler?: Sampler) {
  const processor = new CountingBatchSpanProcessor(options);
  const provider = new BasicTracerProvider({ spanProcessors: [processor], ...(sampler ? { sampler } : {}) });
  cleanups.push(() => provider.shutdown());
  const tracer = provider.getTracer('batch-test');
  const endSpans = (n: number, prefix = 'span') => {
    for (let i = 0; i < n; i++) tracer.startSpan(`${prefix}-${i}`).end();
  };
  return { processor, provider, tracer, endSpans };
}

/** Every accepted span is exactly one of: exported, failed, waiting, in flight. */
function expectConserved(processor: CountingBatchSpanProcessor): void {
  const s = processor.stats();
  expect(s.queued).toBe(s.exported + s.failed + s.queueLength + s.inFlight);
}

/** Yields to the event loop until `condition` holds (a few turns, not wall-clock time). */
async function until(condition: () => boolean, turns = 1_000): Promise<void> {
  for (let i = 0; i < turns && !condition(); i++) await new Promise((r) => setImmediate(r));
  expect(condition()).toBe(true);
}

async function closedPortUrl(): Promise<string> {
  // Bind then release an ephemeral port: nothing listens there afterwards.
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
}

describe('CountingBatchSpanProcessor with the in-memory exporter', () => {
  it('holds a partial batch until scheduledDelayMillis has passed', async () => {
    const clock = new ManualClock();
    const exporter = new InMemorySpanExporter();
    const { processor, endSpans } = setup({ exporter, timers: clock, scheduledDelayMillis: 1000 });

    endSpans(3);
    expect(processor.stats()).toMatchObject({ queued: 3, queueLength: 3, exported: 0 });
    clock.advance(999);
    expect(exporter.getFinishedSpans()).toHaveLength(0);
    clock.advance(1);
    expect(exporter.getFinishedSpans()).toHaveLength(3);
    expect(processor.stats()).toMatchObject({ queueLength: 0, inFlight: 3 });

    await processor.forceFlush();
    expect(processor.stats()).toMatchObject({ queued: 3, exported: 3, dropped: 0, failed: 0, queueLength: 0, inFlight: 0 });
    expect(clock.pending).toBe(0);
  });

  it('exports a full batch at once, without waiting for the timer', async () => {
    const clock = new ManualClock();
    const exporter = new InMemorySpanExporter();
    const { processor, endSpans } = setup({ exporter, timers: clock, maxExportBatchSize: 5 });

    endSpans(5);
    expect(exporter.getFinishedSpans()).toHaveLength(5);
    await processor.forceFlush();
    expect(processor.stats().exported).toBe(5);
  });

  it('drops and counts spans that meet a full queue while an export is in flight', async () => {
    const clock = new ManualClock();
    const exporter = new InMemorySpanExporter();
    const { processor, endSpans } = setup({ exporter, timers: clock, maxQueueSize: 10, maxExportBatchSize: 10 });

    // Spans 1-10 fill a batch that goes out at once; 11-20 refill the queue while it
    // is in flight (the in-memory exporter answers on a later tick); 21-100 are dropped.
    endSpans(100);
    expect(processor.stats()).toMatchObject({ queued: 20, dropped: 80, queueLength: 10, inFlight: 10 });
    expectConserved(processor);

    await processor.forceFlush();
    expect(processor.stats()).toMatchObject({ queued: 20, exported: 20, dropped: 80, failed: 0, queueLength: 0 });
    expect(exporter.getFinishedSpans().map((s) => s.name)).toEqual(Array.from({ length: 20 }, (_, i) => `span-${i}`));
  });

  it('forceFlush drains the queue in sequential batches', async () => {
    const clock = new ManualClock();
    const exporter = new InMemorySpanExporter();
    const { processor, endSpans } = setup({
      exporter,
      timers: clock,
      maxQueueSize: 100,
      maxExportBatchSize: 10,
      scheduledDelayMillis: 60_000,
    });

    // 25 spans: two full batches go out as they fill (one at a time), 5 wait.
    endSpans(25);
    await processor.forceFlush();
    expect(processor.stats()).toMatchObject({ queued: 25, exported: 25, queueLength: 0, inFlight: 0 });
    expect(exporter.getFinishedSpans()).toHaveLength(25);
  });

  it('counts export failures instead of throwing them', async () => {
    const clock = new ManualClock();
    const exporter = new InMemorySpanExporter();
    // A stopped in-memory exporter answers every export with FAILED.
    await exporter.shutdown();
    const { processor, endSpans } = setup({ exporter, timers: clock, maxExportBatchSize: 4 });

    endSpans(10);
    await expect(processor.forceFlush()).resolves.toBeUndefined();
    expect(processor.stats()).toMatchObject({ queued: 10, exported: 0, failed: 10, dropped: 0, queueLength: 0 });
  });

  it("hands the exporter what its prepare() made of each span as it ended, and counts a prepare that throws as failed", async () => {
    const clock = new ManualClock();
    const inner = new InMemorySpanExporter();
    const prepared: string[] = [];
    const exported: unknown[] = [];
    const exporter = {
      prepare(span: ReadableSpan) {
        if (span.name === 'bad') throw new Error('cannot encode');
        prepared.push(span.name);
        return { resource: span.resource, name: span.name };
      },
      export(items: unknown[], done: (r: ExportResult) => void) {
        exported.push(...items);
        inner.export([], done);
      },
      shutdown: () => inner.shutdown(),
    };
    const { processor, tracer } = setup({ exporter: exporter as unknown as CountingBatchSpanProcessorOptions['exporter'], timers: clock });

    tracer.startSpan('a').end();
    // Prepared at end, not at export.
    expect(prepared).toEqual(['a']);
    expect(() => tracer.startSpan('bad').end()).not.toThrow();
    tracer.startSpan('b').end();
    await processor.forceFlush();
    expect(exported).toEqual([
      { resource: expect.anything(), name: 'a' },
      { resource: expect.anything(), name: 'b' },
    ]);
    expect(processor.stats()).toMatchObject({ queued: 3, exported: 2, failed: 1, queueLength: 0 });
    expectConserved(processor);
  });

  it('ignores spans that are recorded but not sampled', async () => {
    const recordOnly: Sampler = {
      shouldSample(_c: Context, _t: string, _n: string, _k: SpanKind, _a: Attributes, _l: Link[]): SamplingResult {
        return { decision: SamplingDecision.RECORD };
      },
      toString: () => 'RecordOnly',
    };
    const clock = new ManualClock();
    const exporter = new InMemorySpanExporter();
    const { processor, tracer } = setup({ exporter, timers: clock }, recordOnly);

    const span = tracer.startSpan('unsampled');
    expect(span.isRecording()).toBe(true);
    span.end();
    await processor.forceFlush();
    expect(processor.stats()).toMatchObject({ queued: 0, exported: 0, dropped: 0 });
    expect(exporter.getFinishedSpans()).toHaveLength(0);
  });

  it('does not see spans a non-recording sampler never started', async () => {
    const exporter = new InMemorySpanExporter();
    const { processor, endSpans } = setup({ exporter, timers: new ManualClock() }, new AlwaysOffSampler());
    endSpans(5);
    expect(processor.stats().queued).toBe(0);
  });

  it('shutdown flushes what is queued, shuts the exporter down, and ignores later spans', async () => {
    const clock = new ManualClock();
    const exporter = new InMemorySpanExporter();
    const { processor, endSpans } = setup({ exporter, timers: clock });

    endSpans(7);
    await processor.shutdown();
    expect(processor.stats()).toMatchObject({ queued: 7, exported: 7, queueLength: 0 });
    // The exporter was shut down: the in-memory one clears and stops on shutdown.
    expect(exporter.getFinishedSpans()).toHaveLength(0);

    endSpans(3, 'late');
    expect(processor.stats().queued).toBe(7);
    await expect(processor.shutdown()).resolves.toBeUndefined();
    expect(clock.pending).toBe(0);
  });
});

describe('CountingBatchSpanProcessor with the OTLP/gRPC exporter', () => {
  it('stays bounded and counts drops against a slow collector, then delivers what it kept', async () => {
    const receiver = await startOtlpReceiver({ delayMs: 100 });
    cleanups.push(() => receiver.close());
    const exporter = new OTLPTraceExporter({ url: receiver.url, timeoutMillis: 5_000 });
    const maxQueueSize = 50;
    const { processor, endSpans } = setup({ exporter, maxQueueSize, maxExportBatchSize: 10, scheduledDelayMillis: 5 });

    // Bursts far above what a 100 ms-per-export collector can take.
    let maxSeen = 0;
    for (let burst = 0; burst < 10; burst++) {
      const before = Date.now();
      endSpans(500, `b${burst}`);
      // Ending spans never waits on the network.
      expect(Date.now() - before).toBeLessThan(1_000);
      maxSeen = Math.max(maxSeen, processor.stats().queueLength);
      expect(processor.stats().inFlight).toBeLessThanOrEqual(10);
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(maxSeen).toBeLessThanOrEqual(maxQueueSize);
    const mid = processor.stats();
    expect(mid.dropped).toBeGreaterThan(4_000);
    expect(mid.queued + mid.dropped).toBe(5_000);
    expectConserved(processor);

    await processor.forceFlush();
    const end = processor.stats();
    expect(end.failed).toBe(0);
    expect(end.queueLength).toBe(0);
    expect(end.exported).toBe(end.queued);
    // Only one export at a time: never "Concurrent export limit reached", and the
    // collector received exactly the spans counted as exported.
    expect(receiver.spans()).toHaveLength(end.exported);
    await expect(processor.shutdown()).resolves.toBeUndefined();
  });

  it('exports sequentially even when the exporter allows a single concurrent export', async () => {
    const receiver = await startOtlpReceiver({ delayMs: 30 });
    cleanups.push(() => receiver.close());
    const exporter = new OTLPTraceExporter({ url: receiver.url, concurrencyLimit: 1 });
    const { processor, endSpans } = setup({
      exporter,
      maxQueueSize: 1_000,
      maxExportBatchSize: 20,
      scheduledDelayMillis: 60_000,
    });

    endSpans(100);
    await processor.forceFlush();
    expect(processor.stats()).toMatchObject({ queued: 100, exported: 100, failed: 0, dropped: 0 });
    expect(receiver.requests).toBe(5);
    expect(receiver.spans()).toHaveLength(100);
  });

  it('counts an export the collector never answers as failed after exportTimeoutMillis', async () => {
    const receiver = await startOtlpReceiver({ delayMs: 60_000 });
    cleanups.push(() => receiver.close());
    const clock = new ManualClock();
    const exporter = new OTLPTraceExporter({ url: receiver.url, timeoutMillis: 60_000 });
    const { processor, endSpans } = setup({
      exporter,
      timers: clock,
      maxExportBatchSize: 5,
      exportTimeoutMillis: 2_000,
    });

    endSpans(5);
    await receiver.waitForSpans(() => receiver.requests === 1);
    const flushed = processor.forceFlush();
    clock.advance(2_000);
    await flushed;
    expect(processor.stats()).toMatchObject({ queued: 5, exported: 0, failed: 5, inFlight: 0 });

    // The OTLP exporter's own shutdown waits for the unanswered request; ours gives
    // it exportTimeoutMillis and then resolves anyway.
    let shutDown = false;
    const shutdown = processor.shutdown().then(() => (shutDown = true));
    await until(() => clock.pending > 0);
    expect(shutDown).toBe(false);
    clock.advance(2_000);
    await shutdown;
    expect(shutDown).toBe(true);
  });

  it('keeps going against a closed port: bounded, failures counted, shutdown resolves', async () => {
    const exporter = new OTLPTraceExporter({ url: await closedPortUrl(), timeoutMillis: 2_000 });
    const maxQueueSize = 40;
    const { processor, endSpans } = setup({ exporter, maxQueueSize, maxExportBatchSize: 10, scheduledDelayMillis: 5 });

    for (let burst = 0; burst < 5; burst++) {
      endSpans(200, `b${burst}`);
      expect(processor.stats().queueLength).toBeLessThanOrEqual(maxQueueSize);
      await new Promise((r) => setTimeout(r, 20));
    }
    await expect(processor.forceFlush()).resolves.toBeUndefined();
    const s = processor.stats();
    expect(s.exported).toBe(0);
    expect(s.failed).toBeGreaterThan(0);
    expect(s.dropped).toBeGreaterThan(0);
    expect(s.queued + s.dropped).toBe(1_000);
    expect(s.failed).toBe(s.queued);

    const started = Date.now();
    await expect(processor.shutdown()).resolves.toBeUndefined();
    expect(Date.now() - started).toBeLessThan(5_000);
  });
});

// Spans started under an explicit parent context take the same path, in end order.
describe('parenting is irrelevant to batching', () => {
  it('queues child spans like any other', async () => {
    const exporter = new InMemorySpanExporter();
    const { processor, tracer } = setup({ exporter, timers: new ManualClock() });
    const parent = tracer.startSpan('parent', { kind: SpanKind.SERVER });
    tracer.startSpan('child', {}, trace.setSpan(context.active(), parent)).end();
    parent.end();
    await processor.forceFlush();
    expect(exporter.getFinishedSpans().map((s) => s.name)).toEqual(['child', 'parent']);
  });
});
