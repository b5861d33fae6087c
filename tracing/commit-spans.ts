// Spans for group-committed writes. A write submitted under a sampled span
// becomes a child span of it (the guild's `process` span) that lasts until its
// batch commits; each batch with at least one such write makes one commit
// span, linked to every sampled write it carried, so a trace shows which
// commit a message waited for and the commit shows whose writes it held
// (https://opentelemetry.io/docs/concepts/signals/traces/#span-links).
// Unsampled writes make nothing: `begin` returns undefined without allocating.
import { type AttributeValue, type Link, ROOT_CONTEXT, type Span, SpanKind, SpanStatusCode, TraceFlags, type Tracer, context, trace } from '@opentelemetry/api';

export const ATTR_DB_SYSTEM = 'db.system';
export const ATTR_DB_OPERATION = 'db.operation';
/** Writes in the transaction the span's write was committed in. */
export const ATTR_DB_BATCH_SIZE = 'db.operation.batch.size';

export interface CommitSpansOptions {
  tracer: Tracer;
  /** `sqlite` or `postgresql`, as OpenTelemetry's database conventions name them. */
  dbSystem: string;
  enabled?: boolean;
}

export class CommitSpans {
  private readonly tracer: Tracer;
  private readonly dbSystem: string;
  private readonly enabled: boolean;

  constructor(options: CommitSpansOptions) {
    this.tracer = options.tracer;
    this.dbSystem = options.dbSystem;
    this.enabled = options.enabled ?? true;
  }

  /** Called in the submitter's context: a span for the write when that context is sampled. */
  begin(operation: string): Span | undefined {
    if (!this.enabled) return undefined;
    const active = context.active();
    const parent = trace.getSpan(active);
    if (parent === undefined || (parent.spanContext().traceFlags & TraceFlags.SAMPLED) === 0) return undefined;
    const attributes: Record<typeof ATTR_DB_SYSTEM | typeof ATTR_DB_OPERATION, string> = { 'db.system': this.dbSystem, 'db.operation': operation };
    return this.tracer.startSpan(operation, { kind: SpanKind.CLIENT, attributes }, active);
  }

  /**
   * After a batch committed (or failed): ends the sampled writes' spans and
   * records the commit itself, from `startTime` (epoch ms) to now.
   */
  committed(writes: readonly Span[], batchSize: number, startTime: number, error?: unknown): void {
    if (writes.length === 0) return;
    const links: Link[] = writes.map((w) => ({ context: w.spanContext() }));
    // Keys spelled out, not computed (V8 defines computed keys of a literal one runtime call at a time).
    const attributes: Record<typeof ATTR_DB_SYSTEM | typeof ATTR_DB_OPERATION | typeof ATTR_DB_BATCH_SIZE, AttributeValue> = {
      'db.system': this.dbSystem,
      'db.operation': 'COMMIT',
      'db.operation.batch.size': batchSize,
    };
    // The commit belongs to the first sampled write's trace and links the others.
    const commit = this.tracer.startSpan('COMMIT', { kind: SpanKind.CLIENT, startTime, links, attributes }, trace.setSpan(ROOT_CONTEXT, writes[0]!));
    for (const span of [commit, ...writes]) {
      span.setAttribute(ATTR_DB_BATCH_SIZE, batchSize);
      if (error !== undefined) {
        span.recordException(error instanceof Error ? error : String(error));
        span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
      }
      span.end();
    }
  }
}
