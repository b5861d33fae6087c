// Messages of a channel.
// https://discord.com/developers/docs/resources/message
// Reads come straight from the store; every write goes through the guild's
// actor, which checks membership and authorship and broadcasts the event.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { APIMessage } from 'discord-api-types/v10';
import { type ServerContext, callGuild } from '../../context.js';
import { httpError } from '../../errors.js';
import { knownJson } from '../../json-text.js';
import { toAPIMessage } from '../../store/api-shapes.js';
import { guildOfChannel, requireMemberChannel } from '../access.js';
import { channelParamsSchema, createMessageBodySchema, editMessageBodySchema, listMessagesQuerySchema, messageParamsSchema } from '../schemas.js';
import { parseBody, parseWith } from '../validate.js';

/** What Fastify labels a JSON answer it serialised itself. */
const JSON_CONTENT_TYPE = 'application/json; charset=utf-8';

export function messageRoutes(app: FastifyInstance, ctx: ServerContext): void {
  // Create Message: 200 with the message (Discord does not use 201 here).
  app.post('/channels/:channel_id/messages', async (request: FastifyRequest, reply: FastifyReply) => {
    const { channel_id } = parseWith(channelParamsSchema, request.params);
    const body = parseBody(createMessageBodySchema, request.body);
    const guildId = await guildOfChannel(ctx, request, channel_id);
    const { nonce } = body;
    // enforce_nonce is the guild's to keep (guild/recent-nonces.ts): a retry through any node meets the same memory.
    const message = await callGuild<APIMessage>(ctx, guildId, {
      type: 'create_message',
      channelId: channel_id,
      authorId: request.userId,
      content: body.content,
      ...(nonce === undefined ? {} : { nonce, enforceNonce: body.enforce_nonce === true }),
    });
    // Discord echoes the nonce so a client can match its optimistic copy.
    if (nonce !== undefined) return { ...message, nonce };
    // The guild encoded it already (for MESSAGE_CREATE): the same bytes Fastify's JSON.stringify would write.
    const text = knownJson(message);
    if (text === undefined) return message;
    return reply.type(JSON_CONTENT_TYPE).send(text);
  });

  app.get('/channels/:channel_id/messages', async (request: FastifyRequest) => {
    const { channel_id } = parseWith(channelParamsSchema, request.params);
    const query = parseWith(listMessagesQuerySchema, request.query);
    await requireMemberChannel(ctx, request, channel_id);
    const { limit, before, after, around } = query;
    const messages = await ctx.store.listMessages(channel_id, {
      limit,
      ...(before === undefined ? {} : { before }),
      ...(after === undefined ? {} : { after }),
      ...(around === undefined ? {} : { around }),
    });
    return messages.map((m) => toAPIMessage(m, request.userId));
  });

  app.get('/channels/:channel_id/messages/:message_id', async (request: FastifyRequest) => {
    const { channel_id, message_id } = parseWith(messageParamsSchema, request.params);
    await requireMemberChannel(ctx, request, channel_id);
    const message = await ctx.store.getMessage(channel_id, message_id);
    if (message === undefined) throw httpError('UNKNOWN_MESSAGE');
    return toAPIMessage(message, request.userId);
  });

  // Edit Message: the author only (50005 for anyone else).
  app.patch('/channels/:channel_id/messages/:message_id', async (request: FastifyRequest) => {
    const { channel_id, message_id } = parseWith(messageParamsSchema, request.params);
    const body = parseBody(editMessageBodySchema, request.body);
    const guildId = await guildOfChannel(ctx, request, channel_id);
    return callGuild<APIMessage>(ctx, guildId, {
      type: 'update_message',
      channelId: channel_id,
      messageId: message_id,
      userId: request.userId,
      content: body.content,
    });
  });

  // Delete Message: the author, or the guild owner (who stands in for MANAGE_MESSAGES). 204.
  app.delete('/channels/:channel_id/messages/:message_id', async (request: FastifyRequest, reply: FastifyReply) => {
    const { channel_id, message_id } = parseWith(messageParamsSchema, request.params);
    const guildId = await guildOfChannel(ctx, request, channel_id);
    await callGuild(ctx, guildId, { type: 'delete_message', channelId: channel_id, messageId: message_id, userId: request.userId });
    return reply.code(204).send();
  });
}
