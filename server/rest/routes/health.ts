// Health for load balancers and orchestrators.
// - /healthz (liveness): 200 while the process serves, 503 before it listens
//   and while it shuts down (so traffic drains away). A database outage does
//   not fail it: the gateway keeps serving from memory and the server
//   reconnects by itself, so restarting the process would only drop sessions.
//   A cluster node draining (SIGTERM) says `draining`: still serving, leaving.
//   The body says how the database is.
// - /readyz (readiness): 200 only when the database answers too, so a balancer
//   can send writes elsewhere while this node's database is unreachable.
import type { FastifyInstance, FastifyReply } from 'fastify';

export type Readiness = 'starting' | 'ready' | 'draining' | 'stopping';

/** `ok`, or the store's code for what is wrong (`UNAVAILABLE`, `READ_ONLY`, `DISK_FULL`). */
export type DatabaseHealth = 'ok' | string;

export function healthRoutes(app: FastifyInstance, readiness: () => Readiness, database: () => Promise<DatabaseHealth>): void {
  app.get('/healthz', async (_request, reply: FastifyReply) => {
    const state = readiness();
    if (state !== 'ready') return reply.code(503).header('retry-after', '1').send({ status: state });
    return { status: 'ok', database: await database() };
  });

  app.get('/readyz', async (_request, reply: FastifyReply) => {
    const state = readiness();
    if (state !== 'ready') return reply.code(503).header('retry-after', '1').send({ status: state });
    const db = await database();
    if (db !== 'ok') return reply.code(503).header('retry-after', '1').send({ status: 'database', database: db });
    return { status: 'ok', database: db };
  });
}
