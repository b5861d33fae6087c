import { ROOT_CONTEXT, SpanKind, context, trace } from '@opentelemetry/api';
import { afterEach, describe, expect, it } from 'vitest';
import { ActorSystem } from '../../actors/index.js';
import { ATTR_FANOUT_SIZE, ATTR_MAILBOX_WAIT_MS } from '../../tracing/conventions.js';
import { TracingConfigError, parseTracingEnv, startTracing, type Tracing } from '../../tracing/setup.js';
import { Transport } from '../../tracing/transport.js';
import { settle } from '../support/actors.js';
import { type OtlpReceiver, startOtlpReceiver } from '../support/otlp-receiver.js';
import { ensureContextManager } from '../support/tracing.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function start(env: NodeJS.ProcessEnv): Tracing {
  ensureContextManager();
  // register: false, because the global provider can be set only once per process.
  const tracing = startTracing({ env, register: false });
  cleanups.push(() => tracing.shutdown(2_000));
  return tracing;
}

describe('startTracing', () => {
  it('OTEL_SDK_DISABLED=true turns tracing off entirely', () => {
    const tracing = start({ OTEL_SDK_DISABLED: 'true', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:1' });
    expect(tracing.enabled).toBe(false);
    expect(tracing.provider).toBeUndefined();
    expect(tracing.describe()).toContain('disabled');
  });

  it('rejects invalid OTEL_* values with a readable list', () => {
    expect(() => parseTracingEnv({ OTEL_TRACES_SAMPLER: 'sometimes' })).toThrow(TracingConfigError);
    expect(() => parseTracingEnv({ OTEL_TRACES_SAMPLER_ARG: '2' })).toThrow(TracingConfigError);
    expect(() => parseTracingEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: 'not a url' })).toThrow(/OTEL_EXPORTER_OTLP_ENDPOINT/);
    expect(parseTracingEnv({ OTEL_TRACES_SAMPLER: '', OTEL_SDK_DISABLED: 'FALSE' })).toEqual({ OTEL_SDK_DISABLED: false });
  });

  it('honours OTEL_TRACES_SAMPLER for roots, wrapped by the fanout sampler', () => {
    const off = start({ OTEL_TRACES_SAMPLER: 'always_off' });
    expect(off.tracer.startSpan('root').isRecording()).toBe(false);
    expect(off.sampler.toString()).toContain('AlwaysOffSampler');
    const on = start({ OTEL_TRACES_SAMPLER: 'parentbased_always_on' });
    expect(on.tracer.startSpan('root').spanContext().traceFlags & 1).toBe(1);
    const ratio = start({ OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: '0' });
    expect(ratio.tracer.startSpan('root').isRecording()).toBe(false);
  });

  describe('with a real OTLP/gRPC receiver', () => {
    let receiver: OtlpReceiver;

    it('exports actor spans with the resource, kinds, parent links and mailbox attributes', async () => {
      receiver = await startOtlpReceiver();
      cleanups.push(() => receiver.close());
      const tracing = start({ OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_BSP_SCHEDULE_DELAY: '50' });
      expect(tracing.otlpEndpoint).toBe(receiver.url);
      const system = new ActorSystem();
      cleanups.push(async () => system.shutdown());
      new Transport(system, { tracer: tracing.tracer, sampler: tracing.sampler }).install();
      const sessions = Array.from({ length: 3 }, () => system.spawn<null, { cast: string }>({ kind: 'session', init: () => null, handleCast: () => {} }));
      const root = tracing.tracer.startSpan('broadcast', { kind: SpanKind.SERVER });
      context.with(trace.setSpan(ROOT_CONTEXT, root), () => system.broadcast(sessions, 'hi'));
      root.end();
      await settle(system);

      const spans = await receiver.waitForSpans((s) => s.length >= 5, 10_000);
      const byName = (n: string) => spans.filter((s) => s.name === n);
      const [rootSpan] = byName('broadcast');
      const [fan] = byName('fanout session');
      const deliveries = byName('process session');
      expect(rootSpan?.resource['service.name']).toBe('guildhall');
      expect(typeof rootSpan?.resource['service.instance.id']).toBe('string');
      expect(fan?.parentSpanId).toBe(rootSpan?.spanId);
      expect(fan?.kind).toBe(4); // SPAN_KIND_PRODUCER in OTLP numbering
      expect(deliveries).toHaveLength(3);
      for (const d of deliveries) {
        expect(d.parentSpanId).toBe(fan?.spanId);
        expect(d.kind).toBe(5); // SPAN_KIND_CONSUMER
        expect(d.attributes[ATTR_FANOUT_SIZE]).toBe(3);
        expect(typeof d.attributes[ATTR_MAILBOX_WAIT_MS]).toBe('number');
      }
      expect(tracing.exportStats()).toMatchObject({ dropped: 0, failed: 0 });
    });

    it('keeps serving with bounded memory when the collector is absent, and counts the loss', async () => {
      // A port nothing listens on.
      const tracing = start({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:9', OTEL_BSP_MAX_QUEUE_SIZE: '100', OTEL_BSP_SCHEDULE_DELAY: '20', OTEL_BSP_EXPORT_TIMEOUT: '500' });
      for (let i = 0; i < 1_000; i++) tracing.tracer.startSpan(`s${i}`).end();
      const stats = tracing.exportStats()!;
      expect(stats.queueLength).toBeLessThanOrEqual(100);
      expect(stats.dropped).toBeGreaterThan(0);
      expect(stats.queued + stats.dropped).toBe(1_000);
      await tracing.shutdown(3_000);
      const after = tracing.exportStats()!;
      expect(after.exported).toBe(0);
      expect(after.failed + after.dropped + after.queueLength + after.inFlight).toBe(1_000);
    });
  });
});
