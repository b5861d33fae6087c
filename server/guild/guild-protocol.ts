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
  /** `enforceNonce` with a nonce: a repeat within minutes answers the first message (recent-nonces.ts). */
  | { type: 'create_message'; channelId: string; authorId: string; content: string; nonce?: string | number; enforceNonce?: boolean }
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
  | { type: 'swap'; sessionId: string; from: ActorRef<SessionProtocol>; to: ActorRef<SessionProtocol> }
  /**
   * Cluster mode (server/cluster/guild-handover.ts): stop taking messages, finish the writes in
   * flight, answer with the handoff (GuildHandoff). Everything after it is refused as GUILD_MOVING.
   */
  | { type: 'handover' }
  /** Cluster mode: starts the guild at its home if it is not running (after a handover, so the handoff is taken at once). */
  | { type: 'activate' }
  /**
   * Cluster mode: the subscribers of a copy of this guild that lost its lease (no handoff could be
   * left in KV): subscribed here unless already, so their sessions keep receiving.
   */
  | { type: 'adopt'; subscribers: { sessionId: string; session: ActorRef<SessionProtocol>; userId: string; intents: number }[] };

export type GuildCast =
  | { type: 'disconnect'; sessionId: string }
  | { type: 'presence_update'; userId: string; presence: PresenceUpdateData }
  /** A subscriber's session (or its node) went down: drop it if it is still that ref. */
  | { type: 'subscriber_down'; sessionId: string; ref: ActorRef<SessionProtocol> };

/**
 * Why a guild refused a call: its own rules, or what the store said. Domain
 * words only; the REST edge (server/context.ts callGuild) picks the HTTP status
 * and Discord code.
 */
export type GuildRefusal = 'NOT_MEMBER' | 'NOT_AUTHOR' | 'NOT_PERMITTED' | 'GUILD_MOVING' | StoreErrorCode;

/**
 * Cluster mode: the guild is not served here right now (moving, not home, or its lease is held
 * elsewhere). Nothing was done, so the caller may try again (askGuild does, with a backoff).
 */
export const GUILD_MOVING: GuildReply = { ok: false, error: 'GUILD_MOVING' };

/** A guild's state handed to its next home: sessions subscribed (refs as addresses) and presences. */
export interface GuildHandoff {
  subscribers: { sessionId: string; session: [node: string, id: string, kind: string]; userId: string; intents: number }[];
  presences: [userId: string, presence: { status: string; activities: unknown[] }][];
}

/** Calls answer with data, or with a refusal (never by crashing the guild). */
export type GuildReply = { ok: true; value: unknown } | { ok: false; error: GuildRefusal; message?: string };

/** The guild's own timer: is it idle enough to stop? */
export type GuildInfo = { type: 'idle_check' };

export type GuildProtocol = { call: GuildCall; reply: GuildReply; cast: GuildCast; info: GuildInfo };

export function guildKey(guildId: string): string {
  return `guild:${guildId}`;
}

/**
 * Waits before each retry of a refused call: about 3.5 s in all, which covers a
 * handover (a commit, a KV write and a load) many times over. A guild whose
 * node died waits for its lease to expire (GUILDHALL_LEASE_TTL_MS): callers get
 * the refusal (REST: 503 with Retry-After) and try again themselves.
 */
export const GUILD_RETRY_DELAYS_MS: readonly number[] = [0, 25, 50, 100, 200, 400, 800, 1000, 1000];

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Calls a guild; tries again, with a bounded backoff (`delays`), when the call
 * was certainly not handled: the guild stopped (idle, see
 * GUILDHALL_GUILD_IDLE_MS) between finding its ref and handling the call
 * (`guild` then starts it anew), or, in cluster mode, it is moving between
 * nodes (GUILD_MOVING). `guild` is asked again each time: the home may change.
 * After the last try, a GUILD_MOVING reply is returned (or the error thrown).
 */
export async function askGuild(
  guild: (guildId: string) => ActorRef<GuildProtocol>,
  guildId: string,
  message: GuildCall,
  options?: CallOptions,
  delays: readonly number[] = GUILD_RETRY_DELAYS_MS,
): Promise<GuildReply> {
  for (let attempt = 0; ; attempt++) {
    let reply: GuildReply;
    try {
      reply = await guild(guildId).call(message, options);
    } catch (err) {
      if (!isActorError(err, ActorErrorCode.STOPPED) || attempt >= delays.length) throw err;
      if (delays[attempt]! > 0) await sleep(delays[attempt]!);
      continue;
    }
    if (reply.ok || reply.error !== 'GUILD_MOVING' || attempt >= delays.length) return reply;
    if (delays[attempt]! > 0) await sleep(delays[attempt]!);
  }
}
