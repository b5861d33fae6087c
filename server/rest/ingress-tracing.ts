// Every REST request is an ingress span (kind SERVER), after OpenTelemetry's
// HTTP server conventions (https://opentelemetry.io/docs/specs/semconv/http/http-spans/#http-server).
//
// The root decision follows DESIGN.md "Fanout sampling": an incoming
// `traceparent` is honoured, and its sampled flag is read straight from the
// header text before anything is parsed.
//   - no header           -> a new root, sampled or not by the tracer's sampler;
//   - sampled header      -> full parse, SERVER span as a child of the remote parent;
//   - unsampled header    -> no span and no context objects: the request runs untraced,
//                            so nothing downstream (guild actors, fanout) is traced either;
//   - malformed header    -> as if absent (W3C trace-context: a vendor that cannot parse
//                            traceparent starts a new trace, https://www.w3.org/TR/trace-context/#a-traceparent-is-received).
//
// The decision itself is tracing/ingress.ts (shared with the gateway); this
// file only checks the flag early so an unsampled request does not even build
// the span's name and attributes.
//
// The span's context is entered with AsyncLocalStorage (`context.with`) around
// the rest of the request lifecycle, so that guild calls made by the handler
// carry it through the actors' mailboxes (the Transport reads the active span).
import { type Context, type Span, SpanKind, SpanStatusCode, type Tracer, context } from '@opentelemetry/api';
import type { FastifyInstance, FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify';
import { ATTR_GUILD_ID, startIngressSpan, traceparentSampledFlag } from '../../tracing/index.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The request's SERVER span; null when the request runs untraced or the span has ended. */
    ingressSpan: Span | null;
    /** The context holding `ingressSpan`, re-entered before handlers (see the preHandler below). */
    ingressContext: Context | null;
  }
}

/** Tags the request's span with the guild it acts on (for routes that learn it only in the handler). */
export function tagGuild(request: FastifyRequest, guildId: string): void {
  request.ingressSpan?.setAttribute(ATTR_GUILD_ID, guildId);
}

export function registerIngressTracing(app: FastifyInstance, tracer: Tracer, enabled = true): void {
  app.decorateRequest('ingressSpan', null);
  app.decorateRequest('ingressContext', null);
  // Tracing off (OTEL_SDK_DISABLED): no span can be made, so no hooks. Each
  // still cost every request a hook call, and onRequest built a span name and
  // attributes for the no-op tracer to drop.
  if (!enabled) return;

  app.addHook('onRequest', (request: FastifyRequest, _reply: FastifyReply, done: HookHandlerDoneFunction) => {
    const header = request.headers.traceparent;
    // The fast path: an unsampled caller costs two character reads and nothing else.
    if (header !== undefined && traceparentSampledFlag(header) === 0) {
      done();
      return;
    }
    const route = request.routeOptions.url;
    const method = request.method;
    const { span, context: spanContext } = startIngressSpan(tracer, route === undefined ? method : `${method} ${route}`, {
      traceparent: typeof header === 'string' ? header : undefined,
      tracestate: stringHeader(request.headers.tracestate),
      kind: SpanKind.SERVER,
      attributes: {
        'http.request.method': method,
        'url.path': pathOf(request.url),
        ...(route === undefined ? {} : { 'http.route': route }),
        ...guildAttribute(request.params),
      },
    });
    if (span === undefined) {
      done();
      return;
    }
    request.ingressSpan = span;
    request.ingressContext = spanContext;
    // Everything fastify runs synchronously from `done` (and the promises it chains) inherits the span.
    context.with(spanContext, done);
  });

  // Body parsing resumes on the socket's 'data'/'end' events, whose async
  // context is the connection's, not this request's: re-enter the span's context
  // right before the route's own hooks and handler.
  app.addHook('preHandler', (request: FastifyRequest, _reply: FastifyReply, done: HookHandlerDoneFunction) => {
    const ctx = request.ingressContext;
    if (ctx === null) done();
    else context.with(ctx, done);
  });

  app.addHook('onError', (request: FastifyRequest, _reply: FastifyReply, error: Error, done: HookHandlerDoneFunction) => {
    request.ingressSpan?.recordException(error);
    done();
  });

  app.addHook('onResponse', (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction) => {
    endSpan(request, reply.statusCode);
    done();
  });

  // The client went away before a response: the span still ends (and says so).
  app.addHook('onRequestAbort', (request: FastifyRequest, done: HookHandlerDoneFunction) => {
    const span = request.ingressSpan;
    if (span !== null) {
      span.setAttribute('error.type', 'request_aborted');
      span.end();
      request.ingressSpan = null;
    }
    done();
  });
}

function endSpan(request: FastifyRequest, status: number): void {
  const span = request.ingressSpan;
  if (span === null) return;
  request.ingressSpan = null;
  span.setAttribute('http.response.status_code', status);
  // Semconv: 5xx is a server error; 4xx is the client's and leaves the status unset.
  if (status >= 500) {
    span.setAttribute('error.type', String(status));
    span.setStatus({ code: SpanStatusCode.ERROR });
  }
  span.end();
}

function guildAttribute(params: unknown): Record<string, string> {
  const id = (params as { guild_id?: unknown } | undefined)?.guild_id;
  return typeof id === 'string' && /^\d{1,20}$/.test(id) ? { [ATTR_GUILD_ID]: id } : {};
}

function pathOf(url: string): string {
  const q = url.indexOf('?');
  return q === -1 ? url : url.slice(0, q);
}

function stringHeader(value: string | string[] | undefined): string | undefined {
  return typeof value === 'string' ? value : undefined;
}
