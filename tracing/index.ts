// Public API of the tracing layer: the Transport, fanout sampling, the
// traceparent fast path, tracer setup, export and the built-in trace store.
export { Transport, type TransportOptions, type FanoutOptions, type FanoutResult } from './transport.js';
export { TailCapture, DEFAULT_TAIL_MAX_PER_SECOND, type TailOptions, type TailStats } from './tail-capture.js';
export { TailLimiter } from './tail-limiter.js';
export { ScopedContextManager } from './context-manager.js';
export { FanoutSampler, DEFAULT_FANOUT_K, type FanoutSamplerOptions } from './fanout-sampler.js';
export { DebugSampling, type DebugSamplingOptions, type DebugWindow } from './debug-sampling.js';
export { DebugSampler, type DebugSamplerOptions, ATTR_DEBUG_SAMPLED, DEBUG_TRACESTATE_KEY, DEBUG_TRACESTATE_VALUE } from './debug-sampler.js';
export { isSampledTraceparent, traceparentSampledFlag, parseTraceparent, formatTraceparent } from './traceparent.js';
export { startIngressSpan, type IngressSpan } from './ingress.js';
export { inOperationSpan, type OperationSpan } from './operation-span.js';
export {
  startTracing,
  parseTracingEnv,
  exportsSpans,
  samplerFromEnv,
  TracingConfigError,
  type Tracing,
  type TracingOptions,
  type TracingEnv,
} from './setup.js';
export {
  CountingBatchSpanProcessor,
  type CountingBatchSpanProcessorOptions,
  type BatchProcessorStats,
  type BatchTimers,
  type PreparingSpanExporter,
} from './batch-processor.js';
export {
  TraceStore,
  toStoredSpan,
  type StoredSpan,
  type StoredEvent,
  type StoredLink,
  type TraceSummary,
  type TraceListQuery,
  type TraceStoreOptions,
  type TraceStoreStats,
} from './trace-store.js';
export { CommitSpans, type CommitSpansOptions, ATTR_DB_SYSTEM, ATTR_DB_OPERATION, ATTR_DB_BATCH_SIZE } from './commit-spans.js';
export { toOtlpJson, type OtlpJsonTraceRequest } from './otlp-json.js';
export { EncodedSpan, type ExportableSpan, encodeSpan, encodeTraceExportRequest } from './otlp-protobuf.js';
export { OtlpGrpcSpanExporter, traceExportSerializer } from './otlp-grpc-exporter.js';
export {
  TRACER_NAME,
  ATTR_ACTOR_ID,
  ATTR_ACTOR_KIND,
  ATTR_FANOUT_ADJUSTED_COUNT,
  ATTR_FANOUT_KEPT,
  ATTR_FANOUT_RATE,
  ATTR_FANOUT_SIZE,
  ATTR_GUILD_ID,
  ATTR_TAIL,
  ATTR_HANDLE_MS,
  ATTR_MAILBOX_DEPTH,
  ATTR_MAILBOX_WAIT_MS,
  ATTR_MESSAGE_KIND,
  ATTR_MESSAGE_OP,
  processSpanName,
  fanoutSpanName,
} from './conventions.js';
