// A span around one asynchronous operation of the server's own (not a message:
// the Transport traces those), e.g. a cluster guild handover. It starts a new
// trace (root decision by the configured sampler) and the operation runs in
// it, so the actor messages it sends carry the trace into their handlers.
// Tracing never breaks serving: a failure of the operation is recorded and
// rethrown unchanged.
import { type Attributes, ROOT_CONTEXT, SpanKind, SpanStatusCode, type Tracer, context, trace } from '@opentelemetry/api';

/** What the operation may add to its span. */
export interface OperationSpan {
  setAttribute(key: string, value: string | number | boolean): void;
}

export async function inOperationSpan<T>(tracer: Tracer, name: string, attributes: Attributes, run: (span: OperationSpan) => Promise<T>): Promise<T> {
  const span = tracer.startSpan(name, { kind: SpanKind.INTERNAL, attributes, root: true }, ROOT_CONTEXT);
  try {
    return await context.with(trace.setSpan(ROOT_CONTEXT, span), () => run(span));
  } catch (err) {
    span.recordException(err instanceof Error ? err : String(err));
    span.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.message : String(err) });
    throw err;
  } finally {
    span.end();
  }
}
