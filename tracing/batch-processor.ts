// A bounded batch span processor that counts what it does with every span.
//
// Why not the SDK's BatchSpanProcessor: when the collector is slow, absent or
// refusing, we need to *see* the loss (drops and failed exports as numbers we
// can put on a metric and in a bench report), and we need flushing to be a
// non-event for callers. The SDK processor drops silently, and its forceFlush
// rejects with the exporter's error (a gRPC CANCELLED, say), which would leak a
// telemetry outage into shutdown paths of the product.
//
// Guarantees:
// - memory is bounded: at most `maxQueueSize` spans wait, plus one batch in flight;
//   spans arriving at a full queue are dropped and counted, never buffered;
// - `onEnd` never blocks and never awaits anything;
// - at most one export is in flight, because the OTLP exporter refuses
//   concurrent exports beyond its limit ("Concurrent export limit reached");
// - export errors and timeouts are counted as `failed`, never thrown;
// - `forceFlush` and `shutdown` always resolve.
//
// An exporter with a `prepare()` (PreparingSpanExporter: the OTLP exporter
// encodes each span) gets it called as each span ends, and the queue holds
// what it returns instead of the span.
import { TraceFlags, context, diag } from '@opentelemetry/api';
import { ExportResultCode, suppressTracing, type ExportResult } from '@opentelemetry/core';
import type { ReadableSpan, Span, SpanExporter, SpanProcessor } from '@opentelemetry/sdk-trace-base';

/** The timer source the processor schedules on; inject a manual one in tests. */
export interface BatchTimers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/**
 * An exporter that takes spans in a form of its own, made by `prepare()` as
 * each span ends (while the span is hot in the cache, and so that its objects
 * need not live until the export): its `export()` receives those.
 */
export interface PreparingSpanExporter<P extends Queued> {
  prepare(span: ReadableSpan): P;
  export(items: P[], done: (result: ExportResult) => void): void;
}

/** What waits in the queue: a span, or an exporter's prepared form of one. */
interface Queued {
  readonly resource: ReadableSpan['resource'];
}

export interface CountingBatchSpanProcessorOptions {
  /** A PreparingSpanExporter has each span prepared as it ends. */
  exporter: SpanExporter;
  /** Spans that may wait for export; beyond this they are dropped. Default 2048. */
  maxQueueSize?: number;
  /** Spans per export call. Default 512, capped at maxQueueSize. */
  maxExportBatchSize?: number;
  /** How long a partial batch may wait before it is exported. Default 1000 ms. */
  scheduledDelayMillis?: number;
  /** An export that has not answered by then is counted as failed. Default 30000 ms. */
  exportTimeoutMillis?: number;
  /** Defaults to Node timers, unref'd so a pending export never holds the process open. */
  timers?: BatchTimers;
}

export interface BatchProcessorStats {
  /** Spans accepted into the queue. */
  queued: number;
  /** Spans the exporter reported as delivered. */
  exported: number;
  /** Spans refused because the queue was full. */
  dropped: number;
  /** Spans lost to export errors, refusals and timeouts (and to an exporter's prepare() throwing). */
  failed: number;
  /** Spans waiting now (never above maxQueueSize). */
  queueLength: number;
  /** Spans in the batch currently being exported (0 or up to maxExportBatchSize). */
  inFlight: number;
}

const unrefTimers: BatchTimers = {
  setTimeout(fn, ms) {
    const t = setTimeout(fn, ms);
    t.unref();
    return t;
  },
  clearTimeout(handle) {
    clearTimeout(handle as NodeJS.Timeout);
  },
};

export class CountingBatchSpanProcessor implements SpanProcessor {
  private readonly exporter: SpanExporter;
  private readonly maxQueueSize: number;
  private readonly maxExportBatchSize: number;
  private readonly scheduledDelayMillis: number;
  private readonly exportTimeoutMillis: number;
  private readonly timers: BatchTimers;

