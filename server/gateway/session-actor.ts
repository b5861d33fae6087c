// The session actor: one per identified client. It owns the sequence number,
// the replay buffer and the socket writes; guilds cast dispatches at it, and a
// RESUME moves it onto a new connection. Detached, it waits `resumeTimeoutMs`
// for a RESUME, buffering, then stops and leaves its guilds. A RESUME on
// another node moves it there (session-handoff.ts): this one then forwards
// until its guilds have swapped, and stops.
import type { ActorContext, ActorRef, Behaviour, StopReason } from '../../actors/index.js';
import type { ServerContext } from '../context.js';
import { askGuild, guildKey, type GuildProtocol } from '../guild/guild-protocol.js';
import type { MemberQueryResult } from '../guild/member-query.js';
import { toAPIUser } from '../store/api-shapes.js';
import type { UserRecord } from '../store/store.js';
import type { SessionSocket } from './session-socket.js';
import { EncodedDispatch } from './dispatch.js';
import { Forwarder, HANDOFF_CALL_MS, HANDOFF_LINGER_MS, type HandoffReply, type HandoffState, type HeldCast, Takeover, isHeld } from './session-handoff.js';
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
  /** Undefined for a session spawned to take over one from another node (its `take_over` call brings the connection). */
  connection: SessionSocket | undefined;
}

interface SessionState {
  seq: number;
  replay: ReplayBuffer;
  connection: SessionSocket | undefined;
  guildIds: Set<string>;
  cancelExpiry: (() => void) | undefined;
  /** Set once handed off to another node: everything goes there. */
  forward: Forwarder | undefined;
  /** Set while taking over from another node: guilds' direct casts wait for their markers. */
  takeover: Takeover | undefined;
  /** Monitors of guilds on other nodes (their node dying makes the guild unavailable); made for the first such guild. */
  guildMonitors: Map<string, () => void> | undefined;
}

