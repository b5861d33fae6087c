// The GUILD_CREATE payload a session gets when it connects to a guild
// (https://discord.com/developers/docs/events/gateway-events#guild-create).
// Large guilds send only the session's own member, as Discord does past
// `large_threshold`, so a connect costs the same in a guild of 10 or 10,000.
import { GatewayIntentBits } from './../gateway/protocol.js';
import { toAPIChannel, toAPIGuild, toAPIMember } from '../store/api-shapes.js';
import type { GuildState, Presence } from './guild-state.js';

export function guildCreatePayload(state: GuildState, userId: string, intents: number, largeThreshold: number): unknown {
  const memberCount = state.members.size;
  const large = memberCount > largeThreshold;
  const self = state.members.get(userId);
  const members = large ? (self ? [self] : []) : [...state.members.values()];
  const presences =
    (intents & GatewayIntentBits.GuildPresences) !== 0 && !large
      ? [...state.presences.entries()].map(([id, p]) => presenceData(state.guild.id, id, p))
      : [];
  return {
    ...toAPIGuild(state.guild),
    joined_at: self?.joined_at ?? null,
    large,
    unavailable: false,
    member_count: memberCount,
    members: members.map(toAPIMember),
    channels: [...state.channels.values()].map(toAPIChannel),
    threads: [],
    presences,
    voice_states: [],
    stage_instances: [],
    guild_scheduled_events: [],
    soundboard_sounds: [],
  };
}


/** PRESENCE_UPDATE data (https://discord.com/developers/docs/events/gateway-events#presence-update). */
export function presenceData(guildId: string, userId: string, presence: Presence): unknown {
  return {
    user: { id: userId },
    guild_id: guildId,
    status: presence.status,
    activities: presence.activities,
    client_status: presence.status === 'offline' ? {} : { desktop: presence.status },
  };
}