  private queue: Queued[] = [];
  private readonly prepare: ((span: ReadableSpan) => Queued) | undefined;
  private timer: unknown = undefined;
  private inFlight: Promise<void> | undefined;
  private inFlightSize = 0;
  private shutdownPromise: Promise<void> | undefined;

  private counts = { queued: 0, exported: 0, dropped: 0, failed: 0 };
  /** Spans that have left the queue (to an export). forceFlush waits on this. */
  private dequeued = 0;

  constructor(options: CountingBatchSpanProcessorOptions) {
    this.exporter = options.exporter;
    this.maxQueueSize = positive(options.maxQueueSize, 2048);
    this.maxExportBatchSize = Math.min(positive(options.maxExportBatchSize, 512), this.maxQueueSize);
    this.scheduledDelayMillis = nonNegative(options.scheduledDelayMillis, 1000);
    this.exportTimeoutMillis = positive(options.exportTimeoutMillis, 30_000);
    this.timers = options.timers ?? unrefTimers;
    const preparing = options.exporter as Partial<PreparingSpanExporter<Queued>>;
    this.prepare = typeof preparing.prepare === 'function' ? preparing.prepare.bind(options.exporter) : undefined;
  }

  stats(): BatchProcessorStats {
    return { ...this.counts, queueLength: this.queue.length, inFlight: this.inFlightSize };
  }

  onStart(_span: Span): void {
    // Nothing to do until a span ends.
  }

  onEnd(span: ReadableSpan): void {
    if (this.shutdownPromise) return;
    // A recording-but-unsampled span (e.g. from AlwaysRecordSampler) is not for export.
    if ((span.spanContext().traceFlags & TraceFlags.SAMPLED) === 0) return;
    if (this.queue.length >= this.maxQueueSize) {
      this.counts.dropped += 1;
      return;
    }
    let item: Queued = span;
    if (this.prepare !== undefined) {
      try {
        item = this.prepare(span);
      } catch (err) {
        // Tracing never breaks serving: a span that cannot be prepared is accepted and lost, and counted.
        this.counts.queued += 1;
        this.counts.failed += 1;
        diag.debug('CountingBatchSpanProcessor: prepare failed', err);
        return;
      }
    }
    this.queue.push(item);
    this.counts.queued += 1;
    this.schedule();
  }

  /**
   * Exports everything queued at the time of the call, one batch at a time, and
   * resolves when it is done (delivered or counted as failed). Spans ending
   * meanwhile are left to the normal schedule, so a busy server cannot keep a
   * flush going forever.
   */
  async forceFlush(): Promise<void> {
    const target = this.dequeued + this.queue.length;
    this.clearTimer();
    while (this.dequeued < target) {
      // The in-flight export must finish first; exportOneBatch never rejects.
      await (this.inFlight ?? this.exportOneBatch());
    }
    if (this.inFlight) await this.inFlight;
    this.schedule();
  }

  shutdown(): Promise<void> {
    this.shutdownPromise ??= (async () => {
      this.clearTimer();
      await this.forceFlush();
      this.clearTimer();
      await this.shutdownExporter();
    })();
    return this.shutdownPromise;
  }

  /** Starts an export now if a full batch is waiting, else arms the delay timer. */
  private schedule(): void {
    if (this.inFlight || this.queue.length === 0) return;
    if (this.queue.length >= this.maxExportBatchSize) {
      this.clearTimer();
      void this.exportOneBatch();
      return;
    }
    if (this.timer !== undefined || this.shutdownPromise) return;
    this.timer = this.timers.setTimeout(() => {
      this.timer = undefined;
      if (!this.inFlight) void this.exportOneBatch();
    }, this.scheduledDelayMillis);
  }