/** How long IDENTIFY waits for one guild to accept the session. */
const CONNECT_TIMEOUT_MS = 30_000;
/** A guild lost with its node is tried again this often, this many times (its lease expires first: GUILDHALL_LEASE_TTL_MS). */
const GUILD_RETRY_MS = 1_000;
const GUILD_RETRIES = 120;

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
  private readonly args: Omit<SessionArgs, 'user' | 'intents'>;
  /** For READY, then dropped: an idle session keeps its user's id, not the record. */
  private user: UserRecord | undefined;
  /**
   * The session's intents: read by every delivery, so kept on the object a delivery reads anyway,
   * not in `args` (which a delivery would then read too: one more object of each of thousands of sessions).
   */
  private intents: number;

  constructor(
    private readonly ctx: ServerContext,
    { user, intents, ...args }: SessionArgs,
  ) {
    this.args = args;
    this.user = user;
    this.userId = user.id;
    this.intents = intents;
  }

  /**
   * Gives `dispatch` the next seq, keeps it for RESUME, and writes it if connected and wanted.
   * `last`: nothing else waits in the mailbox, so the frame leaves now rather than on the next tick.
   */
  private send(state: SessionState, dispatch: EncodedDispatch, last = false): void {
    if (dispatch.intent !== undefined && (this.intents & dispatch.intent) === 0) return;
    const seq = ++state.seq;
    state.replay.push(seq, dispatch);
    const connection = state.connection;
    if (!connection) return;
    const written = connection.sendDispatch(dispatch, seq, last);
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

  /** A guild on another node: its node dying makes the guild unavailable here (as on Discord during an outage). */
  private watchGuild(state: SessionState, guildId: string, guild: ActorRef<GuildProtocol>, self: ActorRef<SessionProtocol>): void {
    // Whatever was watched for it before (its previous home) is not where it runs now.
    this.unwatchGuild(state, guildId);
    if (guild.address.node === this.ctx.system.node) return;
    const monitors = (state.guildMonitors ??= new Map());
    monitors.set(
      guildId,
      this.ctx.system.monitor(guild, (reason) => {
        if (reason.type === 'nodedown') self.cast({ type: 'guild_lost', guildId, why: 'nodedown' });
      }),
    );
  }

  private unwatchGuild(state: SessionState, guildId: string): void {
    state.guildMonitors?.get(guildId)?.();
    state.guildMonitors?.delete(guildId);
  }

  private unwatchAll(state: SessionState): void {
    for (const unmonitor of state.guildMonitors?.values() ?? []) unmonitor();
    state.guildMonitors = undefined;
  }

  // Every way a guild joins a session (IDENTIFY, a guild made or joined while
  // connected, a guild back after an outage) comes through here, so the shard
  // rule is applied in one place. 'failed': worth trying again later.
  private async connectGuild(state: SessionState, guildId: string, self: ActorRef<SessionProtocol>): Promise<'ok' | 'refused' | 'failed'> {
    if (!this.onShard(guildId)) return 'refused';
    const { ctx, args } = this;
    let reached: ActorRef<GuildProtocol> | undefined;
    const reply = await askGuild(
      (id) => (reached = ctx.guild(id)),
      guildId,
      { type: 'connect', sessionId: args.sessionId, session: self, userId: this.userId, intents: this.intents, largeThreshold: args.largeThreshold, presence: args.presence },
      { timeoutMs: CONNECT_TIMEOUT_MS },
    ).catch((err: unknown) => {
      ctx.logger.warn({ err, guildId, sessionId: args.sessionId }, 'guild connect failed');
      return undefined;
    });
    if (!reply) return 'failed';
    if (!reply.ok) return 'refused';
    state.guildIds.add(guildId);
    if (reached) this.watchGuild(state, guildId, reached, self);
    this.send(state, new EncodedDispatch('GUILD_CREATE', reply.value));
    return 'ok';
  }

  /**
   * op 8. Only guilds this session has (a guild it is not in, or on another
   * shard, gets no answer, as on Discord); the guild selects, the chunks go out
   * in seq order like any dispatch.
   */
  private async requestMembers(state: SessionState, request: RequestGuildMembersData): Promise<void> {
    if (!state.guildIds.has(request.guild_id)) return;
    const { ctx, args } = this;
    const query = memberQueryFor(request, this.intents);
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

  /** What a guild (or this node) casts: the same whether it came straight here or through a forwarder. */
  private onGuildCast(state: SessionState, msg: HeldCast, actor: ActorContext<SessionProtocol>): void | Promise<void> {
    switch (msg.type) {
      case 'dispatch':
        // A guild's event, one per message: with nothing behind it in the mailbox (a paced stream of
        // broadcasts), the frame leaves at once; a run of them (a burst) still leaves in one write.
        this.send(state, msg.event, actor.waiting === 0);
        return;
      case 'guild_joined':
        // Async (as request_members): the mailbox waits for the connect, so GUILD_CREATE precedes that guild's events.
        return state.guildIds.has(msg.guildId) ? undefined : this.connectGuild(state, msg.guildId, actor.self).then(() => undefined);
      case 'guild_removed':
        this.unwatchGuild(state, msg.guildId);
        if (state.guildIds.delete(msg.guildId)) this.send(state, new EncodedDispatch('GUILD_DELETE', { id: msg.guildId }));
        return;
    }
  }

  /** A guild's marker came through the forwarder (or the guild was given up): release what waited once none is pending. */
  private async settle(state: SessionState, guildId: string, actor: ActorContext<SessionProtocol>): Promise<void> {
    const takeover = state.takeover;
    const released = takeover?.settle(guildId);
    if (released === undefined) return;
    takeover!.unmonitor();
    state.takeover = undefined;
    for (const msg of released) await this.onGuildCast(state, msg, actor);
  }

  /** The old session's side of a move: the resume state, then forward everything (session-handoff.ts). */
  private handOff(msg: Extract<SessionCall, { type: 'handoff' }>, state: SessionState, actor: ActorContext<SessionProtocol>): HandoffReply {
    const { args } = this;
    // A session still taking over (its own markers pending) or already moved cannot move again yet.
    if (msg.userId !== this.userId || state.forward || state.takeover) return { ok: false, outcome: 'invalid_session' };
    if (msg.seq > state.seq) return { ok: false, outcome: 'invalid_seq' };
    const missed = state.replay.after(msg.seq);
    if (!missed) return { ok: false, outcome: 'invalid_session' };
    state.cancelExpiry?.();
    state.cancelExpiry = undefined;
    state.connection?.close(4000, 'session resumed elsewhere');
    state.connection = undefined;
    const guildIds = [...state.guildIds];
    state.forward = new Forwarder(msg.to, guildIds);
    this.unwatchAll(state);
    if (state.forward.done) actor.stop();
    else actor.sendAfter(HANDOFF_LINGER_MS, { type: 'handoff_expired' });
    return {
      ok: true,
      state: {
        seq: state.seq,
        missed: missed.map((m) => m.dispatch),
        guildIds,
        intents: this.intents,
        shard: args.shard,
        largeThreshold: args.largeThreshold,
        presence: args.presence ?? null,
      },
    };
  }

  /** The new session's side: asks each candidate in turn; the one that has the session answers its state. */
  private async takeOver(msg: Extract<SessionCall, { type: 'take_over' }>, state: SessionState, actor: ActorContext<SessionProtocol>): Promise<ResumeOutcome> {
    for (const from of msg.candidates) {
      const reply = (await from.call({ type: 'handoff', to: actor.self, seq: msg.seq, userId: msg.userId }, { timeoutMs: HANDOFF_CALL_MS }).catch(() => undefined)) as HandoffReply | undefined;
      if (reply === undefined) continue; // not there, node down, or no answer in time: the next candidate
      if (!reply.ok) {
        actor.stop();
        return reply.outcome;
      }
      this.adopt(state, reply.state, from, msg.seq, msg.connection, actor);
      return 'resumed';
    }
    actor.stop();
    return 'invalid_session';
  }

  private adopt(state: SessionState, s: HandoffState, from: ActorRef<SessionProtocol>, clientSeq: number, connection: SessionSocket, actor: ActorContext<SessionProtocol>): void {
    const { ctx, args } = this;
    Object.assign(args, { shard: s.shard, largeThreshold: s.largeThreshold, presence: s.presence ?? undefined });
    this.intents = s.intents;
    state.replay.startAfter(clientSeq);
    s.missed.forEach((dispatch, i) => state.replay.push(clientSeq + 1 + i, dispatch));
    state.seq = s.seq;
    state.connection = connection;
    for (const { seq, dispatch } of state.replay.after(clientSeq) ?? []) connection.sendDispatch(dispatch, seq);
    this.send(state, new EncodedDispatch('RESUMED', {}));
    state.guildIds = new Set(s.guildIds);
    if (s.guildIds.length === 0) return;
    const takeover = (state.takeover = new Takeover(from, s.guildIds));
    const self = actor.self;
    // The old session dying mid-move (its node killed) takes what it had not forwarded with it: end this one
    // too, so the client re-identifies and catches up from history instead of missing events silently.
    takeover.unmonitor = ctx.system.monitor(from, (reason) => {
      if (reason.type === 'nodedown') self.cast({ type: 'guild_lost', guildId: '', why: 'old_node_down' });
      else for (const guildId of s.guildIds) self.cast({ type: 'guild_lost', guildId, why: 'old_gone' });
    });
    for (const guildId of s.guildIds) {
      askGuild((id) => ctx.guild(id), guildId, { type: 'swap', sessionId: args.sessionId, from, to: self }).then(
        (reply) => {
          if (reply.ok && (reply.value as { found: boolean }).found) return;
          // Not subscribed there any more (the guild restarted without it): connect afresh.
          ctx.logger.warn({ guildId, sessionId: args.sessionId, reply }, 'session handoff: guild swap found no subscription');
          self.cast({ type: 'guild_lost', guildId, why: 'not_swapped' });
        },
        (err: unknown) => {
          ctx.logger.warn({ err, guildId, sessionId: args.sessionId }, 'session handoff: guild swap failed');
          self.cast({ type: 'guild_lost', guildId, why: 'not_swapped' });
        },
      );
    }
  }

  /** A guild gone with its node, or one that could not be swapped: unavailable, then connect again. */
  private async guildLost(state: SessionState, msg: Extract<SessionCast, { type: 'guild_lost' }>, actor: ActorContext<SessionProtocol>): Promise<void> {
    if (msg.why === 'old_node_down') {
      if (!state.takeover) return;
      state.connection?.close(4000, 'session lost its previous node while moving');
      state.connection = undefined;
      actor.stop({ type: 'shutdown' });
      return;
    }
    // The old session stopped: only guilds whose marker never came are given up.
    if (msg.why === 'old_gone' && !state.takeover?.waitingFor.includes(msg.guildId)) return;
    await this.settle(state, msg.guildId, actor);
    this.unwatchGuild(state, msg.guildId);
    if (!state.guildIds.delete(msg.guildId)) return;
    this.ctx.logger.info({ guildId: msg.guildId, sessionId: this.args.sessionId, why: msg.why }, 'guild unavailable to a session: reconnecting');
    this.send(state, new EncodedDispatch('GUILD_DELETE', { id: msg.guildId, unavailable: true }));
    actor.sendAfter(GUILD_RETRY_MS, { type: 'reconnect_guild', guildId: msg.guildId, attempt: 1 });
  }

  init(actor: ActorContext<SessionProtocol>): SessionState {
    this.ctx.sessions.add(this.userId, this.args.sessionId, actor.self);
    return {
      seq: 0,
      replay: new ReplayBuffer(this.ctx.config.resumeBuffer),
      connection: this.args.connection,
      guildIds: new Set(),
      cancelExpiry: undefined,
      forward: undefined,
      takeover: undefined,
      guildMonitors: undefined,
    };
  }

  async handleCall(msg: SessionCall, state: SessionState, actor: ActorContext<SessionProtocol>): Promise<ResumeOutcome | HandoffReply | undefined> {
    const { ctx, args, userId } = this;
    if (msg.type === 'handoff') return this.handOff(msg, state, actor);
    if (msg.type === 'take_over') return this.takeOver(msg, state, actor);
    if (msg.type === 'identify') {
      const user = this.user;
      if (!user) return undefined; // identified already (the connection sends one identify per session)
      this.user = undefined;
      const guilds = (await ctx.store.listGuildsForUser(userId)).filter((g) => this.onShard(g.id));
      const gatewayUrl = ctx.publicUrl().replace(/^http/, 'ws') + '/gateway';
      this.send(
        state,
        new EncodedDispatch('READY', {
          v: GATEWAY_VERSION,
          user: toAPIUser(user),
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
    if (msg.userId !== userId || state.forward) return 'invalid_session';
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
  handleCast(msg: SessionCast, state: SessionState, actor: ActorContext<SessionProtocol>): void | Promise<void> {
    if (state.forward) {
      state.forward.forward(msg);
      if (state.forward.done) actor.stop();
      return;
    }
    if (isHeld(msg)) {
      if (state.takeover) return state.takeover.hold(msg);
      return this.onGuildCast(state, msg, actor);
    }
    switch (msg.type) {
      case 'forwarded': {
        const item = msg.item;
        if (item.kind === 'swapped') return this.settle(state, item.guildId, actor);
        if (item.kind === 'dispatch') return this.onGuildCast(state, { type: 'dispatch', event: item.dispatch }, actor);
        return this.onGuildCast(state, { type: item.kind, guildId: item.guildId }, actor);
      }
      case 'swapped':
        return; // a marker for a session that has not moved: nothing to order
      case 'guild_lost':
        return this.guildLost(state, msg, actor);
      case 'guild_home':
        if (state.guildIds.has(msg.guildId)) this.watchGuild(state, msg.guildId, msg.guild, actor.self);
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

  async handleInfo(msg: SessionInfo, state: SessionState, actor: ActorContext<SessionProtocol>): Promise<void> {
    switch (msg.type) {
      case 'resume_expired':
        if (!state.connection && !state.forward) actor.stop();
        return;
      case 'handoff_expired':
        // Some guild never sent its marker (it moved or died meanwhile); the new session gives it up on its own.
        actor.stop();
        return;
      case 'reconnect_guild': {
        if (state.forward || state.guildIds.has(msg.guildId)) return;
        const outcome = await this.connectGuild(state, msg.guildId, actor.self);
        if (outcome === 'failed' && msg.attempt < GUILD_RETRIES) actor.sendAfter(GUILD_RETRY_MS, { type: 'reconnect_guild', guildId: msg.guildId, attempt: msg.attempt + 1 });
        return;
      }
    }
  }

  terminate(reason: StopReason, state: SessionState | undefined): void {
    this.ctx.sessions.remove(this.userId, this.args.sessionId);
    if (!state) return;
    this.unwatchAll(state);
    state.takeover?.unmonitor();
    // Handed off: the guilds' subscriptions (same session id) belong to the new session now.
    if (state.forward) return;
    this.leaveGuilds(state);
    // A session that could not keep up (mailbox overflow) or crashed for good
    // closes its socket; the client's RESUME then gets INVALID_SESSION.
    if (state.connection && reason.type !== 'normal') state.connection.close(4000, reason.type === 'overflow' ? 'session overloaded' : 'session ended');
  }
}
