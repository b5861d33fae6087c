// Messages a session actor understands. Guilds only ever cast `dispatch` and
// `guild_removed`; the rest come from the session's own connection.
import type { PresenceUpdateData, RequestGuildMembersData } from './protocol.js';
import type { EncodedDispatch } from './dispatch.js';
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
  | { type: 'detached'; connection: SessionSocket; resumable: boolean };

export type SessionCall =
  /** Sends READY, connects to each guild and sends its GUILD_CREATE. */
  | { type: 'identify' }
  /** A new connection takes the session over and replays what it missed. */
  | { type: 'resume'; connection: SessionSocket; seq: number; userId: string };

export type ResumeOutcome = 'resumed' | 'invalid_session' | 'invalid_seq';

export type SessionInfo = { type: 'resume_expired' };

export type SessionProtocol = {
  cast: SessionCast;
  call: SessionCall;
  reply: ResumeOutcome | undefined;
  info: SessionInfo;
};
