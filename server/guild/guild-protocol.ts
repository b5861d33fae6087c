// Messages a guild actor understands. Every state change of a guild passes
// through its actor, which persists it and fans the event out to sessions.
import { ActorErrorCode, type ActorRef, type CallOptions, isActorError } from '../../actors/index.js';
import type { SessionProtocol } from '../gateway/session-protocol.js';
import type { PresenceUpdateData } from '../gateway/protocol.js';
import type { StoreErrorCode } from '../store/errors.js';
import type { EmojiRecord } from '../store/store.js';
import type { MemberQuery } from './member-query.js';

export type GuildCall =
  | {
      type: 'connect';
      sessionId: string;
      session: ActorRef<SessionProtocol>;
      userId: string;
      intents: number;
      largeThreshold: number;
      presence: PresenceUpdateData | undefined;
    }
  | { type: 'create_message'; channelId: string; authorId: string; content: string; nonce?: string | number }
  | { type: 'update_message'; channelId: string; messageId: string; userId: string; content: string }
  | { type: 'delete_message'; channelId: string; messageId: string; userId: string }
  | { type: 'add_reaction'; channelId: string; messageId: string; userId: string; emoji: EmojiRecord }
  | { type: 'remove_reaction'; channelId: string; messageId: string; userId: string; emoji: EmojiRecord }
  | { type: 'typing'; channelId: string; userId: string }
  | { type: 'create_channel'; userId: string; name: string; topic: string | null }
  | { type: 'add_member'; actorId: string; userId: string }
  | { type: 'remove_member'; actorId: string; userId: string }
  /** REQUEST_GUILD_MEMBERS (op 8), already checked against the session's intents; answers a MemberQueryResult. */
  | { type: 'request_members'; query: MemberQuery }
  /**
   * A session moved to another node (server/gateway/session-handoff.ts): `to` replaces the subscribed ref
   * (presence kept), then `swapped` goes to the old one. Answers `{ found }`.
   */
  | { type: 'swap'; sessionId: string; from: ActorRef<SessionProtocol>; to: ActorRef<SessionProtocol> };

export type GuildCast = { type: 'disconnect'; sessionId: string } | { type: 'presence_update'; userId: string; presence: PresenceUpdateData };

/**
 * Why a guild refused a call: its own rules, or what the store said. Domain
 * words only; the REST edge (server/context.ts callGuild) picks the HTTP status
 * and Discord code.
 */
export type GuildRefusal = 'NOT_MEMBER' | 'NOT_AUTHOR' | 'NOT_PERMITTED' | StoreErrorCode;

/** Calls answer with data, or with a refusal (never by crashing the guild). */
export type GuildReply = { ok: true; value: unknown } | { ok: false; error: GuildRefusal; message?: string };

/** The guild's own timer: is it idle enough to stop? */
export type GuildInfo = { type: 'idle_check' };

export type GuildProtocol = { call: GuildCall; reply: GuildReply; cast: GuildCast; info: GuildInfo };

export function guildKey(guildId: string): string {
  return `guild:${guildId}`;
}

/**
 * Calls a guild, once more when it stopped (idle, see GUILDHALL_GUILD_IDLE_MS)
 * between finding its ref and handling the call: `guild` then starts it anew.
 */
export async function askGuild(guild: (guildId: string) => ActorRef<GuildProtocol>, guildId: string, message: GuildCall, options?: CallOptions): Promise<GuildReply> {
  try {
    return await guild(guildId).call(message, options);
  } catch (err) {
    if (!isActorError(err, ActorErrorCode.STOPPED)) throw err;
    return guild(guildId).call(message, options);
  }
}
