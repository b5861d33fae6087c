// The REST API under /api/v10: one scope where every route is authenticated
// and rate limited unless it opts out (`config: { auth: false }`).
import type { FastifyInstance } from 'fastify';
import type { ServerContext } from '../context.js';
import { type RateLimiter, registerAuth } from './auth.js';
import type { RouteLimiter } from './route-limits.js';
import { channelRoutes } from './routes/channels.js';
import { devRoutes } from './routes/dev.js';
import { gatewayRoutes } from './routes/gateway.js';
import { guildRoutes } from './routes/guilds.js';
import { memberRoutes } from './routes/members.js';
import { messageRoutes } from './routes/messages.js';
import { reactionRoutes } from './routes/reactions.js';
import { userRoutes } from './routes/users.js';

export const API_PREFIX = '/api/v10';

export async function registerApi(app: FastifyInstance, ctx: ServerContext, limits: { global: RateLimiter; routes: RouteLimiter }): Promise<void> {
  await app.register(
    async (api) => {
      registerAuth(api, ctx, { ...limits, prefix: API_PREFIX });
      gatewayRoutes(api, ctx);
      userRoutes(api, ctx);
      guildRoutes(api, ctx);
      memberRoutes(api, ctx);
      channelRoutes(api, ctx);
      messageRoutes(api, ctx);
      reactionRoutes(api, ctx);
      devRoutes(api, ctx);
    },
    { prefix: API_PREFIX },
  );
}
