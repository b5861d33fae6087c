// A real tracer provider with an in-memory exporter, for span assertions.
import { context } from '@opentelemetry/api';
import {
  AlwaysOnSampler,
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  type Sampler,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { ScopedContextManager } from '../../tracing/index.js';

let contextManager: ScopedContextManager | undefined;

/** Installs the server's context manager once per process (it is global) and returns it. */
export function ensureContextManager(): ScopedContextManager {
  if (contextManager) return contextManager;
  contextManager = new ScopedContextManager().enable();
  context.setGlobalContextManager(contextManager);
  return contextManager;
}

export function makeTracing(sampler: Sampler = new AlwaysOnSampler()) {
  const contextManager = ensureContextManager();
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ sampler, spanProcessors: [new SimpleSpanProcessor(exporter)] });
  const tracer = provider.getTracer('test');
  return { exporter, provider, tracer, contextManager, spans: (): ReadableSpan[] => exporter.getFinishedSpans() };
}

export function parentId(span: ReadableSpan): string | undefined {
  return span.parentSpanContext?.spanId;
}
