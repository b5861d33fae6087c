// Development accounts: POST /dev/users makes a user and hands back a token,
// so a laptop (or a load test) needs no sign-up flow.
//
// Who may call it:
//   - anyone presenting the admin secret in `X-Admin-Secret`, whatever the settings;
//   - anyone at all when config.devAccounts is on, EXCEPT in production with an
//     admin secret configured: config.ts turns dev accounts on there by default
//     precisely because "an admin secret guards them", so the guard is enforced here.
// Everyone else gets 404, as if the route did not exist: its presence is nobody's business.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { issueToken } from '../../auth/token.js';
import type { ServerContext } from '../../context.js';
import { httpError } from '../../errors.js';
import { devUserBodySchema } from '../schemas.js';
import { parseBody } from '../validate.js';

/**
 * Constant-time comparison of a presented secret with the configured one.
 * Hashing first gives both sides the same length, so not even the length leaks.
 */
export function secretMatches(presented: unknown, expected: string): boolean {
  if (typeof presented !== 'string') return false;
  const a = createHash('sha256').update(presented).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

export function devRoutes(app: FastifyInstance, ctx: ServerContext): void {
  app.post('/dev/users', { config: { auth: false } }, async (request: FastifyRequest, reply: FastifyReply) => {
    const { devAccounts, adminSecret, nodeEnv } = ctx.config;
    const guarded = adminSecret !== undefined && nodeEnv === 'production';
    const admin = adminSecret !== undefined && secretMatches(request.headers['x-admin-secret'], adminSecret);
    const allowed = admin || (devAccounts && !guarded);
    if (!allowed) throw httpError('NOT_FOUND');
    const body = parseBody(devUserBodySchema, request.body);
    const user = await ctx.store.createUser({ username: body.username, global_name: body.global_name ?? null, bot: body.bot ?? false });
    return reply.code(201).send({ id: user.id, username: user.username, token: issueToken(ctx.config.tokenSecret, user.id) });
  });
}
