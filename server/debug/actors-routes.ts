// The actor top, as a page and as JSON:
//
//   GET /debug/actors       page (?sort=wait_p99|depth|oldest|rate|restarts&kind=&limit=)
//   GET /debug/api/actors   the same rows as JSON
//
// Under /debug like the trace viewer, so the same access rule covers it.
// Requests to it never start traces (see app.ts).
import type { FastifyInstance } from 'fastify';
import type { ServerContext } from '../context.js';
import { toHttpError } from '../rest/error-handler.js';
import { parseWith } from '../rest/validate.js';
import { actorTop } from './actor-top.js';
import { renderActorTop } from './actors-page.js';
import { errorPage, sendPage } from './html.js';
import { actorTopQuerySchema } from './schemas.js';

export function actorRoutes(app: FastifyInstance, ctx: Pick<ServerContext, 'system' | 'store'>): void {
  app.get('/debug/api/actors', async (request) => {
    const query = parseWith(actorTopQuerySchema, request.query ?? {});
    return actorTop(ctx.system, ctx.store, query);
  });

  app.get('/debug/actors', async (request, reply) => {
    try {
      const query = parseWith(actorTopQuerySchema, request.query ?? {});
      return sendPage(reply, 200, renderActorTop(await actorTop(ctx.system, ctx.store, query), query));
    } catch (err) {
      const e = toHttpError(err);
      return sendPage(reply, e.status, errorPage(e.status, e.code, e.message));
    }
  });
}
