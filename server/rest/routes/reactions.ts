// Own reactions on a message.
// https://discord.com/developers/docs/resources/message#create-reaction
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { type ServerContext, callGuild } from '../../context.js';
import { httpError } from '../../errors.js';
import { guildOfChannel } from '../access.js';
import { type EmojiRef, messageParamsSchema, parseEmoji } from '../schemas.js';
import { parseWith } from '../validate.js';

/**
 * The `{emoji}` segment as an emoji, or 400 Unknown Emoji (10014) as Discord
 * answers. Guilds here have no custom emoji (APIGuild.emojis is empty), so a
 * `name:id` emoji is unknown too.
 */
function emojiOf(params: unknown): EmojiRef {
  const raw = (params as { emoji?: unknown }).emoji;
  const emoji = typeof raw === 'string' ? parseEmoji(raw) : undefined;
  if (emoji === undefined || emoji.id !== null) throw httpError('UNKNOWN_EMOJI');
  return emoji;
}

export function reactionRoutes(app: FastifyInstance, ctx: ServerContext): void {
  const route = '/channels/:channel_id/messages/:message_id/reactions/:emoji/@me';

  // Create Reaction (PUT) and Delete Own Reaction (DELETE): 204, both idempotent.
  for (const [method, type] of [
    ['PUT', 'add_reaction'],
    ['DELETE', 'remove_reaction'],
  ] as const) {
    app.route({
      method,
      url: route,
      handler: async (request: FastifyRequest, reply: FastifyReply) => {
        const { channel_id, message_id } = parseWith(messageParamsSchema, request.params);
        const emoji = emojiOf(request.params);
        const guildId = await guildOfChannel(ctx, request, channel_id);
        await callGuild(ctx, guildId, { type, channelId: channel_id, messageId: message_id, userId: request.userId, emoji });
        return reply.code(204).send();
      },
    });
  }
}
