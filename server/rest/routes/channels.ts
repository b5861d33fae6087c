// Channels: read one, and the typing indicator.
// https://discord.com/developers/docs/resources/channel
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { type ServerContext, callGuild } from '../../context.js';
import { toAPIChannel } from '../../store/api-shapes.js';
import { guildOfChannel, requireMemberChannel } from '../access.js';
import { channelParamsSchema } from '../schemas.js';
import { parseWith } from '../validate.js';

export function channelRoutes(app: FastifyInstance, ctx: ServerContext): void {
  app.get('/channels/:channel_id', async (request: FastifyRequest) => {
    const { channel_id } = parseWith(channelParamsSchema, request.params);
    return toAPIChannel(await requireMemberChannel(ctx, request, channel_id));
  });

  // Trigger Typing Indicator: 204; the guild broadcasts TYPING_START.
  app.post('/channels/:channel_id/typing', async (request: FastifyRequest, reply: FastifyReply) => {
    const { channel_id } = parseWith(channelParamsSchema, request.params);
    const guildId = await guildOfChannel(ctx, request, channel_id);
    await callGuild(ctx, guildId, { type: 'typing', channelId: channel_id, userId: request.userId });
    return reply.code(204).send();
  });
}
