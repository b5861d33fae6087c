// Store records -> Discord API objects (discord-api-types), filling in the
// fields Discord always sends but this server does not model (roles beyond
// @everyone, emojis, embeds, ...) with the values Discord uses for "none".
// Client libraries read these fields unconditionally, so they must be there.
import { ChannelType, Locale, GuildDefaultMessageNotifications, GuildExplicitContentFilter, GuildMFALevel, GuildNSFWLevel, GuildPremiumTier, GuildSystemChannelFlags, GuildVerificationLevel, MessageType, PermissionFlagsBits } from 'discord-api-types/v10';
import type { GuildMemberFlags, RoleFlags, APIGuild, APIGuildMember, APIGuildTextChannel, APIMessage, APIReaction, APIRole, APIUser } from 'discord-api-types/v10';
import type { ChannelRecord, GuildRecord, MemberRecord, MessageRecord, ReactionRecord, UserRecord } from './store.js';

/** What every member may do here: read, write, react. There is no permission editing (yet). */
export const DEFAULT_EVERYONE_PERMISSIONS: string = (
  PermissionFlagsBits.ViewChannel |
  PermissionFlagsBits.SendMessages |
  PermissionFlagsBits.ReadMessageHistory |
  PermissionFlagsBits.AddReactions |
  PermissionFlagsBits.EmbedLinks |
  PermissionFlagsBits.AttachFiles |
  PermissionFlagsBits.UseExternalEmojis |
  PermissionFlagsBits.ChangeNickname |
  PermissionFlagsBits.CreateInstantInvite
).toString();

export function toAPIUser(user: UserRecord): APIUser {
  return {
    id: user.id,
    username: user.username,
    discriminator: user.discriminator,
    global_name: user.global_name,
    avatar: user.avatar,
    // Discord sends `bot` only for bots.
    ...(user.bot ? { bot: true } : {}),
  };
}

/** The @everyone role: Discord gives it the guild's own id. */
export function everyoneRole(guildId: string): APIRole {
  return {
    id: guildId,
    name: '@everyone',
    color: 0,
    colors: { primary_color: 0, secondary_color: null, tertiary_color: null },
    hoist: false,
    icon: null,
    unicode_emoji: null,
    position: 0,
    permissions: DEFAULT_EVERYONE_PERMISSIONS,
    managed: false,
    mentionable: false,
    flags: 0 as RoleFlags,
  };
}

export function toAPIGuild(guild: GuildRecord): APIGuild {
  return {
    id: guild.id,
    name: guild.name,
    icon: guild.icon,
    splash: null,
    discovery_splash: null,
    owner_id: guild.owner_id,
    afk_channel_id: null,
    afk_timeout: 300,
    verification_level: GuildVerificationLevel.None,
    default_message_notifications: GuildDefaultMessageNotifications.OnlyMentions,
    explicit_content_filter: GuildExplicitContentFilter.Disabled,
    roles: [everyoneRole(guild.id)],
    emojis: [],
    features: [],
    mfa_level: GuildMFALevel.None,
    application_id: null,
    system_channel_id: null,
    system_channel_flags: GuildSystemChannelFlags.SuppressJoinNotifications,
    rules_channel_id: null,
    vanity_url_code: null,
    description: null,
    banner: null,
    premium_tier: GuildPremiumTier.None,
    preferred_locale: Locale.EnglishUS,
    public_updates_channel_id: null,
    nsfw_level: GuildNSFWLevel.Default,
    stickers: [],
    premium_progress_bar_enabled: false,
    hub_type: null,
    safety_alerts_channel_id: null,
    incidents_data: null,
  };
}

export function toAPIChannel(channel: ChannelRecord): APIGuildTextChannel<ChannelType.GuildText> {
  return {
    id: channel.id,
    type: ChannelType.GuildText,
    guild_id: channel.guild_id,
    name: channel.name,
    position: channel.position,
    topic: channel.topic,
    last_message_id: channel.last_message_id,
    permission_overwrites: [],
    nsfw: false,
    parent_id: null,
    rate_limit_per_user: 0,
  };
}

export function toAPIMember(member: MemberRecord): APIGuildMember {
  return {
    user: toAPIUser(member.user),
    nick: member.nick,
    avatar: null,
    banner: null,
    roles: [...member.roles],
    joined_at: member.joined_at,
    deaf: false,
    mute: false,
    flags: 0 as GuildMemberFlags,
  };
}

/** `viewerId` decides each reaction's `me`; without it, `me` is false. */
export function toAPIReaction(reaction: ReactionRecord, viewerId?: string): APIReaction {
  return {
    emoji: { id: reaction.emoji.id, name: reaction.emoji.name },
    count: reaction.count,
    count_details: { burst: 0, normal: reaction.count },
    me: viewerId !== undefined && reaction.user_ids.includes(viewerId),
    me_burst: false,
    burst_colors: [],
  };
}

/**
 * The REST shape of a message. Gateway MESSAGE_CREATE adds `guild_id` and
 * `member` on top; that is the gateway's business. Discord omits
 * `reactions` when there are none.
 */
export function toAPIMessage(message: MessageRecord, viewerId?: string): APIMessage {
  return {
    id: message.id,
    channel_id: message.channel_id,
    author: toAPIUser(message.author),
    content: message.content,
    timestamp: message.timestamp,
    edited_timestamp: message.edited_timestamp,
    tts: false,
    mention_everyone: false,
    mentions: [],
    mention_roles: [],
    attachments: [],
    embeds: [],
    pinned: false,
    type: MessageType.Default,
    components: [],
    ...(message.reactions.length > 0 ? { reactions: message.reactions.map((r) => toAPIReaction(r, viewerId)) } : {}),
  };
}
