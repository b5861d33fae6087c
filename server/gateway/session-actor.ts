// The session actor: one per identified client. It owns the sequence number,
// the replay buffer and the socket writes; guilds cast dispatches at it, and a
// RESUME moves it onto a new connection. Detached, it waits `resumeTimeoutMs`
// for a RESUME, buffering, then stops and leaves its guilds.
import type { ActorContext, ActorRef, Behaviour, StopReason } from '../../actors/index.js';
import type { ServerContext } from '../context.js';
import { askGuild, guildKey, type GuildProtocol } from '../guild/guild-protocol.js';
import type { MemberQueryResult } from '../guild/member-query.js';
import { toAPIUser } from '../store/api-shapes.js';
import type { UserRecord } from '../store/store.js';
import type { SessionSocket } from './session-socket.js';
import { EncodedDispatch } from './dispatch.js';
import { memberChunks, memberQueryFor } from './member-chunks.js';
import { GATEWAY_VERSION, type PresenceUpdateData, type RequestGuildMembersData, shardOf } from './protocol.js';
import { ReplayBuffer } from './replay-buffer.js';
import type { ResumeOutcome, SessionCall, SessionCast, SessionInfo, SessionProtocol } from './session-protocol.js';

export interface SessionArgs {
  sessionId: string;
  user: UserRecord;
  intents: number;
  shard: [number, number];
  largeThreshold: number;
  presence: PresenceUpdateData | undefined;
  connection: SessionSocket;
}

interface SessionState {
  seq: number;
  replay: ReplayBuffer;
  connection: SessionSocket | undefined;
  guildIds: Set<string>;
  cancelExpiry: (() => void) | undefined;
}

/** How long IDENTIFY waits for one guild to accept the session. */
const CONNECT_TIMEOUT_MS = 30_000;

export function sessionKey(sessionId: string): string {
  return `session:${sessionId}`;
}

/** Attributes of the `gateway.send` event, read synchronously by the Transport (one scratch object, no closure per delivery). */
const sent = { event: '', seq: 0, written: false };
const sentAttributes = () => ({ 'gateway.event': sent.event, 'gateway.seq': sent.seq, 'gateway.written': sent.written });

export function sessionBehaviour(ctx: ServerContext, args: SessionArgs): Behaviour<SessionState, SessionProtocol> {
  return new SessionBehaviour(ctx, args);
}

// A class, not an object of closures: its methods live once on the prototype,
// and each of thousands of sessions (most of them idle) keeps only its fields.
class SessionBehaviour implements Behaviour<SessionState, SessionProtocol> {
  readonly kind = 'session';
  private readonly userId: string;

  constructor(
    private readonly ctx: ServerContext,
    private readonly args: SessionArgs,
  ) {
    this.userId = args.user.id;
  }

  /** Gives `dispatch` the next seq, keeps it for RESUME, and writes it if connected and wanted. */
  private send(state: SessionState, dispatch: EncodedDispatch): void {
    if (dispatch.intent !== undefined && (this.args.intents & dispatch.intent) === 0) return;
    const seq = ++state.seq;
    state.replay.push(seq, dispatch);
    const connection = state.connection;
    if (!connection) return;
    const written = connection.sendDispatch(dispatch, seq);
    // A kept delivery's trace shows the frame going to the socket: an event on
    // the delivery span (a child span per delivery would double what a sampled
    // broadcast costs, for a duration that is only a buffer copy).
    sent.event = dispatch.event;
    sent.seq = seq;
    sent.written = written;
    this.ctx.transport.event('gateway.send', sentAttributes);
  }

  /**
   * Whether a guild's events belong on this session's shard: (guild_id >> 22) % num_shards.
   * https://discord.com/developers/docs/events/gateway#sharding
   */
  private onShard(guildId: string): boolean {
    const [shardId, shardCount] = this.args.shard;
    return shardOf(guildId, shardCount) === shardId;
  }

  // Every way a guild joins a session (IDENTIFY, a guild made or joined while
  // connected) comes through here, so the shard rule is applied in one place.
  private async connectGuild(state: SessionState, guildId: string, self: ActorRef<SessionProtocol>): Promise<void> {
    if (!this.onShard(guildId)) return;
    const { ctx, args } = this;
    const reply = await askGuild(
      (id) => ctx.guild(id),
      guildId,
      { type: 'connect', sessionId: args.sessionId, session: self, userId: this.userId, intents: args.intents, largeThreshold: args.largeThreshold, presence: args.presence },
      { timeoutMs: CONNECT_TIMEOUT_MS },
    ).catch((err: unknown) => {
      ctx.logger.warn({ err, guildId, sessionId: args.sessionId }, 'guild connect failed');
      return undefined;
    });
    if (!reply?.ok) return;
    state.guildIds.add(guildId);
    this.send(state, new EncodedDispatch('GUILD_CREATE', reply.value));
  }

  /**
   * op 8. Only guilds this session has (a guild it is not in, or on another
   * shard, gets no answer, as on Discord); the guild selects, the chunks go out
   * in seq order like any dispatch.
   */
  private async requestMembers(state: SessionState, request: RequestGuildMembersData): Promise<void> {
    if (!state.guildIds.has(request.guild_id)) return;
    const { ctx, args } = this;
    const query = memberQueryFor(request, args.intents);
    if (!query) return;
    const reply = await askGuild((id) => ctx.guild(id), request.guild_id, { type: 'request_members', query }).catch((err: unknown) => {
      ctx.logger.warn({ err, guildId: request.guild_id, sessionId: args.sessionId }, 'member request failed');
      return undefined;
    });
    if (!reply?.ok) return;
    for (const chunk of memberChunks(request.guild_id, request, reply.value as MemberQueryResult)) this.send(state, new EncodedDispatch('GUILD_MEMBERS_CHUNK', chunk));
  }

