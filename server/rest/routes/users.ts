// The current user and the guilds they are in.
// https://discord.com/developers/docs/resources/user
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { PermissionFlagsBits, type RESTAPIPartialCurrentUserGuild } from 'discord-api-types/v10';
import { type ServerContext, callGuild } from '../../context.js';
import { HttpError, httpError } from '../../errors.js';
import { compareSnowflakes } from '../../ids/snowflake.js';
import { DEFAULT_EVERYONE_PERMISSIONS, toAPIUser } from '../../store/api-shapes.js';
import type { GuildRecord } from '../../store/store.js';
import { guildParamsSchema, listUserGuildsQuerySchema, userParamsSchema } from '../schemas.js';
import { tagGuild } from '../ingress-tracing.js';
import { parseWith } from '../validate.js';

/** Every permission bit: what an owner has (Discord treats owners as administrators). */
const ALL_PERMISSIONS = Object.values(PermissionFlagsBits)
  .reduce((all, bit) => all | bit, 0n)
  .toString();

// Discord's answer to an owner leaving their own guild (they must transfer or delete it).
// Not in the shared catalog (yet); see https://discord.com/developers/docs/topics/opcodes-and-status-codes#json (50055).
const INVALID_GUILD = { code: 50055, status: 400, message: 'Invalid Guild' } as const;

function partialGuild(guild: GuildRecord, userId: string): RESTAPIPartialCurrentUserGuild {
  const owner = guild.owner_id === userId;
  return {
    id: guild.id,
    name: guild.name,
    icon: guild.icon,
    banner: null,
    owner,
    features: [],
    permissions: owner ? ALL_PERMISSIONS : DEFAULT_EVERYONE_PERMISSIONS,
  };
}

export function userRoutes(app: FastifyInstance, ctx: ServerContext): void {
  app.get('/users/@me', async (request: FastifyRequest) => {
    const user = request.user!;
    // The current user carries a few account fields other users do not.
    return { ...toAPIUser(user), flags: 0, public_flags: 0, mfa_enabled: false, locale: 'en-US', verified: true };
  });

  app.get('/users/:user_id', async (request: FastifyRequest) => {
    const { user_id } = parseWith(userParamsSchema, request.params);
    const user = await ctx.store.getUser(user_id);
    if (user === undefined) throw httpError('UNKNOWN_USER');
    return toAPIUser(user);
  });

  app.get('/users/@me/guilds', async (request: FastifyRequest) => {
    const query = parseWith(listUserGuildsQuerySchema, request.query);
    let guilds = await ctx.store.listGuildsForUser(request.userId); // by id ascending
    if (query.after !== undefined) guilds = guilds.filter((g) => compareSnowflakes(g.id, query.after!) > 0);
    if (query.before !== undefined) {
      guilds = guilds.filter((g) => compareSnowflakes(g.id, query.before!) < 0);
      guilds = guilds.slice(Math.max(0, guilds.length - query.limit));
    } else {
      guilds = guilds.slice(0, query.limit);
    }
    return guilds.map((g) => partialGuild(g, request.userId));
  });

  // Leave Guild. Discord answers 404 Unknown Guild for a guild you are not in, and
  // 400 Invalid Guild (50055) to its owner, who must delete or transfer it instead.
  app.delete('/users/@me/guilds/:guild_id', async (request: FastifyRequest, reply: FastifyReply) => {
    const { guild_id } = parseWith(guildParamsSchema, request.params);
    const guild = await ctx.store.getGuild(guild_id);
    if (guild === undefined || !(await ctx.store.isMember(guild_id, request.userId))) throw httpError('UNKNOWN_GUILD');
    tagGuild(request, guild_id);
    if (guild.owner_id === request.userId) throw new HttpError(INVALID_GUILD);
    await callGuild(ctx, guild_id, { type: 'remove_member', actorId: request.userId, userId: request.userId });
    return reply.code(204).send();
  });
}
