// GET /metrics: Prometheus text exposition of this server's registry, or
// OpenMetrics (with exemplars: trace ids on latency buckets) for a scraper
// whose Accept header asks for application/openmetrics-text, as Prometheus
// does when exemplar storage is on.
// Unauthenticated, as scrapers expect; keep it inside the network boundary.
import type { FastifyInstance } from 'fastify';
import type { ServerMetrics } from './server-metrics.js';

export function metricsRoute(app: FastifyInstance, metrics: ServerMetrics): void {
  app.get('/metrics', async (request, reply) => {
    const { contentType, text } = await metrics.render(wantsOpenMetrics(request.headers.accept) ? 'openmetrics' : 'prometheus');
    return reply.header('cache-control', 'no-store').header('vary', 'accept').type(contentType).send(text);
  });
}

/** True when the Accept header lists OpenMetrics text with a non-zero q (https://www.rfc-editor.org/rfc/rfc9110#name-accept). */
export function wantsOpenMetrics(accept: string | undefined): boolean {
  if (accept === undefined) return false;
  return accept.split(',').some((range) => {
    const [type, ...params] = range.split(';').map((p) => p.trim().toLowerCase());
    if (type !== 'application/openmetrics-text') return false;
    const q = params.find((p) => p.startsWith('q='));
    return q === undefined || Number(q.slice(2)) > 0;
  });
}
