// The simulator traces itself (service.name client-sim) so a trace can start
// at the client that posted a message and run on through the server. Spans
// are exported over OTLP/gRPC only when OTEL_EXPORTER_OTLP_ENDPOINT (or the
// traces-specific variable) is set; without it the provider still makes real,
// sampled span contexts, so every REST request carries a usable traceparent.
// The root sampler follows OTEL_TRACES_SAMPLER like any OpenTelemetry SDK.
import { type Context, type Span, SpanKind, type Tracer, context, trace } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-grpc';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor, type SpanProcessor } from '@opentelemetry/sdk-trace-base';

export interface SimTracing {
  readonly tracer: Tracer;
  /** Whether spans leave the process. */
  readonly exporting: boolean;
  /** Headers (`traceparent`, maybe `tracestate`) for a request made inside `span`. */
  headersFor(span: Span): Record<string, string>;
  shutdown(): Promise<void>;
}

const propagator = new W3CTraceContextPropagator();

export function startSimTracing(env: NodeJS.ProcessEnv = process.env): SimTracing {
  const endpoint = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT || env.OTEL_EXPORTER_OTLP_ENDPOINT;
  const disabled = (env.OTEL_SDK_DISABLED ?? '').toLowerCase() === 'true';
  const processors: SpanProcessor[] = [];
  if (endpoint && !disabled) {
    // Bounded: a load generator must not grow without end when the collector is slow.
    processors.push(new BatchSpanProcessor(new OTLPTraceExporter({ url: endpoint }), { maxQueueSize: 8192, maxExportBatchSize: 1024, scheduledDelayMillis: 500 }));
  }
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': env.OTEL_SERVICE_NAME || 'client-sim' }),
    spanProcessors: processors,
  });
  // Our own tracer, not the global one: the simulator may share a process with a server under test.
  const tracer = provider.getTracer('client-sim');
  return {
    tracer,
    exporting: processors.length > 0,
    headersFor(span: Span): Record<string, string> {
      const carrier: Record<string, string> = {};
      const ctx: Context = trace.setSpan(context.active(), span);
      propagator.inject(ctx, carrier, { set: (c, k, v) => (c[k] = v) });
      return carrier;
    },
    async shutdown() {
      // Bounded: a dead collector must not hold the process open.
      await Promise.race([provider.shutdown(), new Promise((r) => setTimeout(r, 5_000).unref())]);
    },
  };
}

export { SpanKind };
