// The built-in trace viewer: two pages and the JSON API behind them, over the
// in-memory TraceStore (the most recent sampled traces; no collector needed).
//
//   GET /debug/traces                          list page (?guild=&min_duration_ms=&tail=1&limit=)
//   GET /debug/traces/{trace_id}               waterfall page
//   GET /debug/api/traces                      the list as JSON
//   GET /debug/api/traces/{trace_id}           the spans as JSON
//   GET /debug/api/traces/{trace_id}/otlp.json the trace as an OTLP/JSON ExportTraceServiceRequest (download)
//
// Read-only and unauthenticated, like /metrics: put it behind the same network
// boundary. Requests to it never start traces themselves (see app.ts).
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { type TraceStore, type Tracing, toOtlpJson } from '../../tracing/index.js';
import { httpError } from '../errors.js';
import { toHttpError } from '../rest/error-handler.js';
import { parseWith } from '../rest/validate.js';
import { errorPage, sendPage } from './html.js';
import { traceListQuerySchema, traceParamsSchema } from './schemas.js';
import { renderTraceList } from './trace-list-page.js';
import { renderWaterfall } from './waterfall-page.js';

export interface ViewerDeps {
  traceStore: TraceStore;
  tracing: Tracing;
  /** False when spans go to a collector and GUILDHALL_TRACE_VIEWER is not `on`: the store stays empty. */
  recording: boolean;
}

export function viewerRoutes(app: FastifyInstance, { traceStore, tracing, recording }: ViewerDeps): void {
  const listOf = (query: unknown) => {
    const filters = parseWith(traceListQuerySchema, query ?? {});
    const traces = traceStore.list({
      limit: filters.limit,
      ...(filters.guild === undefined ? {} : { guild: filters.guild }),
      ...(filters.min_duration_ms === undefined ? {} : { minDurationMs: filters.min_duration_ms }),
      ...(filters.tail === true ? { tail: true } : {}),
    });
    return { filters, traces };
  };

  /** The spans of a trace, or 404 Unknown Trace. */
  const spansOf = (params: unknown) => {
    const { trace_id } = parseWith(traceParamsSchema, params);
    const spans = traceStore.get(trace_id);
    if (spans === undefined || spans.length === 0) throw httpError('UNKNOWN_TRACE');
    const summary = traceStore.list().find((s) => s.traceId === trace_id);
    return { traceId: trace_id, spans, summary };
  };

  // Pages answer errors as pages, with the same status and code the JSON API would give.
  const htmlRoute = (render: (request: FastifyRequest) => string) => async (request: FastifyRequest, reply: FastifyReply) => {
    try {
      return sendPage(reply, 200, render(request));
    } catch (err) {
      const e = toHttpError(err);
      const detail = e.errors === undefined ? undefined : JSON.stringify(e.errors, null, 2);
      return sendPage(reply, e.status, errorPage(e.status, e.code, e.message, detail));
    }
  };

  app.get(
    '/debug/traces',
    htmlRoute((request) => {
      const { filters, traces } = listOf(request.query);
      return renderTraceList({ traces, filters, tracingEnabled: tracing.enabled, recording, tracingDescription: tracing.describe(), stored: traceStore.stats().traces });
    }),
  );

  app.get(
    '/debug/traces/:trace_id',
    htmlRoute((request) => {
      const { traceId, spans, summary } = spansOf(request.params);
      return renderWaterfall(traceId, spans, summary);
    }),
  );

  app.get('/debug/api/traces', async (request) => {
    const { filters, traces } = listOf(request.query);
    return { tracing: { enabled: tracing.enabled, recording, description: tracing.describe() }, filters, traces };
  });

  app.get('/debug/api/traces/:trace_id', async (request) => {
    const { traceId, spans, summary } = spansOf(request.params);
    return { traceId, summary: summary ?? null, spans };
  });

  app.get('/debug/api/traces/:trace_id/otlp.json', async (request, reply) => {
    const { traceId, spans } = spansOf(request.params);
    return reply
      .header('content-disposition', `attachment; filename="trace-${traceId}.otlp.json"`)
      .type('application/json; charset=utf-8')
      .send(JSON.stringify(toOtlpJson(spans)));
  });
}
