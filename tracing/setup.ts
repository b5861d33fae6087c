// Tracer setup from the standard OpenTelemetry environment variables
// (https://opentelemetry.io/docs/specs/otel/configuration/sdk-environment-variables/),
// validated with zod once, here:
// - OTEL_SDK_DISABLED=true turns tracing off entirely (no provider, Transport off);
// - OTEL_TRACES_SAMPLER / OTEL_TRACES_SAMPLER_ARG choose the root sampler, wrapped
//   by the FanoutSampler;
// - OTEL_EXPORTER_OTLP_ENDPOINT / OTEL_EXPORTER_OTLP_TRACES_ENDPOINT (or
//   OTEL_TRACES_EXPORTER=otlp) switch on OTLP/gRPC export through a bounded,
//   counting batch processor; OTEL_BSP_* size it.
import { randomUUID } from 'node:crypto';
import { type ContextManager, type Tracer, trace } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  ParentBasedSampler,
  type Sampler,
  type SpanExporter,
  type SpanProcessor,
  TraceIdRatioBasedSampler,
} from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { z } from 'zod';
import { CountingBatchSpanProcessor, type BatchProcessorStats } from './batch-processor.js';
import { ShapeKeeper } from './shape-keeper.js';
import { OtlpGrpcSpanExporter } from './otlp-grpc-exporter.js';
import { ScopedContextManager } from './context-manager.js';
import { TRACER_NAME } from './conventions.js';
import { DEFAULT_FANOUT_K, FanoutSampler } from './fanout-sampler.js';
import { DEFAULT_SPAN_LIMITS, type ResolvedSpanLimits } from './lean-span.js';
import { LeanTracer } from './lean-tracer.js';

const bool = z
  .string()
  .trim()
  .toLowerCase()
  .refine((v) => v === 'true' || v === 'false' || v === '', { message: 'must be true or false' })
  .transform((v) => v === 'true');
const positiveInt = z.coerce.number().int().positive();

const TracingEnv = z.object({
  OTEL_SDK_DISABLED: bool.optional(),
  OTEL_SERVICE_NAME: z.string().trim().min(1).optional(),
  OTEL_TRACES_SAMPLER: z
    .enum(['always_on', 'always_off', 'traceidratio', 'parentbased_always_on', 'parentbased_always_off', 'parentbased_traceidratio'])
    .optional(),
  OTEL_TRACES_SAMPLER_ARG: z.coerce.number().min(0).max(1).optional(),
  OTEL_TRACES_EXPORTER: z.enum(['otlp', 'none']).optional(),
  OTEL_EXPORTER_OTLP_ENDPOINT: z.url().optional(),
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: z.url().optional(),
  OTEL_BSP_MAX_QUEUE_SIZE: positiveInt.optional(),
  OTEL_BSP_MAX_EXPORT_BATCH_SIZE: positiveInt.optional(),
  OTEL_BSP_SCHEDULE_DELAY: positiveInt.optional(),
  OTEL_BSP_EXPORT_TIMEOUT: positiveInt.optional(),
});
export type TracingEnv = z.infer<typeof TracingEnv>;

export class TracingConfigError extends Error {
  readonly code = 'GH_ERR_TRACING_CONFIG';
  constructor(readonly issues: string[]) {
    super(`invalid tracing configuration:\n${issues.map((i) => `  - ${i}`).join('\n')}`);
    this.name = 'TracingConfigError';
  }
}

