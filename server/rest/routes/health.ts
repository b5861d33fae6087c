// Liveness/readiness for load balancers and orchestrators: 200 once the server
// listens, 503 before that and while it shuts down (so traffic drains away).
import type { FastifyInstance, FastifyReply } from 'fastify';

export type Readiness = 'starting' | 'ready' | 'stopping';

export function healthRoutes(app: FastifyInstance, readiness: () => Readiness): void {
  app.get('/healthz', async (_request, reply: FastifyReply) => {
    const state = readiness();
    if (state === 'ready') return { status: 'ok' };
    return reply.code(503).header('retry-after', '1').send({ status: state });
  });
}
