// Messages a session actor understands. Guilds cast `dispatch`,
// `guild_removed` and (after a swap) `swapped`; a session on another node
// calls `handoff` and receives `forwarded`; the rest come from the session's
// own connection.
import type { ActorRef } from '../../actors/index.js';
import type { GuildProtocol } from '../guild/guild-protocol.js';
import type { PresenceUpdateData, RequestGuildMembersData } from './protocol.js';
import type { EncodedDispatch } from './dispatch.js';
import type { ForwardedItem, HandoffReply } from './session-handoff.js';
import type { SessionSocket } from './session-socket.js';

export type SessionCast =
  /** A guild event for this session, encoded once for all recipients. */
  | { type: 'dispatch'; event: EncodedDispatch }
  /** The user was added to a guild: connect to it and send GUILD_CREATE. */
  | { type: 'guild_joined'; guildId: string }
  /** The user left or was removed: send GUILD_DELETE. */
  | { type: 'guild_removed'; guildId: string }
  /** op 3 from the client. */
  | { type: 'presence'; data: PresenceUpdateData }
  /** op 8 from the client: answered with GUILD_MEMBERS_CHUNK dispatches. */
  | { type: 'request_members'; data: RequestGuildMembersData }
  /** The socket closed; keep the session for RESUME unless `resumable` is false. */
  | { type: 'detached'; connection: SessionSocket; resumable: boolean }
  /** From a guild, to the session it swapped out: nothing more of that guild comes here (session-handoff.ts). */
  | { type: 'swapped'; guildId: string }
  /** From the session this one took over from: what reached it after the handoff, in order. */
  | { type: 'forwarded'; item: ForwardedItem }
  /** A guild the session is in now runs at `guild` (handed over, or adopted after a lost lease): watch that node instead. */
  | { type: 'guild_home'; guildId: string; guild: ActorRef<GuildProtocol> }
  /** A guild is gone with its node (or refused a swap): GUILD_DELETE unavailable, then connect again. */
  | { type: 'guild_lost'; guildId: string; why: GuildLostReason };

/**
 * nodedown: the guild's node died. not_swapped: a handoff's swap failed or found the session gone.
 * old_gone: the old session stopped before this guild's marker came. old_node_down: the old session's node died mid-move.
 */
export type GuildLostReason = 'nodedown' | 'not_swapped' | 'old_gone' | 'old_node_down';

export type SessionCall =
  /** Sends READY, connects to each guild and sends its GUILD_CREATE. */
  | { type: 'identify' }
  /** A new connection takes the session over and replays what it missed. */
  | { type: 'resume'; connection: SessionSocket; seq: number; userId: string }
  /** A new session here takes over `from`, a session of the same id on another node, for `connection`. */
  | { type: 'take_over'; candidates: ActorRef<SessionProtocol>[]; connection: SessionSocket; seq: number; userId: string }
  /** From a new session on another node: answer the resume state, then forward everything to `to`. */
  | { type: 'handoff'; to: ActorRef<SessionProtocol>; seq: number; userId: string };

export type ResumeOutcome = 'resumed' | 'invalid_session' | 'invalid_seq';

export type SessionInfo = { type: 'resume_expired' } | { type: 'handoff_expired' } | { type: 'reconnect_guild'; guildId: string; attempt: number };

export type SessionProtocol = {
  cast: SessionCast;
  call: SessionCall;
  reply: ResumeOutcome | HandoffReply | undefined;
  info: SessionInfo;
};