  private leaveGuilds(state: SessionState): void {
    for (const guildId of state.guildIds) {
      // Only running guilds: a stopped one has no session list to clean.
      this.ctx.system.whereis<GuildProtocol>(guildKey(guildId))?.cast({ type: 'disconnect', sessionId: this.args.sessionId });
    }
    state.guildIds.clear();
  }

  init(actor: ActorContext<SessionProtocol>): SessionState {
    this.ctx.sessions.add(this.userId, this.args.sessionId, actor.self);
    return { seq: 0, replay: new ReplayBuffer(this.ctx.config.resumeBuffer), connection: this.args.connection, guildIds: new Set(), cancelExpiry: undefined };
  }

  async handleCall(msg: SessionCall, state: SessionState, actor: ActorContext<SessionProtocol>): Promise<ResumeOutcome | undefined> {
    const { ctx, args, userId } = this;
    if (msg.type === 'identify') {
      const guilds = (await ctx.store.listGuildsForUser(userId)).filter((g) => this.onShard(g.id));
      const gatewayUrl = ctx.publicUrl().replace(/^http/, 'ws') + '/gateway';
      this.send(
        state,
        new EncodedDispatch('READY', {
          v: GATEWAY_VERSION,
          user: toAPIUser(args.user),
          guilds: guilds.map((g) => ({ id: g.id, unavailable: true })),
          session_id: args.sessionId,
          resume_gateway_url: gatewayUrl,
          shard: args.shard,
          application: { id: userId, flags: 0 },
          private_channels: [],
          relationships: [],
          presences: [],
          user_settings: {},
          guild_join_requests: [],
          geo_ordered_rtc_regions: [],
          session_type: 'normal',
          auth: {},
        }),
      );
      // Connect to every guild at once; each GUILD_CREATE leaves as its guild answers,
      // and dispatches from a guild queue behind this handler until it is done.
      await Promise.all(guilds.map((g) => this.connectGuild(state, g.id, actor.self)));
      return undefined;
    }

    // resume
    if (msg.userId !== userId) return 'invalid_session';
    if (msg.seq > state.seq) return 'invalid_seq';
    const missed = state.replay.after(msg.seq);
    if (!missed) return 'invalid_session';
    state.cancelExpiry?.();
    state.cancelExpiry = undefined;
    // A RESUME while the old socket is still open takes the session over.
    if (state.connection && state.connection !== msg.connection) state.connection.close(4000, 'session resumed elsewhere');
    state.connection = msg.connection;
    for (const { seq, dispatch } of missed) msg.connection.sendDispatch(dispatch, seq);
    this.send(state, new EncodedDispatch('RESUMED', {}));
    return 'resumed';
  }

  // Not `async`: a dispatch is the hot path, handled synchronously. An async
  // handler would make a promise, a microtask and a reschedule per delivery
  // (and, with tracing on, async-hook work for each promise).
  handleCast(msg: SessionCast, state: SessionState, actor: ActorContext<SessionProtocol>): Promise<void> | undefined {
    switch (msg.type) {
      case 'dispatch':
        this.send(state, msg.event);
        return;
      case 'guild_joined':
        // Async (as request_members): the mailbox waits for the connect, so GUILD_CREATE precedes that guild's events.
        return state.guildIds.has(msg.guildId) ? undefined : this.connectGuild(state, msg.guildId, actor.self);
      case 'guild_removed':
        if (state.guildIds.delete(msg.guildId)) this.send(state, new EncodedDispatch('GUILD_DELETE', { id: msg.guildId }));
        return;
      case 'presence':
        for (const guildId of state.guildIds) this.ctx.guild(guildId).cast({ type: 'presence_update', userId: this.userId, presence: msg.data });
        return;
      case 'request_members':
        // Async as guild_joined: the mailbox waits, so the chunks keep their place among the events.
        return this.requestMembers(state, msg.data);
      case 'detached':
        if (state.connection !== msg.connection) return; // a late close of a connection already replaced
        state.connection = undefined;
        if (!msg.resumable) {
          actor.stop();
          return;
        }
        state.cancelExpiry = actor.sendAfter(this.ctx.config.resumeTimeoutMs, { type: 'resume_expired' });
        return;
    }
  }

  handleInfo(msg: SessionInfo, state: SessionState, actor: ActorContext<SessionProtocol>): void {
    if (msg.type === 'resume_expired' && !state.connection) actor.stop();
  }

  terminate(reason: StopReason, state: SessionState | undefined): void {
    this.ctx.sessions.remove(this.userId, this.args.sessionId);
    if (!state) return;
    this.leaveGuilds(state);
    // A session that could not keep up (mailbox overflow) or crashed for good
    // closes its socket; the client's RESUME then gets INVALID_SESSION.
    if (state.connection && reason.type !== 'normal') state.connection.close(4000, reason.type === 'overflow' ? 'session overloaded' : 'session ended');
  }
}
