// Access checks shared by the routes. Reads check membership here, against
// the store. Writes only find the channel's guild here: the guild actor is the
// authority on membership and holds it in memory, so a post costs no query
// for it (and, once the channel is known, none at all before the commit).
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

/** Channels a process remembers the guild of; a channel never moves, so an entry never goes stale. */
const CHANNEL_GUILDS_MAX = 10_000;
const channelGuilds = new WeakMap<ServerContext, Map<string, string>>();

/**
 * The guild of a channel, for a write the guild actor will check: 404 Unknown
 * Channel when there is no such channel. Remembered per server, bounded.
 */
export async function guildOfChannel(ctx: ServerContext, request: FastifyRequest, channelId: string): Promise<string> {
  let known = channelGuilds.get(ctx);
  if (known === undefined) channelGuilds.set(ctx, (known = new Map()));
  let guildId = known.get(channelId);
  if (guildId === undefined) {
    const channel = await ctx.store.getChannel(channelId);
    if (channel === undefined) throw httpError('UNKNOWN_CHANNEL');
    guildId = channel.guild_id;
    if (known.size >= CHANNEL_GUILDS_MAX) known.delete(known.keys().next().value as string);
    known.set(channelId, guildId);
  }
  tagGuild(request, guildId);
  return guildId;
}
