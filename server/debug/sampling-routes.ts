// Debug sampling per guild, for the engineer chasing one troubled guild:
//
//   POST   /debug/api/guilds/{guild_id}/trace {minutes}   trace everything of the guild for 1..60 minutes
//   GET    /debug/api/guilds/{guild_id}/trace             its window (404 when none is open)
//   DELETE /debug/api/guilds/{guild_id}/trace             end it early (204; 404 when none is open)
//   GET    /debug/api/debug-sampling                      every open window
//
// While a window is open, every request and gateway op that touches the guild
// is a sampled root (whatever OTEL_TRACES_SAMPLER says), and every delivery of
// its broadcasts is kept (rate 1 instead of K/N). It closes by itself.
//
// Guard: `X-Admin-Secret` must match GUILDHALL_ADMIN_SECRET (compared in
// constant time) when one is configured; without one, the endpoints work only
// outside production (NODE_ENV != production), for laptops and test rigs.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ServerContext } from '../context.js';
import { HttpError, RestErrors, httpError } from '../errors.js';
import { guildParamsSchema } from '../rest/schemas.js';
import { secretMatches } from '../rest/routes/dev.js';
import { parseBody, parseWith } from '../rest/validate.js';
import { debugWindowBodySchema } from './schemas.js';

function requireAdmin(ctx: ServerContext, request: FastifyRequest): void {
  const { adminSecret, nodeEnv } = ctx.config;
  if (adminSecret !== undefined) {
    if (!secretMatches(request.headers['x-admin-secret'], adminSecret)) throw httpError('UNAUTHORIZED');
    return;
  }
  if (nodeEnv === 'production') {
    throw new HttpError(RestErrors.MISSING_ACCESS, { message: 'Debug sampling needs GUILDHALL_ADMIN_SECRET in production' });
  }
}

export function samplingRoutes(app: FastifyInstance, ctx: ServerContext): void {
  app.get('/debug/api/debug-sampling', async (request) => {
    requireAdmin(ctx, request);
    return { tracing_enabled: ctx.tracing.enabled, windows: ctx.debug.list() };
  });

  app.post('/debug/api/guilds/:guild_id/trace', async (request, reply) => {
    requireAdmin(ctx, request);
    const { guild_id } = parseWith(guildParamsSchema, request.params);
    const { minutes } = parseBody(debugWindowBodySchema, request.body);
    if (!(await ctx.store.getGuild(guild_id))) throw httpError('UNKNOWN_GUILD');
    const window = await ctx.debug.start(ctx.store, guild_id, minutes);
    ctx.logger.info({ guildId: guild_id, until: window.until }, 'debug sampling on for guild');
    return reply.code(200).send({ ...window, tracing_enabled: ctx.tracing.enabled });
  });

  app.get('/debug/api/guilds/:guild_id/trace', async (request) => {
    requireAdmin(ctx, request);
    const { guild_id } = parseWith(guildParamsSchema, request.params);
    const window = ctx.debug.get(guild_id);
    if (window === undefined) throw httpError('UNKNOWN_DEBUG_WINDOW');
    return window;
  });

  app.delete('/debug/api/guilds/:guild_id/trace', async (request, reply) => {
    requireAdmin(ctx, request);
    const { guild_id } = parseWith(guildParamsSchema, request.params);
    if (!ctx.debug.end(guild_id)) throw httpError('UNKNOWN_DEBUG_WINDOW');
    ctx.logger.info({ guildId: guild_id }, 'debug sampling ended for guild');
    return reply.code(204).send();
  });
}
