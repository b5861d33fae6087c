// Where clients find the gateway.
// https://discord.com/developers/docs/events/gateway#get-gateway
// https://discord.com/developers/docs/events/gateway#get-gateway-bot
import type { FastifyInstance } from 'fastify';
import type { ServerContext } from '../../context.js';

/** Discord's daily numbers for a small bot (not enforced); max_concurrency is configured and enforced (GUILDHALL_MAX_CONCURRENCY). */
const SESSION_START_LIMIT = { total: 1000, remaining: 1000, reset_after: 86_400_000 };

/** `ws://host:port/gateway` for `http://host:port` (wss for https). Clients append `?v=10&encoding=json`. */
export function gatewayUrl(ctx: ServerContext): string {
  return `${ctx.publicUrl().replace(/^http/, 'ws')}/gateway`;
}

export function gatewayRoutes(app: FastifyInstance, ctx: ServerContext): void {
  app.get('/gateway', { config: { auth: false } }, async () => ({ url: gatewayUrl(ctx) }));

  app.get('/gateway/bot', async () => ({
    url: gatewayUrl(ctx),
    // Sharding is not needed: one process holds every guild a session sees.
    shards: 1,
    session_start_limit: { ...SESSION_START_LIMIT, max_concurrency: ctx.config.maxConcurrency },
  }));
}
