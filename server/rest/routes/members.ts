// Guild members.
// https://discord.com/developers/docs/resources/guild#list-guild-members
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { APIGuildMember } from 'discord-api-types/v10';
import { type ServerContext, callGuild } from '../../context.js';
import { httpError } from '../../errors.js';
import { toAPIMember } from '../../store/api-shapes.js';
import { requireMemberGuild } from '../access.js';
import { guildParamsSchema, listMembersQuerySchema, memberParamsSchema } from '../schemas.js';
import { parseWith } from '../validate.js';

export function memberRoutes(app: FastifyInstance, ctx: ServerContext): void {
  app.get('/guilds/:guild_id/members', async (request: FastifyRequest) => {
    const { guild_id } = parseWith(guildParamsSchema, request.params);
    const query = parseWith(listMembersQuerySchema, request.query);
    await requireMemberGuild(ctx, request, guild_id);
    const members = await ctx.store.listMembers(guild_id, { limit: query.limit, ...(query.after === undefined ? {} : { after: query.after }) });
    return members.map(toAPIMember);
  });

  app.get('/guilds/:guild_id/members/:user_id', async (request: FastifyRequest) => {
    const params = parseWith(memberParamsSchema, request.params);
    await requireMemberGuild(ctx, request, params.guild_id);
    const member = await ctx.store.getMember(params.guild_id, targetOf(request, params.user_id));
    if (member === undefined) throw httpError('UNKNOWN_MEMBER');
    return toAPIMember(member);
  });

  // Add Guild Member: 201 with the member when added, 204 when the user already was one (Discord).
  // Discord wants an OAuth2 access_token in the body; there is no OAuth2 here, so the body is
  // ignored and the owner's say-so is enough.
  app.put('/guilds/:guild_id/members/:user_id', async (request: FastifyRequest, reply: FastifyReply) => {
    const params = parseWith(memberParamsSchema, request.params);
    await requireMemberGuild(ctx, request, params.guild_id);
    const result = await callGuild<{ member: APIGuildMember; added: boolean }>(ctx, params.guild_id, {
      type: 'add_member',
      actorId: request.userId,
      userId: targetOf(request, params.user_id),
    });
    return result.added ? reply.code(201).send(result.member) : reply.code(204).send();
  });

  // Remove Guild Member: the owner removes anyone else; a member may remove themself (leave).
  // The owner cannot be removed (403 Missing Permissions, as kicking an owner on Discord).
  app.delete('/guilds/:guild_id/members/:user_id', async (request: FastifyRequest, reply: FastifyReply) => {
    const params = parseWith(memberParamsSchema, request.params);
    await requireMemberGuild(ctx, request, params.guild_id);
    await callGuild(ctx, params.guild_id, { type: 'remove_member', actorId: request.userId, userId: targetOf(request, params.user_id) });
    return reply.code(204).send();
  });
}

function targetOf(request: FastifyRequest, userId: string): string {
  return userId === '@me' ? request.userId : userId;
}
