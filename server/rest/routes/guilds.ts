// Guilds and their channels.
// https://discord.com/developers/docs/resources/guild
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { APIGuildTextChannel, ChannelType } from 'discord-api-types/v10';
import { type ServerContext, callGuild } from '../../context.js';
import { httpError } from '../../errors.js';
import { toAPIChannel, toAPIGuild } from '../../store/api-shapes.js';
import { requireMemberGuild } from '../access.js';
import { createChannelBodySchema, createGuildBodySchema, guildParamsSchema } from '../schemas.js';
import { parseBody, parseWith } from '../validate.js';
import { tagGuild } from '../ingress-tracing.js';

/** Discord's cap on guilds per user (30001 past it). */
export const MAX_GUILDS_PER_USER = 100;

export function guildRoutes(app: FastifyInstance, ctx: ServerContext): void {
  // Create Guild: 201 with the guild, as Discord. The creator owns it, with a `general` channel.
  // The guild does not exist before this, so there is no actor to ask: the store creates it and
  // the guild's actor loads it on first use.
  app.post('/guilds', async (request: FastifyRequest, reply: FastifyReply) => {
    const body = parseBody(createGuildBodySchema, request.body);
    const owned = await ctx.store.listGuildsForUser(request.userId);
    if (owned.length >= MAX_GUILDS_PER_USER) throw httpError('MAX_GUILDS');
    const guild = await ctx.store.createGuild({ name: body.name, owner_id: request.userId });
    tagGuild(request, guild.id);
    // The owner's connected sessions learn of it as of any guild they join (GUILD_CREATE).
    ctx.sessions.tell(request.userId, { type: 'guild_joined', guildId: guild.id });
    return reply.code(201).send(toAPIGuild(guild));
  });

  app.get('/guilds/:guild_id', async (request: FastifyRequest) => {
    const { guild_id } = parseWith(guildParamsSchema, request.params);
    return toAPIGuild(await requireMemberGuild(ctx, request, guild_id));
  });

  app.get('/guilds/:guild_id/channels', async (request: FastifyRequest) => {
    const { guild_id } = parseWith(guildParamsSchema, request.params);
    await requireMemberGuild(ctx, request, guild_id);
    return (await ctx.store.listChannels(guild_id)).map(toAPIChannel);
  });

  // Create Guild Channel: 201 with the channel. Only the owner may (there are no roles to grant
  // MANAGE_CHANNELS); members get 403 Missing Permissions, outsiders 403 Missing Access.
  // `position` is accepted but the channel goes last: the guild actor orders channels.
  app.post('/guilds/:guild_id/channels', async (request: FastifyRequest, reply: FastifyReply) => {
    const { guild_id } = parseWith(guildParamsSchema, request.params);
    const body = parseBody(createChannelBodySchema, request.body);
    await requireMemberGuild(ctx, request, guild_id);
    const channel = await callGuild<APIGuildTextChannel<ChannelType.GuildText>>(ctx, guild_id, {
      type: 'create_channel',
      userId: request.userId,
      name: body.name,
      topic: body.topic ?? null,
    });
    return reply.code(201).send(channel);
  });
}