  private clearTimer(): void {
    if (this.timer === undefined) return;
    this.timers.clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Takes one batch off the queue and exports it. Resolves when settled; never rejects. */
  private exportOneBatch(): Promise<void> {
    const batch = this.queue.splice(0, this.maxExportBatchSize);
    this.dequeued += batch.length;
    if (batch.length === 0) return Promise.resolve();
    this.inFlightSize = batch.length;
    const done = this.runExport(batch).then((ok) => {
      if (ok) this.counts.exported += batch.length;
      else this.counts.failed += batch.length;
      this.inFlight = undefined;
      this.inFlightSize = 0;
      if (!this.shutdownPromise) this.schedule();
    });
    this.inFlight = done;
    return done;
  }

  /** Resolves true on a successful export; false on error, refusal or timeout. */
  private runExport(batch: Queued[]): Promise<boolean> {
    // Resources with async detectors must settle before the exporter serialises them.
    // The common case has none, and then the export starts synchronously, which keeps
    // the in-flight state easy to reason about.
    const pending = [...new Set(batch.map((s) => s.resource))].filter((r) => r.asyncAttributesPending);
    if (pending.length === 0) return this.callExporter(batch);
    return Promise.all(pending.map((r) => r.waitForAsyncAttributes?.())).then(
      () => this.callExporter(batch),
      (err: unknown) => {
        diag.warn('CountingBatchSpanProcessor: resource attributes failed', err);
        return this.callExporter(batch);
      },
    );
  }

  private callExporter(batch: Queued[]): Promise<boolean> {
    return new Promise<boolean>((resolve) => {
      let settled = false;
      const finish = (ok: boolean, error?: unknown) => {
        if (settled) return;
        settled = true;
        this.timers.clearTimeout(timeout);
        if (!ok) diag.debug('CountingBatchSpanProcessor: export failed', error);
        // Settle on the next event-loop turn, not now: the OTLP exporter calls back
        // *before* it removes the request from its own concurrency queue, so an export
        // started straight from the callback can be refused with "Concurrent export
        // limit reached" (always, with concurrencyLimit 1).
        setImmediate(() => resolve(ok));
      };
      const timeout = this.timers.setTimeout(
        () => finish(false, new Error(`export timed out after ${this.exportTimeoutMillis}ms`)),
        this.exportTimeoutMillis,
      );
      try {
        // Suppress tracing so the exporter's own I/O (gRPC, HTTP) does not produce spans
        // that would feed back into this processor.
        context.with(suppressTracing(context.active()), () => {
          // Spans, or what this exporter's prepare() made of them.
          this.exporter.export(batch as ReadableSpan[], (result: ExportResult) =>
            finish(result.code === ExportResultCode.SUCCESS, result.error),
          );
        });
      } catch (err) {
        finish(false, err);
      }
    });
  }

  /**
   * The OTLP exporter's shutdown waits for its own in-flight requests, so a collector
   * that never answers would hang ours forever: give it exportTimeoutMillis, no more.
   */
  private shutdownExporter(): Promise<void> {
    return new Promise<void>((resolve) => {
      const timeout = this.timers.setTimeout(() => {
        diag.warn(`CountingBatchSpanProcessor: exporter shutdown still pending after ${this.exportTimeoutMillis}ms`);
        resolve();
      }, this.exportTimeoutMillis);
      const done = () => {
        this.timers.clearTimeout(timeout);
        resolve();
      };
      let shutdown: Promise<void>;
      try {
        shutdown = this.exporter.shutdown();
      } catch (err) {
        shutdown = Promise.reject(err);
      }
      shutdown.then(done, (err: unknown) => {
        diag.warn('CountingBatchSpanProcessor: exporter shutdown failed', err);
        done();
      });
    });
  }
}

function positive(value: number | undefined, fallback: number): number {
  return value !== undefined && Number.isFinite(value) && value > 0 ? Math.floor(value) : fallback;
}

function nonNegative(value: number | undefined, fallback: number): number {
  return value !== undefined && Number.isFinite(value) && value >= 0 ? value : fallback;
}
