// Root decisions at ingress (a REST request, a gateway op). An incoming
// `traceparent` is honoured, and its sampled flag is read from the text first:
// - absent or malformed: a new span, root decision by the configured sampler;
// - sampled: a child of the remote parent (full parse only now);
// - unsampled: no span and no context objects at all; the work runs untraced.
import { type Attributes, type Context, ROOT_CONTEXT, type Span, SpanKind, type Tracer, trace } from '@opentelemetry/api';
import { parseTraceparent, traceparentSampledFlag } from './traceparent.js';

export interface IngressSpan {
  /** Undefined when the caller's trace is unsampled. */
  span: Span | undefined;
  /** The context to run the work in (ROOT when there is no span). */
  context: Context;
}

export function startIngressSpan(
  tracer: Tracer,
  name: string,
  options: { traceparent?: string | undefined; tracestate?: string | undefined; kind?: SpanKind; attributes?: Attributes } = {},
): IngressSpan {
  let parent = ROOT_CONTEXT;
  const flag = traceparentSampledFlag(options.traceparent);
  // An unsampled caller: honour its decision and build nothing.
  if (flag === 0) return { span: undefined, context: ROOT_CONTEXT };
  if (flag === 1) {
    const remote = parseTraceparent(options.traceparent!, options.tracestate);
    if (remote) parent = trace.setSpanContext(ROOT_CONTEXT, remote);
  }
  const span = tracer.startSpan(name, { kind: options.kind ?? SpanKind.SERVER, attributes: options.attributes }, parent);
  return { span, context: trace.setSpan(parent, span) };
}
