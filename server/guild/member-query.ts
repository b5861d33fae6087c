// Which of a guild's members a REQUEST_GUILD_MEMBERS (op 8) asks for, read
// from the guild actor's state (members and presences live there, not in the
// store). The session decides what the client may ask; this only selects.
// https://discord.com/developers/docs/events/gateway-events#request-guild-members
import type { APIGuildMember } from 'discord-api-types/v10';
import { toAPIMember } from '../store/api-shapes.js';
import { presenceData } from './guild-create.js';
import type { GuildState } from './guild-state.js';

/** Discord returns at most this many members for a username prefix. */
export const MAX_QUERY_MEMBERS = 100;

export type MemberQuery =
  /** Members whose username starts with `prefix` (case-insensitive); `limit` 0 with an empty prefix means all. */
  | { prefix: string; limit: number; presences: boolean }
  | { userIds: string[]; presences: boolean };

export interface MemberQueryResult {
  members: APIGuildMember[];
  /** PRESENCE_UPDATE-shaped presences of the members who are online (only when asked for). */
  presences: unknown[];
  /** Requested user ids that are not members. */
  notFound: string[];
}

export function queryMembers(state: GuildState, query: MemberQuery): MemberQueryResult {
  const found = [];
  const notFound: string[] = [];
  if ('userIds' in query) {
    for (const id of new Set(query.userIds)) {
      const member = state.members.get(id);
      if (member) found.push(member);
      else notFound.push(id);
    }
  } else {
    const prefix = query.prefix.toLowerCase();
    const all = prefix === '' && query.limit === 0;
    const limit = all ? Infinity : Math.min(query.limit === 0 ? MAX_QUERY_MEMBERS : query.limit, MAX_QUERY_MEMBERS);
    for (const member of state.members.values()) {
      if (found.length >= limit) break;
      if (member.user.username.toLowerCase().startsWith(prefix)) found.push(member);
    }
  }
  const presences = [];
  if (query.presences) {
    for (const member of found) {
      const presence = state.presences.get(member.user.id);
      if (presence) presences.push(presenceData(state.guild.id, member.user.id, presence));
    }
  }
  return { members: found.map(toAPIMember), presences, notFound };
}