/** Reads the OTEL_* variables; empty strings count as unset, as the spec says. */
export function parseTracingEnv(env: NodeJS.ProcessEnv): TracingEnv {
  const picked: Record<string, string> = {};
  for (const key of Object.keys(TracingEnv.shape)) {
    const v = env[key];
    if (v !== undefined && v.trim() !== '') picked[key] = v;
  }
  const parsed = TracingEnv.safeParse(picked);
  if (!parsed.success) throw new TracingConfigError(parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`));
  return parsed.data;
}

/** The root sampler named by OTEL_TRACES_SAMPLER (default parentbased_always_on). */
export function samplerFromEnv(env: TracingEnv): Sampler {
  const ratio = env.OTEL_TRACES_SAMPLER_ARG ?? 1;
  switch (env.OTEL_TRACES_SAMPLER ?? 'parentbased_always_on') {
    case 'always_on':
      return new AlwaysOnSampler();
    case 'always_off':
      return new AlwaysOffSampler();
    case 'traceidratio':
      return new TraceIdRatioBasedSampler(ratio);
    case 'parentbased_always_off':
      return new ParentBasedSampler({ root: new AlwaysOffSampler() });
    case 'parentbased_traceidratio':
      return new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(ratio) });
    default:
      return new ParentBasedSampler({ root: new AlwaysOnSampler() });
  }
}

/** Whether spans leave the process: an OTLP endpoint or OTEL_TRACES_EXPORTER=otlp, and tracing not disabled. */
export function exportsSpans(env: TracingEnv): boolean {
  if (env.OTEL_SDK_DISABLED || env.OTEL_TRACES_EXPORTER === 'none') return false;
  return env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT !== undefined || env.OTEL_EXPORTER_OTLP_ENDPOINT !== undefined || env.OTEL_TRACES_EXPORTER === 'otlp';
}

export interface TracingOptions {
  env?: NodeJS.ProcessEnv;
  /** service.name unless OTEL_SERVICE_NAME is set. */
  serviceName?: string;
  /** service.instance.id (default a random UUID): a cluster node's name, say. */
  serviceInstanceId?: string;
  fanoutK?: number;
  /** More span processors (the built-in viewer's store, say). */
  processors?: SpanProcessor[];
  /** Replaces the OTLP exporter (tests). Export is on when this is given. */
  exporter?: SpanExporter;
  /** Register as the global tracer provider, context manager and propagator (default true). */
  register?: boolean;
}

export interface Tracing {
  readonly enabled: boolean;
  readonly tracer: Tracer;
  readonly sampler: FanoutSampler;
  readonly provider: NodeTracerProvider | undefined;
  /**
   * The context manager this setup made and registered (none when `register`
   * was false), for the Transport to read directly; it checks first that this
   * is the manager in use.
   */
  readonly contextManager: ContextManager | undefined;
  /** The OTLP endpoint spans go to, if any. */
  readonly otlpEndpoint: string | undefined;
  /** Export counters (queued, exported, dropped, failed) when exporting. */
  exportStats(): BatchProcessorStats | undefined;
  /** One line for the startup log. */
  describe(): string;
  /** Flushes and stops, within `timeoutMs`. Never rejects. */
  shutdown(timeoutMs?: number): Promise<void>;
}

/** The span limits an SDK tracer resolved from its config and OTEL_* variables (its `_spanLimits`), else the SDK's defaults. */
function spanLimitsOf(sdkTracer: Tracer): ResolvedSpanLimits {
  const limits = (sdkTracer as { _spanLimits?: Partial<ResolvedSpanLimits> })._spanLimits ?? {};
  const out = { ...DEFAULT_SPAN_LIMITS };
  for (const k of Object.keys(out) as (keyof ResolvedSpanLimits)[]) if (typeof limits[k] === 'number') out[k] = limits[k];
  return out;
}

export function startTracing(options: TracingOptions = {}): Tracing {
  const env = parseTracingEnv(options.env ?? process.env);
  const baseSampler = samplerFromEnv(env);
  const sampler = new FanoutSampler({ k: options.fanoutK ?? DEFAULT_FANOUT_K, delegate: baseSampler });
  const serviceName = env.OTEL_SERVICE_NAME ?? options.serviceName ?? 'guildhall';

  if (env.OTEL_SDK_DISABLED) {
    return {
      enabled: false,
      tracer: trace.getTracer(TRACER_NAME),
      sampler,
      provider: undefined,
      contextManager: undefined,
      otlpEndpoint: undefined,
      exportStats: () => undefined,
      describe: () => 'tracing disabled (OTEL_SDK_DISABLED=true)',
      shutdown: async () => {},
    };
  }

  const endpoint = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ?? env.OTEL_EXPORTER_OTLP_ENDPOINT;
  const exportOn = options.exporter !== undefined || exportsSpans(env);
  const otlpEndpoint = exportOn && !options.exporter ? (endpoint ?? 'http://localhost:4317') : undefined;
  let exportProcessor: CountingBatchSpanProcessor | undefined;
  const processors: SpanProcessor[] = [...(options.processors ?? [])];
  if (exportOn) {
    exportProcessor = new CountingBatchSpanProcessor({
      exporter: options.exporter ?? new OtlpGrpcSpanExporter({ url: otlpEndpoint }),
      maxQueueSize: env.OTEL_BSP_MAX_QUEUE_SIZE,
      maxExportBatchSize: env.OTEL_BSP_MAX_EXPORT_BATCH_SIZE,
      scheduledDelayMillis: env.OTEL_BSP_SCHEDULE_DELAY,
      exportTimeoutMillis: env.OTEL_BSP_EXPORT_TIMEOUT,
    });
    processors.push(exportProcessor);
  }
  processors.push(new ShapeKeeper());

  const resource = resourceFromAttributes({ 'service.name': serviceName, 'service.instance.id': options.serviceInstanceId ?? randomUUID() });
  const provider = new NodeTracerProvider({ resource, sampler, spanProcessors: processors });
  let contextManager: ContextManager | undefined;
  if (options.register ?? true) {
    contextManager = new ScopedContextManager();
    provider.register({ contextManager });
  }
  // The provider's own tracer would make the same spans through more steps
  // (lean-tracer.ts); the limits are the ones it resolved (OTEL_SPAN_*_LIMIT).
  const tracer = new LeanTracer({
    resource,
    scope: { name: TRACER_NAME, version: undefined, schemaUrl: undefined },
    limits: spanLimitsOf(provider.getTracer(TRACER_NAME)),
    processors,
    sampler,
  });

  return {
    enabled: true,
    tracer,
    sampler,
    provider,
    contextManager,
    otlpEndpoint,
    exportStats: () => exportProcessor?.stats(),
    describe: () => `tracing on: ${sampler.toString()}; export ${otlpEndpoint ? `OTLP/gRPC to ${otlpEndpoint}` : exportOn ? 'to a custom exporter' : 'off'}`,
    async shutdown(timeoutMs = 5_000) {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, timeoutMs);
        timer.unref();
      });
      await Promise.race([provider.shutdown().catch(() => {}), timeout]);
      clearTimeout(timer);
    },
  };
}
