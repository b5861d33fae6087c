// GET /metrics: Prometheus text exposition of this server's registry.
// Unauthenticated, as scrapers expect; keep it inside the network boundary.
import type { FastifyInstance } from 'fastify';
import type { ServerMetrics } from './server-metrics.js';

export function metricsRoute(app: FastifyInstance, metrics: ServerMetrics): void {
  app.get('/metrics', async (_request, reply) => {
    const text = await metrics.render();
    return reply.header('cache-control', 'no-store').type(metrics.contentType).send(text);
  });
}
