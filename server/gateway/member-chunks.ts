// REQUEST_GUILD_MEMBERS (op 8) on the session side: Discord's privileged-intent
// rules, then the answer cut into GUILD_MEMBERS_CHUNK dispatches of at most
// 1000 members, each carrying the request's nonce.
// https://discord.com/developers/docs/events/gateway-events#request-guild-members
// https://discord.com/developers/docs/events/gateway-events#guild-members-chunk
import type { MemberQuery, MemberQueryResult } from '../guild/member-query.js';
import { GatewayIntentBits, type RequestGuildMembersData } from './protocol.js';

export const MEMBERS_PER_CHUNK = 1000;

/**
 * What to ask the guild for, or undefined when Discord would not answer at all:
 * the whole member list (empty query, limit 0) needs GUILD_MEMBERS, and
 * Discord sends nothing back without it. Presences without GUILD_PRESENCES are
 * not an error: "it will always be false".
 */
export function memberQueryFor(request: RequestGuildMembersData, intents: number): MemberQuery | undefined {
  const presences = request.presences && (intents & GatewayIntentBits.GuildPresences) !== 0;
  if (request.user_ids !== undefined) {
    return { userIds: typeof request.user_ids === 'string' ? [request.user_ids] : request.user_ids, presences };
  }
  const prefix = request.query ?? '';
  if (prefix === '' && request.limit === 0 && (intents & GatewayIntentBits.GuildMembers) === 0) return undefined;
  return { prefix, limit: request.limit, presences };
}

/** GUILD_MEMBERS_CHUNK payloads for one answer; always at least one, so a client waiting on the nonce hears back. */
export function memberChunks(guildId: string, request: RequestGuildMembersData, result: MemberQueryResult): unknown[] {
  const count = Math.max(1, Math.ceil(result.members.length / MEMBERS_PER_CHUNK));
  const presenceOf = new Map(result.presences.map((p) => [(p as { user: { id: string } }).user.id, p]));
  const chunks: unknown[] = [];
  for (let index = 0; index < count; index++) {
    const members = result.members.slice(index * MEMBERS_PER_CHUNK, (index + 1) * MEMBERS_PER_CHUNK);
    chunks.push({
      guild_id: guildId,
      members,
      chunk_index: index,
      chunk_count: count,
      ...(index === 0 && request.user_ids !== undefined ? { not_found: result.notFound } : {}),
      ...(request.presences ? { presences: members.flatMap((m) => presenceOf.get(m.user!.id) ?? []) } : {}),
      ...(request.nonce !== undefined ? { nonce: request.nonce } : {}),
    });
  }
  return chunks;
}
