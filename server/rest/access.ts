// Read-side access checks shared by the routes. Writes are decided again by
// the guild actor (the authority on membership); these checks give reads
// the same answers and let the request's span learn its guild.
import type { FastifyRequest } from 'fastify';
import type { ServerContext } from '../context.js';
import { httpError } from '../errors.js';
import type { ChannelRecord, GuildRecord } from '../store/store.js';
import { tagGuild } from './ingress-tracing.js';

/** The guild, or 404 Unknown Guild. */
export async function requireGuild(ctx: ServerContext, guildId: string): Promise<GuildRecord> {
  const guild = await ctx.store.getGuild(guildId);
  if (guild === undefined) throw httpError('UNKNOWN_GUILD');
  return guild;
}

/** The guild when the caller is a member of it; 404 Unknown Guild, or 403 Missing Access as Discord answers outsiders. */
export async function requireMemberGuild(ctx: ServerContext, request: FastifyRequest, guildId: string): Promise<GuildRecord> {
  const guild = await requireGuild(ctx, guildId);
  if (!(await ctx.store.isMember(guildId, request.userId))) throw httpError('MISSING_ACCESS');
  return guild;
}

/**
 * The channel when the caller is a member of its guild: 404 Unknown Channel,
 * or 403 Missing Access. Channel routes learn their guild here, so this is
 * also where their span gets the guild attribute.
 */
export async function requireMemberChannel(ctx: ServerContext, request: FastifyRequest, channelId: string): Promise<ChannelRecord> {
  const channel = await ctx.store.getChannel(channelId);
  if (channel === undefined) throw httpError('UNKNOWN_CHANNEL');
  tagGuild(request, channel.guild_id);
  if (!(await ctx.store.isMember(channel.guild_id, request.userId))) throw httpError('MISSING_ACCESS');
  return channel;
}
